// Runs docs/examples/many-grants.ts, unchanged, as a child process against the emulator and a SQLite
// store this spec seeds, passing them through the environment variables the example reads.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { createTokenStore } from '../../../lib/store/keyv-token-store.js';
import { ROOT } from '../../cli/support.js';
import { emulator, seed } from '../../support/oauth.js';
import { recordOutput } from '../../support/secrets.js';

const run = promisify(execFile);
const DAY = 86_400_000;

describe('docs/examples/many-grants.ts against the emulator', () => {
  let emu: Emulator;
  let dir: string;
  beforeEach(async () => {
    emu = await emulator({ refreshTokenIdleTTLMS: 30 * DAY });
    dir = mkdtempSync(join(tmpdir(), 'ps-many-grants-'));
  });
  afterEach(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sweeps the stale grants once, reports the dead one, and serves customers from the pool', async function () {
    this.timeout(60_000);
    const uri = `sqlite://${join(dir, 'grants.sqlite')}`;
    const store = createTokenStore(uri);
    for (let i = 0; i < 61; i++) {
      const { tokenInfo } = seed(emu);
      await store.write(`customer:${i}`, { ...tokenInfo, acquiredAtMS: Date.now() - (i < 50 || i === 60 ? 2 * DAY : 60_000) });
      if (i === 60) emu.revokeToken(tokenInfo.refreshToken!);
    }
    await store.close();
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'docs/examples/many-grants.ts')], {
      cwd: ROOT,
      env: { ...process.env, TOKEN_ENDPOINT: emu.tokenEndpoint, RESOURCE_URL: emu.resourceUrl, STORE_URI: uri },
    });
    recordOutput(stdout);
    recordOutput(stderr);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).to.deep.equal([
      { swept: 61, refreshed: 50, skipped: 10, dead: ['customer:60'] },
      { key: 'customer:60', reauthorize: true },
      { statuses: [200, 200, 200], liveSessions: 4, cachedTokens: 3 },
    ]);
    expect(stderr).to.include('swept 61/61: 50 refreshed');
    // 50 stale grants once each; the dead one once: the sweep marks it dead in the store, and the session
    // asked for it later is refused from that marker without a request.
    expect(emu.counts.refresh).to.equal(51);
    expect(emu.counts.invalidGrant).to.equal(1);
    expect(emu.counts.resource).to.equal(3);
  });
});
