// The OfflineTokenManager facade against the native API: the same scenario through both, against
// fresh emulators, must give the same results and the same request counts.
import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import {
  InvalidArgumentError,
  OfflineTokenManager,
  UserSession,
  authorizedFetch,
  forgeContainerSession,
  forgeRemoteExchanger,
} from '../../lib/index.js';
import { fakeClock } from '../emulator/support.js';
import { recordSecret } from '../support/secrets.js';

const CLOUD = '7a7a7a7a-0000-1111-2222-333333333333';
const SITE = `ari:cloud:jira::site/${CLOUD}`;

/** What a scenario needs from either API. */
interface Api {
  token(accountId: string): Promise<{ accessToken: string; expiresAt: number }>;
  invalidate(accountId: string): Promise<void>;
  call(accountId: string, url: string): Promise<Response>;
  url: string;
}

/** A worker's day: cached reads, a concurrent burst, an invalidation, the refresh buffer, API calls. Returns what it saw. */
async function scenario(api: Api, clock: sinon.SinonFakeTimers): Promise<unknown[]> {
  const seen: unknown[] = [];
  const start = Date.now();
  const a1 = await api.token('acct-a');
  recordSecret(a1.accessToken);
  seen.push(['expires in', a1.expiresAt - start]);
  seen.push(['cached', (await api.token('acct-a')).accessToken === a1.accessToken]);
  const burst = await Promise.all(Array.from({ length: 5 }, () => api.token('acct-b')));
  seen.push(['burst shares one token', new Set(burst.map((t) => t.accessToken)).size]);
  const res = await api.call('acct-a', `${api.url}/rest/api/3/myself`);
  seen.push(['call', res.status, ((await res.json()) as { accountId: string }).accountId]);
  await api.invalidate('acct-a');
  const a2 = await api.token('acct-a');
  seen.push(['after invalidate, new token', a2.accessToken !== a1.accessToken]);
  await clock.tickAsync(120_000 - 59_000); // less than refreshBufferSeconds (60) left
  const a3 = await api.token('acct-a');
  seen.push(['within the buffer, new token', a3.accessToken !== a2.accessToken, a3.expiresAt - Date.now()]);
  return seen;
}

describe('OfflineTokenManager (the @forge-clients/core calls) vs. the native API', () => {
  let emulator: Emulator;
  afterEach(async () => {
    sinon.restore();
    await emulator?.close();
  });

  async function remoteRun(facade: boolean): Promise<{ seen: unknown[]; counts: Record<string, number> }> {
    const clock = fakeClock();
    emulator = await startEmulator({ forge: { userTokenTTLSeconds: 120 } });
    const systemToken = emulator.forge.issueSystemToken({ contextAri: SITE, ttlSeconds: 3600 });
    recordSecret(systemToken);
    const exchange = forgeRemoteExchanger({ systemToken, contextAri: SITE, gatewayUrl: emulator.graphqlUrl });
    const url = emulator.productApiUrl(CLOUD);
    let api: Api;
    if (facade) {
      const tokens = new OfflineTokenManager({ exchanger: exchange });
      expect(tokens.refreshBufferSeconds).to.equal(60);
      api = {
        url,
        token: (acc) => tokens.getToken(acc),
        invalidate: (acc) => tokens.invalidate(acc),
        call: async (acc, u) => (await tokens.boundClient(acc)).fetch(u),
      };
    } else {
      const users = new UserSession({ exchanger: exchange, refreshBufferSeconds: 60 });
      const expiries = new Map<string, number>();
      users.on('mint', (e) => expiries.set(e.accountId, e.expiresAtMS));
      api = {
        url,
        token: async (acc) => ({ accessToken: await users.getAccessToken(acc), expiresAt: expiries.get(acc)! }),
        invalidate: (acc) => users.revokeTokens(acc),
        call: (acc, u) => authorizedFetch(users.forUser(acc), u),
      };
    }
    const seen = await scenario(api, clock);
    const counts = { graphql: emulator.counts.graphql, mint: emulator.counts.mint, product: emulator.counts.product };
    await emulator.close();
    sinon.restore();
    return { seen, counts };
  }

  it('over a Forge remote: same results, same mints and calls at the emulator', async () => {
    const facade = await remoteRun(true);
    const native = await remoteRun(false);
    expect(facade).to.deep.equal(native);
    expect(native.seen).to.deep.equal([
      ['expires in', 120_000],
      ['cached', true],
      ['burst shares one token', 1],
      ['call', 200, 'acct-a'],
      ['after invalidate, new token', true],
      ['within the buffer, new token', true, 120_000],
    ]);
    expect(native.counts).to.deep.equal({ graphql: 4, mint: 4, product: 1 });
  });

  async function containerRun(facade: boolean): Promise<{ seen: unknown[]; egress: unknown[] }> {
    const clock = fakeClock();
    emulator = await startEmulator({ forge: { userTokenTTLSeconds: 120 } });
    const inst = emulator.egress.addInstallation({ id: 'inst-1', contextAri: SITE });
    const url = `${emulator.egressProxyUrl}/jira`;
    let api: Api;
    if (facade) {
      const tokens = new OfflineTokenManager({ proxyUrl: emulator.egressProxyUrl, installationId: inst.id });
      api = {
        url,
        token: (acc) => tokens.getToken(acc),
        invalidate: (acc) => tokens.invalidate(acc),
        call: async (acc, u) => (await tokens.boundClient({ product: 'jira' }, acc)).fetch(u),
      };
      const client = await tokens.boundClient({ product: 'jira' }, 'acct-z');
      expect(client.adapter).to.deep.equal({ product: 'jira' });
      expect(client.authContext).to.include({ type: 'offlineUser', accountId: 'acct-z' });
      expect(Object.keys(client)).to.not.include('authContext');
      const res = await client.fetch(`${url}/rest/api/3/myself`);
      expect(await res.json()).to.include({ accountId: 'acct-z' });
      await tokens.invalidate('acct-z');
    } else {
      const forge = forgeContainerSession({ proxyUrl: emulator.egressProxyUrl, installationId: inst.id });
      const expiries = new Map<string, number>();
      forge.users.on('mint', (e) => expiries.set(e.accountId, e.expiresAtMS));
      api = {
        url,
        token: async (acc) => ({ accessToken: await forge.users.getAccessToken(acc), expiresAt: expiries.get(acc)! }),
        invalidate: (acc) => forge.users.revokeTokens(acc),
        call: (acc, u) => authorizedFetch(forge.forUser(acc), u),
      };
      const res = await authorizedFetch(forge.forUser('acct-z'), `${url}/rest/api/3/myself`);
      expect(await res.json()).to.include({ accountId: 'acct-z' });
      await forge.users.revokeTokens('acct-z');
    }
    const seen = await scenario(api, clock);
    const egress = emulator.egress
      .requests()
      .map((r) => [r.method, r.path.split('?')[0], r.proxyAuthorization, r.authorization, r.accountId ?? null]);
    await emulator.close();
    sinon.restore();
    return { seen, egress };
  }

  it('over a Forge container: same results, and the same requests at the egress proxy', async () => {
    const facade = await containerRun(true);
    const native = await containerRun(false);
    expect(facade).to.deep.equal(native);
    const mints = (native.egress as unknown[][]).filter((r) => r[1] === '/atlassian/graphql/');
    expect(mints).to.have.length(5);
    for (const m of mints) expect(m[2]).to.deep.equal(['Forge as=app,installationId=inst-1']);
  });

  it('boundClient(accountId) works without an adapter; a missing account is a typed error', async () => {
    emulator = await startEmulator();
    const systemToken = emulator.forge.issueSystemToken({ contextAri: SITE });
    recordSecret(systemToken);
    const exchange = forgeRemoteExchanger({ systemToken, contextAri: SITE, gatewayUrl: emulator.graphqlUrl });
    const tokens = new OfflineTokenManager({ exchanger: exchange, refreshBufferSeconds: 30 });
    expect(tokens.refreshBufferSeconds).to.equal(30);
    const client = await tokens.boundClient('acct-q');
    expect(client.adapter).to.equal(undefined);
    const res = await client.fetch(`${emulator.productApiUrl(CLOUD)}/rest/api/3/myself`);
    expect(await res.json()).to.include({ accountId: 'acct-q' });
    const t = await tokens.getToken('acct-q');
    expect(t.expiry).to.equal(Math.floor(t.expiresAt / 1000));
    await tokens.invalidateAll();
    expect(tokens.users.size).to.equal(0);
    const err = await tokens.boundClient({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InvalidArgumentError);
    expect(JSON.stringify(tokens)).to.not.include(t.accessToken);
  });
});
