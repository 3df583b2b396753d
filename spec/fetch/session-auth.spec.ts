import { expect } from 'chai';
import { Agent, fetch, request, type Dispatcher } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import { ExpiredTokensError, InvalidArgumentError } from '../../lib/errors.js';
import { RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE } from '../../lib/fetch/auth-session.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';
import type { PersistentSession } from '../../lib/session/persistent-session.js';
import { emulator, seed, sessionFor, token } from '../support/oauth.js';
import { expectNoSecrets, rejection } from '../support/secrets.js';
import { deferred, spied } from './support.js';
import { recordSeenTokens } from './table.js';

describe('sessionAuth interceptor', () => {
  let emu: Emulator;
  let session: PersistentSession;
  const dispatchers: Dispatcher[] = [];
  const compose = (...args: Parameters<typeof sessionAuth>) => {
    const d = new Agent().compose(sessionAuth(...args));
    dispatchers.push(d);
    return d;
  };
  beforeEach(async () => {
    emu = await emulator();
    session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo });
  });
  afterEach(async () => {
    recordSeenTokens(emu);
    await Promise.all(dispatchers.splice(0).map((d) => d.close()));
    await emu.close();
  });

  it('validates its arguments when it is created', () => {
    for (const [args, field] of [
      [[{}], 'session'],
      [[null], 'session'],
      [[{ getAccessToken() {}, handleExpiredTokensError() {} }, { maxReplayBodyBytes: -1 }], 'maxReplayBodyBytes'],
    ] as const) {
      let caught: unknown;
      try {
        sessionAuth(...(args as unknown as Parameters<typeof sessionAuth>));
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(InvalidArgumentError);
      expect((caught as InvalidArgumentError).code).to.equal('ERR_INVALID_ARG_VALUE');
      expect((caught as InvalidArgumentError).field).to.equal(field);
    }
  });

  it("reports the 401 with origin and path only, and the server's Date", async () => {
    const old = await token(session);
    emu.revokeToken(old);
    const s = spied(session);
    const res = await request(`${emu.resourceUrl}?access_token=${old}`, { dispatcher: compose(s) });
    await res.body.text();
    expect(res.statusCode).to.equal(200);
    const err = s.reported[0] as ExpiredTokensError & { serverDateMS?: number };
    expect(err).to.be.instanceOf(ExpiredTokensError);
    expect(err.status).to.equal(401);
    expect(err.message).to.include(`401 from ${emu.resourceUrl}`);
    expect(err.message).to.not.include('?');
    expect(Math.abs(err.serverDateMS! - Date.now())).to.be.below(5_000);
    expectNoSecrets(err, [old]);
  });

  it('buffers a fetch body only up to maxReplayBodyBytes; a longer one is not retried', async () => {
    emu.revokeToken(await token(session));
    const dispatcher = compose(session, { maxReplayBodyBytes: 4 });
    const res = await fetch(`${emu.productApiUrl('c1')}/x`, {
      method: 'POST',
      body: '{"long":"enough"}',
      headers: { 'content-type': 'application/json' },
      dispatcher,
    });
    expect(res.status).to.equal(401);
    expect(res.headers.get(RETRY_HEADER)).to.equal(RETRY_SKIPPED_NOT_REPLAYABLE);
    expect(emu.counts.product).to.equal(1);
    expect(emu.lastRequest('product')!.body).to.deep.equal({ long: 'enough' });
    await res.arrayBuffer();
  });

  it('an abort while the token is being fetched fails the request without sending it', async () => {
    const held = deferred<string>();
    const slow = { getAccessToken: () => held.promise, handleExpiredTokensError: async (e: Error) => e };
    const controller = new AbortController();
    const pending = request(emu.resourceUrl, { dispatcher: compose(slow), signal: controller.signal });
    controller.abort();
    held.resolve(await token(session));
    const err = await rejection(pending);
    expect(err.name).to.equal('AbortError');
    expect(emu.counts.resource).to.equal(0);
  });

  it("passes a failing token request to the caller as the session's error", async () => {
    const failing = {
      getAccessToken: async () => {
        throw new ExpiredTokensError('No tokens for key "k"');
      },
      handleExpiredTokensError: async (e: Error) => e,
    };
    const err = await rejection(request(emu.resourceUrl, { dispatcher: compose(failing) }));
    expect(err).to.be.instanceOf(ExpiredTokensError);
    expect(emu.counts.resource).to.equal(0);
  });

  it('keeps the other request headers, in every shape undici accepts', async () => {
    const dispatcher = compose(session);
    for (const headers of [
      { 'X-One': '1', authorization: 'Basic Zm9vOmJhcg==' },
      ['x-one', '1', 'Authorization', 'Bearer nope'],
      [['x-one', '1']],
    ]) {
      const res = await request(emu.resourceUrl, { dispatcher, headers: headers as never });
      await res.body.text();
      expect(res.statusCode).to.equal(200);
      expect(emu.lastRequest('resource')!.headers['x-one']).to.equal('1');
      expect(emu.lastRequest('resource')!.headers.authorization).to.equal(`Bearer ${await session.getAccessToken()}`);
    }
    expect(emu.counts.resource).to.equal(3);
  });
});
