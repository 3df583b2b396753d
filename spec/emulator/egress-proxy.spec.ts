// The emulated Forge Containers egress proxy, spoken to directly: it counts every credential header,
// so that the client specs' "exactly one header" assertions can fail.
import { expect } from 'chai';
import { request } from 'undici';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';

const SITE = 'ari:cloud:jira::site/9c9c9c9c-0000-1111-2222-333333333333';

describe('emulator: Forge Containers egress proxy', () => {
  let emulator: Emulator;
  afterEach(async () => {
    await emulator?.close();
  });

  async function get(path: string, headers: string[] | Record<string, string>) {
    const res = await request(`${emulator.egressProxyUrl}${path}`, { headers });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  it('is an origin of its own, and counts every forge-proxy-authorization header: two are refused with 400', async () => {
    emulator = await startEmulator();
    expect(new URL(emulator.egressProxyUrl).origin).to.not.equal(new URL(emulator.url).origin);
    const inst = emulator.egress.addInstallation({ contextAri: SITE });
    const header = `Forge as=app,installationId=${inst.id}`;
    const twice = await get('/jira/rest/api/3/myself', ['forge-proxy-authorization', header, 'forge-proxy-authorization', header]);
    expect(twice.status).to.equal(400);
    const once = await get('/jira/rest/api/3/myself', { 'forge-proxy-authorization': header });
    expect(once).to.deep.equal({
      status: 200,
      body: {
        as: 'app',
        accountId: null,
        installationId: inst.id,
        cloudId: '9c9c9c9c-0000-1111-2222-333333333333',
        product: 'jira',
        path: '/rest/api/3/myself',
        method: 'GET',
      },
    });
    expect(emulator.egress.requests().map((r) => r.proxyAuthorization.length)).to.deep.equal([2, 1]);
  });

  it('impersonates within invocations and installations; 401 for unknown ones, unknown accounts and no credential', async () => {
    emulator = await startEmulator({ users: ['acct-1', 'acct-2'] });
    const inst = emulator.egress.addInstallation({ contextAri: SITE, users: ['acct-1'] });
    const inv = emulator.egress.startInvocation({ installationId: inst.id, accountId: 'acct-1' });
    const cases: Array<[string | undefined, number, unknown]> = [
      [`Forge as=user,id=${inv}`, 200, 'acct-1'],
      [`Forge as=user,accountId=acct-1,id=${inv}`, 200, 'acct-1'],
      [`Forge as=user,accountId=acct-2,id=${inv}`, 401, undefined],
      [`Forge as=app,id=${inv}`, 200, null],
      ['Forge as=app,id=no-such-invocation', 401, undefined],
      ['Forge as=app,installationId=no-such-installation', 401, undefined],
      ['Bearer something', 401, undefined],
      [undefined, 401, undefined],
    ];
    for (const [value, status, accountId] of cases) {
      const headers: Record<string, string> = value === undefined ? {} : { 'forge-proxy-authorization': value };
      const res = await get('/confluence/wiki/rest/api/user/current', headers);
      expect([value, res.status, res.body.accountId]).to.deep.equal([value, status, accountId]);
    }
    expect(emulator.counts.unauthorized).to.equal(5);
  });

  it('pages installations with a cursor and serves the invocation key set on the main origin', async () => {
    emulator = await startEmulator();
    const ids = [1, 2, 3].map((i) => emulator.egress.addInstallation({ id: `i-${i}`, contextAri: SITE }).id);
    const first = await get('/v1/installations?pageSize=2', {});
    expect((first.body.installations as Array<{ id: string }>).map((i) => i.id)).to.deep.equal(ids.slice(0, 2));
    const second = await get(`/v1/installations?pageSize=2&cursor=${String(first.body.cursor)}`, {});
    expect(second.body).to.deep.equal({
      installations: [{ id: 'i-3', installationContext: SITE, version: '1.0.0', secondaryInstallationContexts: [] }],
      cursor: null,
    });
    const jwks = await request(emulator.jwksUrl);
    const set = (await jwks.body.json()) as { keys: Array<Record<string, unknown>> };
    expect(set.keys).to.have.length(1);
    expect(set.keys[0]).to.include({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(set.keys[0]).to.not.have.any.keys('d', 'p', 'q');
  });
});
