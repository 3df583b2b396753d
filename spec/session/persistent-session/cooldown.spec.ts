// After a failed refresh a key cools down (refreshCooldownMS bounds an exponential backoff): callers get the
// still-valid token, or else the last error at once, and no request reaches the server. Requests are counted
// at the emulator; time is a sinon fake clock.
import { expect } from 'chai';
import type sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { TokenRequestError } from '../../../lib/errors.js';
import { realPause, useFakeClock } from '../../support/clock.js';
import { emulator, seed, sessionFor } from '../../support/oauth.js';
import { recordSecret, rejection } from '../../support/secrets.js';

const ONE_TRY = { maxAttempts: 1, baseDelayMS: 1, maxDelayMS: 1, timeoutMS: 2_000 };

describe('PersistentSession: cooldown after a failed refresh', () => {
  let emu: Emulator;
  let clock: sinon.SinonFakeTimers;
  beforeEach(async () => {
    clock = useFakeClock();
    emu = await emulator();
  });
  afterEach(async () => {
    clock.restore();
    await emu.close();
  });

  it('an expired token and a failing server: the last error at once, a bounded number of requests (no storm)', async () => {
    const { tokenInfo } = seed(emu, { expired: true });
    const session = sessionFor(emu, { tokenInfo, retry: ONE_TRY });
    emu.inject('token', { status: 503, times: 100_000 });
    const first = await rejection(session.getAccessToken());
    expect(first).to.be.instanceOf(TokenRequestError);
    expect(emu.counts.refresh).to.equal(1);
    // The same error object, at once, with no request, until the backoff (0.5 to 1 s) has passed.
    expect(await rejection(session.getAccessToken())).to.equal(first);
    expect(emu.counts.refresh).to.equal(1);
    // Five minutes of callers every 100 ms: 3,000 calls, every one rejected with a typed error.
    let rejected = 0;
    for (let t = 0; t < 300_000; t += 100) {
      const err = await rejection(session.getAccessToken());
      expect(err).to.be.instanceOf(TokenRequestError);
      rejected++;
      await realPause(0.2);
      await clock.tickAsync(100);
    }
    expect(rejected).to.equal(3_000);
    // 1 s doubling to the 30 s bound (50-100% jitter): at most 7 in the first 30 s, then one per 15-30 s.
    expect(emu.counts.refresh).to.be.within(10, 8 + 300 / 15);
  });

  it('a still-valid token in the hard buffer keeps serving during the cooldown', async () => {
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    const session = sessionFor(emu, { tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() - 3_600_000 + 120_000 }, retry: ONE_TRY });
    emu.inject('token', { status: 503, times: 2 });
    // 2 minutes left, inside the 3-minute buffer: the caller waits for the refresh, which fails.
    expect(await rejection(session.getAccessToken())).to.be.instanceOf(TokenRequestError);
    expect(emu.counts.refresh).to.equal(1);
    // During the cooldown: the held token, no request.
    expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(1);
    await clock.tickAsync(1_000);
    // The backoff is over: the next caller refreshes (fails once more), then the server is back.
    expect(await rejection(session.getAccessToken())).to.be.instanceOf(TokenRequestError);
    await clock.tickAsync(2_000);
    const next = await session.getAccessToken();
    recordSecret(next);
    expect(next).to.not.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(3);
  });

  it('refreshCooldownMS: 0 tries again on the next call', async () => {
    const { tokenInfo } = seed(emu, { expired: true });
    const session = sessionFor(emu, { tokenInfo, retry: ONE_TRY, refreshCooldownMS: 0 });
    emu.inject('token', { status: 503, times: 3 });
    for (let i = 1; i <= 3; i++) {
      await rejection(session.getAccessToken());
      expect(emu.counts.refresh).to.equal(i);
    }
    recordSecret(await session.getAccessToken());
  });
});
