import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { emulator } from '../../support/oauth.js';
import { fleetSweep, maxInWindow } from './fleet-sweep.js';

const REDIS_URI = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('SessionPool fleet-wide sweep (real child processes, one Redis store)', function () {
  this.timeout(120_000);
  let emu: Emulator;
  beforeEach(async () => {
    emu = await emulator({ rotateRefreshTokens: true, reuseDetection: true });
  });
  afterEach(() => emu.close());

  it('counts arrivals per sliding window', () => {
    expect(maxInWindow([0, 10, 999, 1000, 1500, 1999], 1000)).to.equal(3);
    expect(maxInWindow([0, 1, 2, 999, 1000], 1000)).to.equal(4);
    expect(maxInWindow([], 1000)).to.equal(0);
  });

  it('4 processes sweeping 1,000 stale grants refresh each exactly once, within the rate limit', async () => {
    const budget = 400;
    const windowMS = 1_000;
    const out = await fleetSweep(emu, { redisURI: REDIS_URI, grants: 1_000, workers: 4, budget, windowMS });
    for (const r of out.results) expect(r.exited, JSON.stringify(r)).to.equal(undefined);
    expect(out.refreshes).to.equal(1_000);
    expect(out.invalidGrant).to.equal(0);
    expect(out.results.reduce((n, r) => n + r.refreshed, 0)).to.equal(1_000);
    expect(out.results.reduce((n, r) => n + r.failed + r.dead, 0)).to.equal(0);
    expect(out.results.reduce((n, r) => n + r.skipped, 0)).to.equal(3_000);
    expect(out.maxPerWindow, 'most arrivals in any 1 s window').to.be.at.most(budget);
    expect(emu.grantStats()).to.include({ forkedFamilies: 0, lostGrants: 0, revokedFamilies: 0 });
  });
});
