import { expect } from 'chai';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE, authorizedFetch } from '../../lib/fetch/authorized-fetch.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';
import type { Emulator } from '../../lib/emulator/index.js';
import { ExpiredTokensError, InvalidArgumentError } from '../../lib/errors.js';
import type { PersistentSession } from '../../lib/session/persistent-session.js';
import { emulator, seed, sessionFor, token } from '../support/oauth.js';
import { expectNoSecrets, rejection } from '../support/secrets.js';
import { spied } from './support.js';
import { recordSeenTokens } from './table.js';

describe('authorizedFetch', () => {
  let emu: Emulator;
  let session: PersistentSession;
  let agent: Agent;
  beforeEach(async () => {
    emu = await emulator();
    session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo });
    agent = new Agent();
  });
  afterEach(async () => {
    recordSeenTokens(emu);
    await agent.close();
    await emu.close();
  });

  it(
    "reports the 401 as ExpiredTokensError(401) naming origin and path only, with the server's Date and the challenge's " + 'error',
    async () => {
      const old = await token(session);
      emu.revokeToken(old);
      const s = spied(session);
      const res = await authorizedFetch(s, `${emu.resourceUrl}?access_token=${old}&page=2`, { dispatcher: agent });
      expect(res.status).to.equal(200);
      expect(s.reported).to.have.length(1);
      const err = s.reported[0] as ExpiredTokensError & { serverDateMS?: number };
      expect(err).to.be.instanceOf(ExpiredTokensError);
      expect(err.code).to.equal('ERR_EXPIRED_TOKENS');
      expect(err.status).to.equal(401);
      expect(err.error).to.equal('invalid_token');
      expect(err.message).to.include(`401 from ${emu.resourceUrl}`);
      expect(err.message).to.not.include('page=2');
      expect(err.serverDateMS).to.be.a('number');
      expect(err.serverDateMS! % 1000).to.equal(0);
      expect(Math.abs(err.serverDateMS! - Date.now())).to.be.below(5_000);
      expect(Object.keys(err)).to.not.include('serverDateMS');
      expectNoSecrets(err, [old]);
    },
  );

  it("accepts Node's global Request (rebuilt for undici) and retries it when it has no body", async () => {
    emu.revokeToken(await token(session));
    const res = await authorizedFetch(session, new Request(emu.resourceUrl, { headers: { 'x-trace': 'abc' } }), { dispatcher: agent });
    expect(res.status).to.equal(200);
    expect(emu.counts.resource).to.equal(2);
    expect(emu.lastRequest('resource')!.headers['x-trace']).to.equal('abc');
  });

  it('does not retry a Request that carries a body, and says why', async () => {
    emu.revokeToken(await token(session));
    const req = new Request(`${emu.productApiUrl('c1')}/x`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    const res = await authorizedFetch(session, req, { dispatcher: agent });
    expect(res.status).to.equal(401);
    expect(res.headers.get(RETRY_HEADER)).to.equal(RETRY_SKIPPED_NOT_REPLAYABLE);
    expect(res.url).to.equal(`${emu.productApiUrl('c1')}/x`);
    expect(emu.counts.product).to.equal(1);
    expect(emu.lastRequest('product')!.body).to.deep.equal({ a: 1 });
  });

  it('returns the 401 of a body it cannot replay even when the report of the refused token fails (as sessionAuth does)', async () => {
    emu.revokeToken(await token(session));
    const failing = {
      getAccessToken: () => session.getAccessToken(),
      handleExpiredTokensError: async (): Promise<Error> => {
        throw new Error('store down');
      },
    };
    const req = new Request(`${emu.productApiUrl('c1')}/x`, { method: 'POST', body: '{"a":1}' });
    const res = await authorizedFetch(failing, req, { dispatcher: agent });
    expect(res.status).to.equal(401);
    expect(res.headers.get(RETRY_HEADER)).to.equal(RETRY_SKIPPED_NOT_REPLAYABLE);
    expect(await res.json()).to.have.property('error');
    const viaInterceptor = new Agent().compose(sessionAuth(failing));
    try {
      const stream = Readable.from([Buffer.from('{"a":1}')]);
      const res2 = await request(`${emu.productApiUrl('c1')}/x`, { method: 'POST', body: stream, dispatcher: viaInterceptor });
      expect(res2.statusCode).to.equal(401);
      expect(res2.headers[RETRY_HEADER]).to.equal(RETRY_SKIPPED_NOT_REPLAYABLE);
      expect(await res2.body.json()).to.have.property('error');
    } finally {
      await viaInterceptor.close();
    }
    expect(emu.counts.product).to.equal(2);
  });

  it('retries after a 401 whose body is too large to drain (it is cancelled instead)', async () => {
    emu.inject('resource', { status: 401, body: { error: 'invalid_token', pad: 'x'.repeat(200_000) } });
    const res = await authorizedFetch(session, emu.resourceUrl, { dispatcher: agent });
    expect(res.status).to.equal(200);
    expect(emu.counts.resource).to.equal(2);
    expect(emu.counts.refresh).to.equal(1);
  });

  it('does not retry once the caller has aborted', async () => {
    emu.revokeToken(await token(session));
    const controller = new AbortController();
    const s = spied(session);
    const report = s.handleExpiredTokensError.bind(s);
    s.handleExpiredTokensError = async (err) => {
      controller.abort();
      return report(err);
    };
    const err = await rejection(authorizedFetch(s, emu.resourceUrl, { dispatcher: agent, signal: controller.signal }));
    expect(err.name).to.equal('AbortError');
    expect(emu.counts.resource).to.equal(1);
  });

  it('rejects a session without the two methods, and a token that is not a string, before sending anything', async () => {
    const bad = await rejection(authorizedFetch({ getAccessToken: async () => 'x' } as never, emu.resourceUrl));
    expect(bad).to.be.instanceOf(InvalidArgumentError);
    expect((bad as InvalidArgumentError).code).to.equal('ERR_INVALID_ARG_VALUE');
    expect(bad.message).to.match(/handleExpiredTokensError/);
    const odd = { getAccessToken: async () => undefined as unknown as string, handleExpiredTokensError: async (e: Error) => e };
    const err = await rejection(authorizedFetch(odd, emu.resourceUrl, { dispatcher: agent }));
    expect(err).to.be.instanceOf(InvalidArgumentError);
    expect(err.message).to.match(/getAccessToken\(\)/);
    expect(emu.counts.resource).to.equal(0);
  });
});
