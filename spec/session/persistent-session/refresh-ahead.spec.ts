// Refresh ahead: in the soft window (the last 25% of a token's lifetime by default) callers are served the
// held token at once while one refresh runs in the background; only inside the hard buffer do they wait.
// Requests are counted at the emulator; time is a sinon fake clock.
import { expect } from 'chai';
import type sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import type { RefreshErrorEvent } from '../../../lib/events.js';
import { PersistentSession } from '../../../lib/session/persistent-session.js';
import { refreshAheadFromMS } from '../../../lib/session/held-token.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { realPause, settle, useFakeClock, waitFor } from '../../support/clock.js';
import { emulator, seed, sessionFor } from '../../support/oauth.js';
import { recordSecret } from '../../support/secrets.js';

const HOUR = 3_600_000;

/** Whether `p` is already settled (a caller served at once does not wait for any I/O). */
async function settledAtOnce<T>(p: Promise<T>): Promise<boolean> {
  const s = settle(p);
  await Promise.resolve();
  await Promise.resolve();
  return s.done();
}

describe('PersistentSession: refresh ahead', () => {
  let emu: Emulator;
  let clock: sinon.SinonFakeTimers | undefined;
  beforeEach(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    await emu.close();
  });

  it('the soft window is the last 25% of the lifetime, never shorter than the hard buffer', () => {
    const info = { acquiredAtMS: 1_000_000, accessTokenTTLMS: HOUR };
    expect(refreshAheadFromMS(info, 180_000, 0.25)).to.equal(1_000_000 + 0.75 * HOUR);
    // A 10-minute token: 25% is 150 s, shorter than the 3-minute buffer: no soft window.
    const short = { acquiredAtMS: 1_000_000, accessTokenTTLMS: 600_000 };
    expect(refreshAheadFromMS(short, 180_000, 0.25)).to.equal(1_000_000 + 420_000);
    expect(refreshAheadFromMS(info, 180_000, 0)).to.equal(1_000_000 + HOUR - 180_000);
  });

  it('in the soft window, 200 callers are served the held token at once and exactly 1 refresh runs', async () => {
    clock = useFakeClock();
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    const store = new KeyvTokenStore();
    const session = sessionFor(emu, { tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() }, tokenStore: store });
    expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
    await clock.tickAsync(0.8 * HOUR); // soft window: 12 minutes left, hard buffer 3 minutes
    const calls = Array.from({ length: 200 }, () => session.getAccessToken());
    for (const c of calls) expect(await settledAtOnce(c)).to.equal(true);
    expect(new Set(await Promise.all(calls))).to.deep.equal(new Set([tokenInfo.accessToken]));
    await waitFor(() => emu.counts.refresh === 1, 'the background refresh');
    let next = tokenInfo.accessToken;
    for (let i = 0; i < 100 && next === tokenInfo.accessToken; i++) {
      await realPause();
      next = await session.getAccessToken();
    }
    recordSecret(next);
    expect(next).to.not.equal(tokenInfo.accessToken);
    expect(emu.tokenState(next)).to.equal('active');
    expect((await store.read('default'))?.accessToken).to.equal(next);
    expect(emu.counts.refresh).to.equal(1);
    // The new token is on the hot path again: no more refreshes.
    for (let i = 0; i < 50; i++) expect(await session.getAccessToken()).to.equal(next);
    expect(emu.counts.refresh).to.equal(1);
  });

  it('inside the hard buffer callers wait for the refresh (as without refresh ahead)', async () => {
    clock = useFakeClock();
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    const session = sessionFor(emu, { tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() } });
    await session.getAccessToken();
    await clock.tickAsync(HOUR - 120_000); // 2 minutes left: inside the 3-minute buffer
    const call = session.getAccessToken();
    expect(await settledAtOnce(call)).to.equal(false);
    const t = await call;
    recordSecret(t);
    expect(t).to.not.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(1);
  });

  it('a failing background refresh keeps the held token serving, reports refreshError and backs off (no storm)', async () => {
    clock = useFakeClock();
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    const session = sessionFor(emu, {
      tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() },
      retry: { maxAttempts: 1, baseDelayMS: 1, maxDelayMS: 1, timeoutMS: 2_000 },
    });
    const errors: RefreshErrorEvent[] = [];
    session.on('refreshError', (e) => errors.push(e));
    await session.getAccessToken();
    await clock.tickAsync(0.75 * HOUR + 1);
    emu.inject('token', { status: 503, times: 10_000 });
    // 10 minutes of the soft window, a caller every 100 ms: every one is served the held token at once.
    let served = 0;
    for (let t = 0; t < 600_000; t += 100) {
      const call = session.getAccessToken();
      expect(await settledAtOnce(call), `caller at +${t} ms`).to.equal(true);
      expect(await call).to.equal(tokenInfo.accessToken);
      served++;
      await realPause(0.2);
      await clock.tickAsync(100);
    }
    expect(served).to.equal(6_000);
    // Backoff doubling from 1 s (50-100% jitter) to 30 s: at most 7 tries in the first 30 s, then one per 15-30 s.
    expect(emu.counts.refresh).to.be.within(20, 7 + 600 / 15);
    expect(errors.length).to.equal(emu.counts.refresh);
    expect(errors.every((e) => e.code === 'ERR_TOKEN_REQUEST' && e.status === 503)).to.equal(true);
  });

  it('the next background refresh after a failure succeeds and replaces the token', async () => {
    clock = useFakeClock();
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    const session = sessionFor(emu, {
      tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() },
      retry: { maxAttempts: 1, baseDelayMS: 1, maxDelayMS: 1, timeoutMS: 2_000 },
    });
    await session.getAccessToken();
    await clock.tickAsync(0.75 * HOUR + 1);
    emu.inject('token', { status: 503, times: 1 });
    expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
    await waitFor(() => emu.counts.refresh === 1);
    await realPause(5);
    await clock.tickAsync(1_000); // past the first backoff (0.5 to 1 s)
    let next = await session.getAccessToken();
    for (let i = 0; i < 200 && next === tokenInfo.accessToken; i++) {
      await realPause();
      next = await session.getAccessToken();
    }
    recordSecret(next);
    expect(next).to.not.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(2);
  });

  it('refreshAheadRatio: 0 turns it off; values outside [0, 1) are refused', async () => {
    clock = useFakeClock();
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    const session = sessionFor(emu, { tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() }, refreshAheadRatio: 0 });
    await session.getAccessToken();
    await clock.tickAsync(0.8 * HOUR);
    expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
    await realPause(20);
    expect(emu.counts.refresh).to.equal(0);
    const client = { tokenEndpoint: emu.tokenEndpoint, clientId: 'id', clientSecret: 'secret' };
    for (const bad of [1, -0.1, Number.NaN]) {
      expect(() => new PersistentSession({ client, refreshAheadRatio: bad }))
        .to.throw(InvalidArgumentError)
        .with.property('field', 'refreshAheadRatio');
    }
    expect(() => new PersistentSession({ client, refreshCooldownMS: -1 }))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'refreshCooldownMS');
  });
});
