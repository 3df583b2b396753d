// Token-endpoint requests (lib/oauth/token-request.ts): a Retry-After, in either of its forms and on a 503 as on a
// 429, is waited out instead of the backoff; the backoff is jittered; an OAuth error answer is surfaced whole.
// Requests go to the emulator; time is a sinon fake clock.
import { expect } from 'chai';
import type sinon from 'sinon';
import type { Emulator } from '../../lib/emulator/index.js';
import { TokenRequestError } from '../../lib/errors.js';
import { OAuthClient, resolveClient } from '../../lib/oauth/oauth-client.js';
import { DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS, resolveRetryOptions } from '../../lib/oauth/retry-options.js';
import { backoffDelay } from '../../lib/oauth/token-request.js';
import { advanceUntil, realPause, settle, useFakeClock, waitFor } from '../support/clock.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { recordSecret, rejection } from '../support/secrets.js';

describe('token requests', () => {
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

  /** A client of the emulator whose own backoff is at most 40 ms, so that a wait of seconds can only be Retry-After's. */
  const client = (): OAuthClient =>
    new OAuthClient(
      resolveClient({ tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' }),
      undefined,
      resolveRetryOptions({ baseDelayMS: 10, maxDelayMS: 40 }),
    );

  describe('Retry-After (lesson 14)', () => {
    const cases: Array<[string, number, (nowMS: number) => number | string]> = [
      ['an HTTP-date on a 503', 503, (nowMS) => new Date(nowMS + 30_000).toUTCString()],
      ['an HTTP-date on a 429', 429, (nowMS) => new Date(nowMS + 30_000).toUTCString()],
      ['delta-seconds on a 503', 503, () => 30],
    ];
    for (const [what, status, retryAfter] of cases) {
      it(`waits out ${what} (30 s), not the backoff`, async () => {
        clock = useFakeClock();
        const { issued } = seed(emu);
        // The emulator's Date header is this fake time, in whole seconds (FAKE_NOW is one).
        const t0 = Date.now();
        emu.inject('token', { status, retryAfter: retryAfter(t0) });
        const call = settle(client().refresh(issued.refreshToken));
        await waitFor(() => emu.counts.refresh === 1, 'first attempt');
        await realPause(20); // the answer reaches the client, which starts waiting
        const secondAt = await advanceUntil(clock, () => emu.counts.refresh === 2, 31_000, 100);
        expect(secondAt, 'second attempt').to.not.equal(undefined);
        expect(secondAt! - t0).to.be.within(30_000, 30_500);
        await advanceUntil(clock, call.done, 1_000);
        const r = await call.result;
        expect(r.ok).to.equal(true);
        if (r.ok) recordSecret(r.value.accessToken, r.value.refreshToken);
        expect(emu.counts.refresh).to.equal(2);
      });
    }
  });

  describe('backoff (lesson 14)', () => {
    it('backoffDelay is jittered: over 1,000 runs per attempt the delays spread over 50 to 100% of the step', () => {
      const retry = resolveRetryOptions({});
      for (let attempt = 1; attempt <= 8; attempt++) {
        const step = Math.min(DEFAULT_MAX_DELAY_MS, DEFAULT_BASE_DELAY_MS * 2 ** (attempt - 1));
        const delays = Array.from({ length: 1_000 }, () => backoffDelay(attempt, retry));
        for (const d of delays) expect(d, `attempt ${attempt}`).to.be.within(step / 2, step);
        // A deterministic backoff gives one value; uniform jitter gives dozens, about half the step apart.
        expect(new Set(delays).size, `distinct delays of attempt ${attempt}`).to.be.greaterThan(50);
        expect(Math.max(...delays) - Math.min(...delays), `spread of attempt ${attempt}`).to.be.at.least(step / 4);
      }
    });
  });

  describe('OAuth errors (lesson 13)', () => {
    const body = { error: 'invalid_client', error_description: 'Wrong client secret' };
    for (const status of [400, 401]) {
      it(`a ${status} ${body.error} answer gives error, errorDescription and a message with both, without a retry`, async () => {
        const { issued } = seed(emu);
        emu.inject('token', { status, body });
        const err = (await rejection(client().refresh(issued.refreshToken))) as TokenRequestError;
        expect(err).to.be.instanceOf(TokenRequestError);
        expect(err).to.include({ code: 'ERR_TOKEN_REQUEST', status, error: 'invalid_client', errorDescription: 'Wrong client secret' });
        expect(err.transient).to.equal(false);
        expect(err.message).to.include('invalid_client').and.to.include('Wrong client secret');
        expect(emu.counts.refresh).to.equal(1);
        // A session hands its caller the same error.
        emu.inject('token', { status, body });
        const { tokenInfo } = seed(emu, { expired: true });
        const fromSession = (await rejection(sessionFor(emu, { tokenInfo }).getAccessToken())) as TokenRequestError;
        expect(fromSession).to.include({ status, error: 'invalid_client', errorDescription: 'Wrong client secret' });
        expect(fromSession.message).to.include('invalid_client').and.to.include('Wrong client secret');
      });
    }
  });
});
