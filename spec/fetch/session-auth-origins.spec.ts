// `sessionAuth({ origins })`: the token goes only to the listed origins; a request elsewhere passes
// through untouched (a dispatcher shared with other code, or a redirect, never leaks the token).
import { expect } from 'chai';
import { Agent, request, type Dispatcher } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';
import type { PersistentSession } from '../../lib/session/persistent-session.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { spied } from './support.js';
import { recordSeenTokens } from './table.js';

describe('sessionAuth interceptor: origins and options', () => {
  let api: Emulator;
  let other: Emulator;
  let session: PersistentSession;
  const dispatchers: Dispatcher[] = [];
  const compose = (...args: Parameters<typeof sessionAuth>) => {
    const d = new Agent().compose(sessionAuth(...args));
    dispatchers.push(d);
    return d;
  };
  const originOf = (emu: Emulator) => new URL(emu.resourceUrl).origin;
  beforeEach(async () => {
    [api, other] = [await emulator(), await emulator()];
    session = sessionFor(api, { tokenInfo: seed(api).tokenInfo });
  });
  afterEach(async () => {
    for (const emu of [api, other]) recordSeenTokens(emu);
    await Promise.all(dispatchers.splice(0).map((d) => d.close()));
    await Promise.all([api.close(), other.close()]);
  });

  it('attaches the token only for a listed origin; a request to another origin carries no Authorization header', async () => {
    const s = spied(session);
    const dispatcher = compose(s, { origins: [`${originOf(api)}/`] });
    const listed = await request(api.resourceUrl, { dispatcher });
    await listed.body.text();
    expect(listed.statusCode).to.equal(200);
    expect(api.lastRequest('resource')!.headers.authorization).to.match(/^Bearer /);

    const elsewhere = await request(other.resourceUrl, { dispatcher, headers: { 'x-mine': 'kept' } });
    await elsewhere.body.text();
    expect(elsewhere.statusCode).to.equal(401); // untouched: no token, no retry
    expect(other.counts.resource).to.equal(1);
    const seen = other.lastRequest('resource')!.headers;
    expect(seen.authorization).to.equal(undefined);
    expect(seen['x-mine']).to.equal('kept');
    expect(s.tokenCalls).to.equal(1);
    expect(s.reported).to.deep.equal([]);
  });

  it('compares normalised origins: case of the host and a default port do not matter, scheme and port do', async () => {
    const { port } = new URL(api.resourceUrl);
    const dispatcher = compose(session, { origins: [`HTTP://127.0.0.1:${port}`, 'https://api.example.com:443'] });
    const res = await request(api.resourceUrl, { dispatcher });
    await res.body.text();
    expect(api.lastRequest('resource')!.headers.authorization).to.match(/^Bearer /);
    const bare = compose(session, { origins: [`https://127.0.0.1:${port}`] });
    const res2 = await request(api.resourceUrl, { dispatcher: bare });
    await res2.body.text();
    expect(api.lastRequest('resource')!.headers.authorization).to.equal(undefined);
  });

  it('refuses unknown options and bad origins at creation, naming them', () => {
    const ok = { getAccessToken: async () => 't', handleExpiredTokensError: async (e: Error) => e };
    const cases: Array<[unknown, string]> = [
      [{ maxReplayBodybytes: 1 }, 'options.maxReplayBodybytes'],
      [{ origin: ['https://api.example.com'] }, 'options.origin'],
      [{ origins: 'https://api.example.com' }, 'origins'],
      [{ origins: ['https://api.example.com/v1'] }, 'origins[0]'],
      [{ origins: ['https://api.example.com', 'not a url'] }, 'origins[1]'],
      [{ origins: ['ftp://files.example.com'] }, 'origins[0]'],
      [{ origins: ['https://user:pw@api.example.com'] }, 'origins[0]'],
      [{ origins: [42] }, 'origins[0]'],
    ];
    for (const [options, field] of cases) {
      let caught: unknown;
      try {
        sessionAuth(ok, options as never);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(options)).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(caught, JSON.stringify(options)).to.have.property('field', field);
      expect((caught as Error).message).not.to.include('pw@');
    }
  });
});
