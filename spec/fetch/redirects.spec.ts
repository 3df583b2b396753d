// Credentials never follow a redirect set up by the caller's dispatcher: a session's own header
// (a Forge Containers view) is bound to one origin, and a token request carries secrets in its body.
import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import { TokenRequestError } from '../../lib/errors.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';
import { forgeContainerSession } from '../../lib/forge/forge-container-session.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { rejection } from '../support/secrets.js';

/** A server on 127.0.0.1 that answers every request with `status` and a Location of `to`. */
async function redirector(status: number, to: string): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { location: to, 'content-length': '0' }).end();
    });
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, hits: () => hits };
}

describe('redirects never carry credentials to another origin', () => {
  let emu: Emulator;
  let servers: Server[];
  let dispatchers: Dispatcher[];
  beforeEach(async () => {
    emu = await emulator();
    servers = [];
    dispatchers = [];
  });
  afterEach(async () => {
    await Promise.all(dispatchers.map((d) => d.close()));
    for (const s of servers) s.close();
    await emu.close();
  });

  it("sessionAuth over a redirect interceptor: a view's own header is not redirected; a bearer token is (undici strips it)", async () => {
    const away = await redirector(307, `${emu.url}/api/resource`);
    servers.push(away.server);
    const view = forgeContainerSession({ proxyUrl: away.url, installationId: 'inst' }).asApp();
    const viaView = new Agent().compose(interceptors.redirect({ maxRedirections: 2 }), sessionAuth(view));
    dispatchers.push(viaView);
    const res = await request(`${away.url}/jira/x`, { dispatcher: viaView });
    await res.body.dump();
    expect(res.statusCode).to.equal(307);
    expect(away.hits()).to.equal(1);
    expect(emu.requests()).to.deep.equal([]);

    // The same dispatcher shape with an Authorization session follows the redirect: the guard is the header's name.
    const session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo });
    const viaBearer = new Agent().compose(interceptors.redirect({ maxRedirections: 2 }), sessionAuth(session));
    dispatchers.push(viaBearer);
    const followed = await request(`${away.url}/jira/x`, { dispatcher: viaBearer });
    await followed.body.dump();
    expect(followed.statusCode).to.equal(401);
    const seen = emu.requests('resource');
    expect(seen).to.not.deep.equal([]);
    for (const r of seen) expect(r.headers.authorization).to.equal(undefined);
  });

  for (const status of [307, 308]) {
    it(`a token request is never redirected, even by the caller's redirect interceptor (${status})`, async () => {
      const away = await redirector(status, emu.tokenEndpoint);
      servers.push(away.server);
      const dispatcher = new Agent().compose(interceptors.redirect({ maxRedirections: 2 }));
      dispatchers.push(dispatcher);
      const session = sessionFor(emu, {
        tokenInfo: seed(emu, { expired: true }).tokenInfo,
        dispatcher,
        client: { tokenEndpoint: `${away.url}/token`, clientId: 'test-client', clientSecret: 'test-secret' },
      });
      const err = await rejection(session.getAccessToken());
      expect(err).to.be.instanceOf(TokenRequestError);
      expect((err as TokenRequestError).status).to.equal(status);
      expect(away.hits()).to.equal(1);
      expect(emu.counts.refresh).to.equal(0);
      expect(emu.requests()).to.deep.equal([]);
    });
  }
});
