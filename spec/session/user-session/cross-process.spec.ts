import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createTokenStore, type KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { recordSecret } from '../../support/secrets.js';
import { SITE, accounts, startForge, userToken, type Forge } from './support.js';

const run = promisify(execFile);
const FIXTURE = 'spec/session/user-session/fixtures/get-tokens.ts';

interface ChildResult {
  tokens: Record<string, string>;
  mints: number;
  storeAdoptions: number;
}

describe('UserSession across processes (shared SQLite file)', function () {
  this.timeout(60_000);
  let forge: Forge;
  let dir: string;
  let store: KeyvTokenStore | undefined;
  beforeEach(async () => {
    forge = await startForge();
    dir = mkdtempSync(join(tmpdir(), 'user-session-xp-'));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await forge.emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function child(ids: string[]): Promise<ChildResult> {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        GATEWAY_URL: forge.emu.graphqlUrl,
        SYSTEM_TOKEN: forge.systemToken,
        CONTEXT_ARI: SITE,
        SQLITE_PATH: join(dir, 'tokens.sqlite'),
        ACCOUNTS: ids.join(','),
      },
    });
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
    recordSecret(...Object.values(result.tokens));
    return result;
  }

  it('a token minted by process A is used by process B without a new mint, and the other way round', async () => {
    store = createTokenStore(`sqlite://${join(dir, 'tokens.sqlite')}`);
    const a = forge.session({ tokenStore: store });
    const alice = await userToken(a, 'alice');
    expect(forge.emu.counts.mint).to.equal(1);
    const b = await child(['alice', 'bob']);
    expect(b.tokens.alice).to.equal(alice);
    expect(b).to.include({ mints: 1, storeAdoptions: 1 });
    expect(forge.emu.counts.mint).to.equal(2);
    // A process that never saw bob adopts the token B minted.
    const fresh = forge.session({ tokenStore: store });
    expect(await fresh.getAccessToken('bob')).to.equal(b.tokens.bob);
    expect(fresh.mints).to.equal(0);
    expect(forge.emu.counts.mint).to.equal(2);
  });

  it('three processes asking for the same 20 users at once mint each user once (store lock)', async () => {
    const ids = accounts(20);
    const results = await Promise.all([child(ids), child(ids), child([...ids].reverse())]);
    expect(forge.emu.counts.mint).to.equal(20);
    expect(results.reduce((n, r) => n + r.mints, 0)).to.equal(20);
    for (const id of ids) expect(new Set(results.map((r) => r.tokens[id])).size).to.equal(1);
  });
});
