import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createTokenStore } from '../../../lib/store/keyv-token-store.js';
import { recordSecret } from '../../support/secrets.js';
import { unavailable } from '../../support/services.js';
import { unreachable } from '../../store/helpers.js';
import { SITE, accounts, startForge, type Forge } from './support.js';

const run = promisify(execFile);
const FIXTURE = 'spec/session/user-session/fixtures/get-tokens.ts';
const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface ChildResult {
  tokens: Record<string, string>;
  mints: number;
  storeAdoptions: number;
}

describe('UserSession fleet through a shared Redis store (real child processes)', function () {
  this.timeout(60_000);
  let forge: Forge;
  before(async function () {
    const why = await unreachable(REDIS_URL);
    if (why !== undefined) unavailable(this, `Redis fleet test skipped: ${REDIS_URL} is unreachable (${why})`);
  });
  beforeEach(async () => {
    forge = await startForge();
  });
  afterEach(async () => {
    await forge.emu.close();
  });

  it('4 processes minting the same 50 accounts cause exactly 50 mints', async () => {
    const namespace = `fleet-${randomUUID()}`;
    const ids = accounts(50);
    const child = async (order: string[]): Promise<ChildResult> => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE], {
        env: {
          ...process.env,
          GATEWAY_URL: forge.emu.graphqlUrl,
          SYSTEM_TOKEN: forge.systemToken,
          CONTEXT_ARI: SITE,
          STORE_URI: REDIS_URL,
          STORE_NAMESPACE: namespace,
          ACCOUNTS: order.join(','),
        },
      });
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
      recordSecret(...Object.values(result.tokens));
      return result;
    };
    const shuffled = (seed: number) =>
      [...ids].sort((a, b) => ((a.charCodeAt(a.length - 1) * seed) % 13) - ((b.charCodeAt(b.length - 1) * seed) % 13));
    const results = await Promise.all([child(ids), child([...ids].reverse()), child(shuffled(3)), child(shuffled(7))]);
    expect(forge.emu.counts.mint).to.equal(50);
    expect(results.reduce((n, r) => n + r.mints, 0)).to.equal(50);
    for (const id of ids) {
      const seen = new Set(results.map((r) => r.tokens[id]));
      expect(seen.size, `all processes hold the same token for ${id}`).to.equal(1);
    }
    const store = createTokenStore(REDIS_URL, { namespace });
    const keys = await store.keys();
    expect(keys.filter((k) => !k.startsWith('lock'))).to.have.length(50);
    for (const k of keys) await store.clear(k);
    await store.close();
  });
});
