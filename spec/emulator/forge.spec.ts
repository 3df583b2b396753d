import { expect } from 'chai';
import { decodeJwt } from 'jose';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { fakeClock, INLINE_QUERY, mint, send } from './support.js';

const SITE = 'ari:cloud:jira::site/11111111-2222-3333-4444-555555555555';

describe('emulator: Forge gateway', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  function graphql(systemToken: string | undefined, body: string, contentType = 'application/json') {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (systemToken !== undefined) headers.authorization = `Bearer ${systemToken}`;
    return send(emulator.graphqlUrl, { method: 'POST', headers, body });
  }

  it('issues HS256 system tokens with the documented claims', async () => {
    const clock = fakeClock();
    emulator = await startEmulator();
    const token = emulator.forge.issueSystemToken({ installationId: 'inst-1', contextAri: SITE, ttlSeconds: 900 });
    const claims = decodeJwt(token);
    expect(claims).to.include({
      iss: emulator.url,
      installationId: 'inst-1',
      contextAri: SITE,
      iat: clock.now / 1000,
      exp: clock.now / 1000 + 900,
    });
    expect(claims.apiBaseUrl).to.equal(emulator.productApiUrl('11111111-2222-3333-4444-555555555555'));
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
  });

  it('mints a user token with the $input form, errors alternating null and []', async () => {
    emulator = await startEmulator({ forge: { userTokenTTLSeconds: 900 } });
    const system = emulator.forge.issueSystemToken({ contextAri: SITE });
    const first = await mint(emulator, system, [SITE], 'acct-1');
    expect(first.status).to.equal(200);
    const result = first.body.data.offlineUserAuthToken;
    expect(result.success).to.equal(true);
    expect(result.errors).to.equal(null);
    expect(result.authToken.token).to.match(/^ut_/);
    expect(result.authToken.ttl).to.equal(900);
    expect(first.body.extensions.gateway).to.include({ crossRegion: false, edgeCrossRegion: false });
    expect(first.body.extensions.gateway.trace_id).to.match(/^[0-9a-f]{32}$/);
    expect(first.body.extensions.gateway.request_id).to.match(/^[0-9a-f-]{36}$/);
    const second = await mint(emulator, system, [SITE], 'acct-1');
    expect(second.body.data.offlineUserAuthToken.errors).to.deep.equal([]);
    expect(emulator.forge.userTokenState(result.authToken.token)).to.equal('active');
    expect(emulator.counts).to.include({ graphql: 2, mint: 2 });
    expect(emulator.lastRequest('graphql')?.body.variables).to.deep.equal({ input: { contextIds: [SITE], userId: 'acct-1' } });
  });

  it('accepts the inline form', async () => {
    emulator = await startEmulator();
    const system = emulator.forge.issueSystemToken({ contextAri: SITE });
    const res = await graphql(system, JSON.stringify({ query: INLINE_QUERY, variables: { userId: 'acct-2', contextIds: [SITE] } }));
    expect(res.status).to.equal(200);
    expect(res.body.data.offlineUserAuthToken.success).to.equal(true);
    expect(emulator.counts.mint).to.equal(1);
  });

  it("answers success:false for a disallowed user, an unknown context or another installation's context", async () => {
    emulator = await startEmulator({ forge: { contexts: { 'ari:cloud:confluence::site/c2': ['acct-9'] } } });
    const system = emulator.forge.issueSystemToken({ installationId: 'inst-a', contextAri: SITE, users: ['acct-1'] });
    emulator.forge.issueSystemToken({ installationId: 'inst-b', contextAri: 'ari:cloud:jira::site/bbb' });
    const cases: Array<[string[], string]> = [
      [[SITE], 'acct-2'],
      [['ari:cloud:ecosystem::installation/x', SITE], 'acct-1'],
      [['ari:cloud:jira::site/bbb'], 'acct-1'],
    ];
    for (const [contextIds, userId] of cases) {
      const res = await mint(emulator, system, contextIds, userId);
      expect(res.status).to.equal(200);
      expect(res.body.data.offlineUserAuthToken).to.deep.equal({
        success: false,
        errors: [{ message: `Could not load permissions for app user in the provided contextIds of [${contextIds.join(', ')}]` }],
        authToken: null,
      });
      expect(res.body.extensions.gateway).to.have.property('request_id');
    }
    // Contexts from the options are open to every installation.
    expect((await mint(emulator, system, ['ari:cloud:confluence::site/c2'], 'acct-9')).body.data.offlineUserAuthToken.success).to.equal(
      true,
    );
    expect(emulator.counts.mint).to.equal(1);
  });

  it('answers 401 for missing, foreign, tampered and expired system tokens', async () => {
    const clock = fakeClock();
    emulator = await startEmulator();
    const elsewhere = await startEmulator();
    const foreign = elsewhere.forge.issueSystemToken({ contextAri: SITE });
    await elsewhere.close();
    const system = emulator.forge.issueSystemToken({ contextAri: SITE, ttlSeconds: 60 });
    const marked = emulator.forge.issueSystemToken({ contextAri: SITE });
    emulator.forge.expireSystemToken(marked);
    const [head, payload] = system.split('.');
    const forged = `${head}.${payload}.${Buffer.from('x'.repeat(32)).toString('base64url')}`;
    for (const token of [undefined, 'not-a-jwt', foreign, forged, marked]) {
      const res = await mint(emulator, token as string, [SITE], 'acct-1');
      expect(res.status, String(token)).to.equal(401);
    }
    expect((await mint(emulator, system, [SITE], 'acct-1')).status).to.equal(200);
    await clock.tickAsync(60_000);
    expect((await mint(emulator, system, [SITE], 'acct-1')).status).to.equal(401);
    expect(emulator.counts).to.include({ unauthorized: 6, mint: 1, graphql: 7 });
  });

  it('refuses a system token marked expired after it was verified once', async () => {
    emulator = await startEmulator();
    const system = emulator.forge.issueSystemToken({ contextAri: SITE });
    expect((await mint(emulator, system, [SITE], 'acct-1')).status).to.equal(200);
    emulator.forge.expireSystemToken(system);
    expect((await mint(emulator, system, [SITE], 'acct-1')).status).to.equal(401);
  });

  it('answers 400 GraphQL errors for bodies it cannot use', async () => {
    emulator = await startEmulator();
    const system = emulator.forge.issueSystemToken({ contextAri: SITE });
    const bodies = [
      '{not json',
      JSON.stringify({ query: '{ me { accountId } }' }),
      JSON.stringify({
        query: 'query { offlineUserAuthToken(input: $input) { success } }',
        variables: { input: { contextIds: [SITE], userId: 'a' } },
      }),
      JSON.stringify({ query: 'mutation M($input: OfflineUserAuthTokenInput!) { offlineUserAuthToken(input: $input) { success } }' }),
      JSON.stringify({
        query: 'mutation M { offlineUserAuthToken(input: $input) { success } }',
        variables: { input: { contextIds: [SITE], userId: 'a' } },
      }),
      JSON.stringify({ query: INLINE_QUERY, variables: { userId: 'a', contextIds: [] } }),
    ];
    for (const body of bodies) {
      const res = await graphql(system, body);
      expect(res.status, body).to.equal(400);
      expect(res.body.errors[0].message, body).to.be.a('string').that.is.not.empty;
    }
    expect(emulator.counts.mint).to.equal(0);
  });

  it('enforces the per-app mint budget in a sliding minute with Retry-After', async () => {
    const clock = fakeClock();
    emulator = await startEmulator({ forge: { mintsPerMinute: 2 } });
    const system = emulator.forge.issueSystemToken({ contextAri: SITE, ttlSeconds: 4 * 3600 });
    expect((await mint(emulator, system, [SITE], 'a')).status).to.equal(200);
    await clock.tickAsync(10_000);
    expect((await mint(emulator, system, [SITE], 'a')).status).to.equal(200);
    const limited = await mint(emulator, system, [SITE], 'a');
    expect(limited.status).to.equal(429);
    expect(limited.headers.get('retry-after')).to.equal('50');
    await clock.tickAsync(49_500);
    expect((await mint(emulator, system, [SITE], 'a')).headers.get('retry-after')).to.equal('1');
    await clock.tickAsync(500);
    expect((await mint(emulator, system, [SITE], 'a')).status).to.equal(200);
    expect(emulator.counts).to.include({ rateLimited: 2, mint: 3, graphql: 5 });
    emulator.forge.setMintsPerMinute(Number.POSITIVE_INFINITY);
    expect((await mint(emulator, system, [SITE], 'a')).status).to.equal(200);
    expect(() => emulator.forge.setMintsPerMinute(-1)).to.throw(TypeError, '`mintsPerMinute`');
  });
});

describe('emulator: product API', () => {
  let emulator: Emulator;
  const CLOUD = '11111111-2222-3333-4444-555555555555';

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  async function userToken(): Promise<string> {
    const system = emulator.forge.issueSystemToken({ contextAri: SITE });
    return (await mint(emulator, system, [SITE], 'acct-7')).body.data.offlineUserAuthToken.authToken.token;
  }

  function call(url: string, token?: string, method = 'GET') {
    return send(url, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  }

  it('serves a user token minted for the site, on any method', async () => {
    emulator = await startEmulator();
    const token = await userToken();
    const res = await call(`${emulator.productApiUrl(CLOUD)}/rest/api/3/myself?expand=groups`, token, 'PUT');
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({
      accountId: 'acct-7',
      cloudId: CLOUD,
      path: `/ex/jira/${CLOUD}/rest/api/3/myself?expand=groups`,
      method: 'PUT',
    });
    expect((await call(`${emulator.productApiUrl(CLOUD, 'confluence')}/wiki/api/v2/pages`, token)).status).to.equal(200);
    expect(emulator.counts.product).to.equal(2);
  });

  it('answers 401 for another site, expired, revoked, unknown or missing tokens', async () => {
    emulator = await startEmulator();
    const token = await userToken();
    expect((await call(`${emulator.productApiUrl('other-cloud')}/rest/api/3/myself`, token)).status).to.equal(401);
    const expired = await userToken();
    emulator.forge.expireUserToken(expired);
    expect(emulator.forge.userTokenState(expired)).to.equal('expired');
    const revoked = await userToken();
    emulator.forge.revokeUserToken(revoked);
    expect(emulator.tokenState(revoked)).to.equal('revoked');
    for (const bad of [expired, revoked, 'ut_unknown', undefined]) {
      const res = await call(`${emulator.productApiUrl(CLOUD)}/rest/api/3/myself`, bad);
      expect(res.status).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer realm="emulator"/);
    }
    expect(emulator.counts).to.include({ product: 5, unauthorized: 5 });
  });

  it('accepts OAuth access tokens too', async () => {
    emulator = await startEmulator();
    const { accessToken } = emulator.issueTokens({ subject: 'acct-oauth' });
    const res = await call(`${emulator.productApiUrl(CLOUD)}/rest/api/3/issue/X-1`, accessToken);
    expect(res.body).to.include({ accountId: 'acct-oauth', sub: 'acct-oauth', cloudId: CLOUD });
  });

  it('answers 404 JSON for unknown paths without logging them', async () => {
    emulator = await startEmulator();
    const res = await call(`${emulator.url}/nowhere`);
    expect(res.status).to.equal(404);
    expect(res.body.error).to.equal('not_found');
    expect(emulator.requests()).to.have.length(0);
  });
});
