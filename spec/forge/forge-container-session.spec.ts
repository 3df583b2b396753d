// Forge Containers mode, proven at the emulated egress sidecar: every request is counted with the
// credential headers it carried.
import { createServer } from 'node:http';
import { inspect } from 'node:util';
import { expect } from 'chai';
import sinon from 'sinon';
import { Agent, request } from 'undici';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import {
  InvalidArgumentError,
  TokenRequestError,
  authorizedFetch,
  createRateLimitQueue,
  forgeContainerSession,
  forgeInstallations,
  sessionAuth,
} from '../../lib/index.js';
import { fakeClock } from '../emulator/support.js';

const CLOUD = '5e5e5e5e-0000-1111-2222-333333333333';
const SITE = `ari:cloud:jira::site/${CLOUD}`;

describe('forgeContainerSession', () => {
  let emulator: Emulator;

  afterEach(async () => {
    sinon.restore();
    await emulator?.close();
  });

  async function setup(users: string[] | '*' = '*') {
    emulator = await startEmulator();
    const inst = emulator.egress.addInstallation({ contextAri: SITE, users });
    return { inst, forge: forgeContainerSession({ proxyUrl: emulator.egressProxyUrl, installationId: inst.id }) };
  }

  it('inside an invocation: one forge-proxy-authorization header per request, naming user and invocation, no Authorization', async () => {
    const { inst, forge } = await setup();
    const invocationId = emulator.egress.startInvocation({ installationId: inst.id, accountId: 'acct-invoker' });
    const asUser = await authorizedFetch(forge.forUser('acct-1', { invocationId }), `${forge.proxyUrl}/jira/rest/api/3/myself`, {
      headers: { authorization: 'Bearer caller-set', 'forge-proxy-authorization': 'Forge as=app,installationId=spoofed' },
    });
    expect(asUser.status).to.equal(200);
    expect(await asUser.json()).to.include({
      as: 'user',
      accountId: 'acct-1',
      installationId: inst.id,
      cloudId: CLOUD,
      path: '/rest/api/3/myself',
    });
    const asApp = await authorizedFetch(forge.asApp({ invocationId }), `${forge.proxyUrl}/confluence/wiki/rest/api/user/current`);
    expect(await asApp.json()).to.include({ as: 'app', accountId: null, installationId: inst.id });
    const log = emulator.egress.requests();
    expect(log.map((r) => r.proxyAuthorization)).to.deep.equal([
      [`Forge as=user,accountId=acct-1,id=${invocationId}`],
      [`Forge as=app,id=${invocationId}`],
    ]);
    expect(log.map((r) => r.authorization)).to.deep.equal([false, false]);
    expect(log.map((r) => r.via)).to.deep.equal(['invocation', 'invocation']);
  });

  it('offline as the app: the documented installation header', async () => {
    const { inst, forge } = await setup();
    const res = await authorizedFetch(forge.asApp(), `${forge.proxyUrl}/jira/rest/api/3/project`);
    expect(await res.json()).to.include({ as: 'app', installationId: inst.id });
    expect(emulator.egress.requests()[0]!.proxyAuthorization).to.deep.equal([`Forge as=app,installationId=${inst.id}`]);
  });

  it('a failed context lookup is forgotten without dropping the lookup that replaced it', async () => {
    emulator = await startEmulator();
    const forge = forgeContainerSession({ proxyUrl: emulator.egressProxyUrl, installationId: 'inst-late' });
    let retry: Promise<string> | undefined;
    // Both callers see the first lookup fail; the first one retries before the second one's handlers run.
    const first = forge.contextAri().then(
      () => undefined,
      () => {
        emulator.egress.addInstallation({ id: 'inst-late', contextAri: SITE });
        retry = forge.contextAri();
      },
    );
    const second = forge.contextAri().then(
      () => undefined,
      (e: unknown) => e,
    );
    await first;
    expect(await second).to.be.instanceOf(InvalidArgumentError);
    expect(retry).to.be.instanceOf(Promise);
    expect(forge.contextAri(), 'the retry is still the lookup held').to.equal(retry);
    expect(await retry).to.equal(SITE);
    expect(emulator.egress.requests().filter((r) => r.path.startsWith('/v1/installations'))).to.have.length(2);
  });

  it('offline as a user: one mint through the proxy as the app, then the user token, cached per user', async () => {
    const { inst, forge } = await setup();
    for (const account of ['acct-1', 'acct-2', 'acct-1', 'acct-1']) {
      const res = await authorizedFetch(forge.forUser(account), `${forge.proxyUrl}/jira/rest/api/3/myself`);
      expect(await res.json()).to.include({ as: 'user', accountId: account, installationId: inst.id });
    }
    const log = emulator.egress.requests();
    const mints = log.filter((r) => r.path.startsWith('/atlassian/graphql'));
    const lists = log.filter((r) => r.path.startsWith('/v1/installations'));
    const calls = log.filter((r) => r.path.startsWith('/jira/'));
    expect(lists, 'the context ARI is looked up once').to.have.length(1);
    const appHeader = [`Forge as=app,installationId=${inst.id}`];
    expect(mints.map((r) => r.proxyAuthorization)).to.deep.equal([appHeader, appHeader]);
    expect(calls.map((r) => [r.proxyAuthorization.length, r.authorization, r.via, r.accountId])).to.deep.equal([
      [0, true, 'token', 'acct-1'],
      [0, true, 'token', 'acct-2'],
      [0, true, 'token', 'acct-1'],
      [0, true, 'token', 'acct-1'],
    ]);
    expect(emulator.counts.mint).to.equal(2);
  });

  it('the undocumented installation form only when asked for', async () => {
    emulator = await startEmulator();
    const inst = emulator.egress.addInstallation({ contextAri: SITE });
    const forge = forgeContainerSession({
      proxyUrl: emulator.egressProxyUrl,
      installationId: inst.id,
      offlineUsers: 'installation-header',
    });
    const res = await authorizedFetch(forge.forUser('acct-3'), `${forge.proxyUrl}/jira/rest/api/3/myself`);
    expect(await res.json()).to.include({ as: 'user', accountId: 'acct-3' });
    expect(emulator.egress.requests().map((r) => r.proxyAuthorization)).to.deep.equal([
      [`Forge as=user,accountId=acct-3,installationId=${inst.id}`],
    ]);
    expect(emulator.counts.mint).to.equal(0);
  });

  it('a 401 from the proxy is retried once, never in a loop; unknown installations and accounts get 401', async () => {
    const { inst } = await setup(['acct-ok']);
    const stranger = forgeContainerSession({ proxyUrl: emulator.egressProxyUrl, installationId: 'not-installed' });
    const res = await authorizedFetch(stranger.asApp(), `${stranger.proxyUrl}/jira/rest/api/3/myself`);
    expect(res.status).to.equal(401);
    const forge = forgeContainerSession({
      proxyUrl: emulator.egressProxyUrl,
      installationId: inst.id,
      offlineUsers: 'installation-header',
    });
    expect((await authorizedFetch(forge.forUser('acct-not-allowed'), `${forge.proxyUrl}/jira/x`)).status).to.equal(401);
    expect((await authorizedFetch(forge.forUser('acct-ok'), `${forge.proxyUrl}/jira/x`)).status).to.equal(200);
    expect(emulator.egress.requests().map((r) => r.status)).to.deep.equal([401, 401, 401, 401, 200]);
  });

  it('a mint the proxy refuses (unknown installation) is a TokenRequestError of status 401, not a system-token error', async () => {
    emulator = await startEmulator();
    const forge = forgeContainerSession({ proxyUrl: emulator.egressProxyUrl, installationId: 'gone', contextAri: SITE });
    const err = await forge.users.getAccessToken('acct-1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TokenRequestError);
    expect((err as TokenRequestError).status).to.equal(401);
    expect(emulator.egress.requests().map((r) => r.status)).to.deep.equal([401]);
    const printed = { proxyUrl: emulator.egressProxyUrl, installationId: 'gone', offlineUsers: 'mint' };
    expect(inspect(forge)).to.equal(`ForgeContainerSession ${JSON.stringify(printed)}`);
  });

  it('never sends a credential to another origin: authorizedFetch refuses, sessionAuth passes the request untouched', async () => {
    const { inst, forge } = await setup();
    const invocationId = emulator.egress.startInvocation({ installationId: inst.id });
    const view = forge.forUser('acct-1', { invocationId });
    const refused = await authorizedFetch(view, `${emulator.url}/api/resource`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).to.be.instanceOf(InvalidArgumentError);
    const agent = new Agent().compose(sessionAuth(view));
    try {
      const elsewhere = await request(`${emulator.productApiUrl(CLOUD)}/rest/api/3/myself`, { dispatcher: agent });
      await elsewhere.body.text();
      expect(elsewhere.statusCode).to.equal(401);
      const through = await request(`${forge.proxyUrl}/jira/rest/api/3/myself`, { dispatcher: agent });
      expect(await through.body.json()).to.include({ accountId: 'acct-1' });
      // Offline user tokens stay on the proxy's origin too.
      const offline = new Agent().compose(sessionAuth(forge.forUser('acct-2')));
      const viaOffline = await request(`${emulator.productApiUrl(CLOUD)}/rest/api/3/myself`, { dispatcher: offline });
      await viaOffline.body.text();
      await offline.close();
    } finally {
      await agent.close();
    }
    for (const r of emulator.requests()) {
      expect(r.headers['forge-proxy-authorization'], r.path).to.equal(undefined);
      expect(r.headers.authorization, r.path).to.equal(undefined);
    }
    expect(emulator.requests('product')).to.have.length(2);
    expect(emulator.egress.requests().map((r) => r.proxyAuthorization)).to.deep.equal([
      [`Forge as=user,accountId=acct-1,id=${invocationId}`],
    ]);
  });

  it('a redirect to another origin is returned, not followed with the header', async () => {
    emulator = await startEmulator();
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { location: `${emulator.url}/api/resource` }).end();
    });
    await new Promise<void>((resolve) => {
      redirector.listen(0, '127.0.0.1', resolve);
    });
    try {
      const { port } = redirector.address() as { port: number };
      const forge = forgeContainerSession({ proxyUrl: `http://127.0.0.1:${port}`, installationId: 'inst' });
      const res = await authorizedFetch(forge.asApp(), `http://127.0.0.1:${port}/jira/x`);
      expect(res.status).to.equal(302);
      expect(emulator.requests()).to.deep.equal([]);
    } finally {
      redirector.close();
    }
  });

  it('stops with a TokenRequestError when the proxy hands out a cursor a second time', async () => {
    const asked: string[] = [];
    const looping = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ installations: [{ id: `inst-${asked.length}`, installationContext: SITE }], cursor: 'same' }));
    });
    await new Promise<void>((resolve) => {
      looping.listen(0, '127.0.0.1', resolve);
    });
    try {
      const { port } = looping.address() as { port: number };
      const err = await forgeInstallations({ proxyUrl: `http://127.0.0.1:${port}` }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TokenRequestError).and.have.property('code', 'ERR_TOKEN_REQUEST');
      expect((err as Error).message).to.match(/cursor/);
      expect(asked).to.deep.equal(['/v1/installations', '/v1/installations?cursor=same']);
    } finally {
      looping.close();
    }
  });

  it('takes the proxy from FORGE_EGRESS_PROXY_URL, and refuses to start without one', () => {
    const had = process.env.FORGE_EGRESS_PROXY_URL;
    try {
      process.env.FORGE_EGRESS_PROXY_URL = 'http://127.0.0.1:7072/';
      expect(forgeContainerSession({ installationId: 'inst' }).proxyUrl).to.equal('http://127.0.0.1:7072');
      delete process.env.FORGE_EGRESS_PROXY_URL;
      expect(() => forgeContainerSession({ installationId: 'inst' })).to.throw(InvalidArgumentError, /FORGE_EGRESS_PROXY_URL/);
    } finally {
      if (had === undefined) delete process.env.FORGE_EGRESS_PROXY_URL;
      else process.env.FORGE_EGRESS_PROXY_URL = had;
    }
  });

  it("lists every installation page by page, and keeps under the proxy's limit through the rate-limit queue", async () => {
    const clock = fakeClock();
    emulator = await startEmulator();
    emulator.egress.setInstallationsPerMinute(4);
    const ids = Array.from({ length: 10 }, (_, i) => emulator.egress.addInstallation({ id: `inst-${i}`, contextAri: SITE }).id);
    const forge = forgeContainerSession({
      proxyUrl: emulator.egressProxyUrl,
      installationId: 'inst-0',
      installationsQueue: createRateLimitQueue(4),
    });
    const listing = forge.installations({ pageSize: 1 });
    let done = false;
    void listing.then(() => {
      done = true;
    });
    // Real I/O and fake time interleaved: a second of fake time per turn of the event loop.
    for (let turns = 0; !done && turns < 5000; turns++) {
      await clock.tickAsync(1000);
      await new Promise((resolve) => {
        setImmediate(resolve);
      });
    }
    const all = await listing;
    // 10 pages at 4 a minute: the last ones had to wait two windows.
    expect(clock.now - 1_700_000_000_000).to.be.at.least(120_000);
    expect(all.map((i) => i.id)).to.deep.equal(ids);
    expect(all[0]).to.deep.equal({ id: 'inst-0', installationContext: SITE, version: '1.0.0', secondaryInstallationContexts: [] });
    const statuses = emulator.egress.requests().map((r) => r.status);
    expect(statuses).to.deep.equal(Array(10).fill(200));
  });

  it("without the queue, the same listing runs into the proxy's 429 (the test can fail)", async () => {
    emulator = await startEmulator();
    emulator.egress.setInstallationsPerMinute(4);
    for (let i = 0; i < 6; i++) emulator.egress.addInstallation({ contextAri: SITE });
    const statuses: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await fetch(`${emulator.egressProxyUrl}/v1/installations?pageSize=1${cursor === null ? '' : `&cursor=${cursor}`}`);
      statuses.push(res.status);
      if (res.status !== 200) break;
      cursor = ((await res.json()) as { cursor: string | null }).cursor;
    } while (cursor !== null);
    expect(statuses).to.deep.equal([200, 200, 200, 200, 429]);
  });
});
