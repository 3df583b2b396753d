// authorizedFetch and the sessionAuth interceptor honour the caller's signal while they wait for a
// token: an abort rejects that caller at once with the signal's reason, and the refresh the other
// callers share goes on. Time is fake; the emulator holds the token endpoint for 8 s.
import { expect } from 'chai';
import { Agent, fetch as undiciFetch, request } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import { authorizedFetch } from '../../lib/fetch/authorized-fetch.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';
import { advanceUntil, settle, useFakeClock } from '../support/clock.js';
import { emulator, seed, sessionFor as baseSessionFor } from '../support/oauth.js';

const TOKEN_DELAY_MS = 8_000;
const ABORT_AFTER_MS = 300;
const BOUND_MS = 400;

/** A session whose token request may take the 8 s (the suite's default attempt timeout is 2 s). */
const sessionFor: typeof baseSessionFor = (emu, options = {}) =>
  baseSessionFor(emu, { retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 15_000 }, ...options });

describe('fetch: an abort while waiting for a token', () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    await emu.close();
  });

  /** Starts `call` with a signal aborted after 300 ms (fake time), and `others` callers without one; returns when each settled. */
  async function race(call: (signal: AbortSignal) => Promise<unknown>, others: () => Promise<unknown>) {
    const clock = useFakeClock(Date.now());
    try {
      const started = Date.now();
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      setTimeout(() => controller.abort(reason), ABORT_AFTER_MS);
      const aborted = settle(call(controller.signal));
      const rest = settle(Promise.all([others(), others()]));
      const abortedAt = await advanceUntil(clock, aborted.done, TOKEN_DELAY_MS + 2_000, 50);
      expect(abortedAt, 'the aborted caller settled').to.not.equal(undefined);
      expect(rest.done(), 'the others still wait for the refresh').to.equal(false);
      const restAt = await advanceUntil(clock, rest.done, TOKEN_DELAY_MS + 2_000, 250);
      expect(restAt, 'the others settled').to.not.equal(undefined);
      return {
        reason,
        abortedAfterMS: abortedAt! - started,
        othersAfterMS: restAt! - started,
        aborted: await aborted.result,
        rest: await rest.result,
      };
    } finally {
      clock.restore();
    }
  }

  it('authorizedFetch: rejects with the reason within 400 ms; the other callers get their answers from the one refresh', async () => {
    const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true }).tokenInfo });
    emu.inject('token', { delayMS: TOKEN_DELAY_MS });
    const url = emu.resourceUrl;
    const r = await race(
      (signal) => authorizedFetch(session, url, { signal }),
      async () => (await authorizedFetch(session, url)).status,
    );
    expect(r.aborted).to.deep.equal({ ok: false, error: r.reason });
    expect(r.abortedAfterMS).to.be.within(ABORT_AFTER_MS, BOUND_MS);
    expect(r.othersAfterMS).to.be.at.least(TOKEN_DELAY_MS);
    expect(r.rest).to.deep.equal({ ok: true, value: [200, 200] });
    expect(emu.counts.refresh).to.equal(1);
  });

  it('authorizedFetch: an abort while the refused token is being reported (after a 401) rejects with the reason at once', async () => {
    const session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo });
    emu.revokeToken(await session.getAccessToken());
    const slowReport = {
      getAccessToken: () => session.getAccessToken(),
      handleExpiredTokensError: async (err: Error) => {
        await new Promise<void>((r) => {
          setTimeout(r, 3_000);
        });
        return session.handleExpiredTokensError(err);
      },
    };
    const clock = useFakeClock(Date.now());
    try {
      const started = Date.now();
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      setTimeout(() => controller.abort(reason), ABORT_AFTER_MS);
      const pending = settle(authorizedFetch(slowReport, emu.resourceUrl, { signal: controller.signal }));
      const at = await advanceUntil(clock, pending.done, 5_000, 50);
      expect(at! - started).to.be.within(ABORT_AFTER_MS, BOUND_MS);
      expect(await pending.result).to.deep.equal({ ok: false, error: reason });
      await advanceUntil(clock, () => false, 4_000, 250);
      expect(emu.counts.resource).to.equal(1);
    } finally {
      clock.restore();
    }
  });

  it('authorizedFetch with a Request that carries the signal behaves the same', async () => {
    const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true }).tokenInfo });
    emu.inject('token', { delayMS: TOKEN_DELAY_MS });
    const url = emu.resourceUrl;
    const r = await race(
      (signal) => authorizedFetch(session, new Request(url, { signal })),
      async () => (await authorizedFetch(session, url)).status,
    );
    expect(r.aborted).to.deep.equal({ ok: false, error: r.reason });
    expect(r.abortedAfterMS).to.be.within(ABORT_AFTER_MS, BOUND_MS);
    expect(r.rest).to.deep.equal({ ok: true, value: [200, 200] });
    expect(emu.counts.refresh).to.equal(1);
  });

  it('sessionAuth under undici.request: rejects with the reason within 400 ms; the others get 200 after the one refresh', async () => {
    const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true }).tokenInfo });
    emu.inject('token', { delayMS: TOKEN_DELAY_MS });
    const dispatcher = new Agent().compose(sessionAuth(session, { origins: [emu.url] }));
    try {
      const url = emu.resourceUrl;
      const r = await race(
        (signal) => request(url, { dispatcher, signal }),
        async () => {
          const res = await request(url, { dispatcher });
          await res.body.dump();
          return res.statusCode;
        },
      );
      expect(r.aborted.ok).to.equal(false);
      expect(r.abortedAfterMS).to.be.within(ABORT_AFTER_MS, BOUND_MS);
      expect(r.rest).to.deep.equal({ ok: true, value: [200, 200] });
      expect(emu.counts.refresh).to.equal(1);
    } finally {
      await dispatcher.close();
    }
  });

  it('sessionAuth under undici.fetch: rejects within 400 ms; the others get 200 after the one refresh', async () => {
    const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true }).tokenInfo });
    emu.inject('token', { delayMS: TOKEN_DELAY_MS });
    const dispatcher = new Agent().compose(sessionAuth(session, { origins: [emu.url] }));
    try {
      const url = emu.resourceUrl;
      const r = await race(
        (signal) => undiciFetch(url, { dispatcher, signal }),
        async () => {
          const res = await undiciFetch(url, { dispatcher });
          await res.arrayBuffer();
          return res.status;
        },
      );
      expect(r.aborted.ok).to.equal(false);
      expect(r.abortedAfterMS).to.be.within(ABORT_AFTER_MS, BOUND_MS);
      expect(r.rest).to.deep.equal({ ok: true, value: [200, 200] });
      expect(emu.counts.refresh).to.equal(1);
    } finally {
      await dispatcher.close();
    }
  });
});
