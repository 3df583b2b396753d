import { expect } from 'chai';
import sinon from 'sinon';
import { request } from 'undici';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { getResource, refresh, send } from './support.js';

describe('emulator: server, log and counters', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  it('listens on 127.0.0.1 with an ephemeral port and derives its URLs', async () => {
    emulator = await startEmulator();
    expect(emulator.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.url).to.not.match(/:0$/);
    expect(emulator.tokenEndpoint).to.equal(`${emulator.url}/oauth/token`);
    expect(emulator.revocationEndpoint).to.equal(`${emulator.url}/oauth/revoke`);
    expect(emulator.resourceUrl).to.equal(`${emulator.url}/api/resource`);
    expect(emulator.graphqlUrl).to.equal(`${emulator.url}/graphql`);
    expect(emulator.productApiUrl('c1')).to.equal(`${emulator.url}/ex/jira/c1`);
    expect(emulator.productApiUrl('c1', 'confluence')).to.equal(`${emulator.url}/ex/confluence/c1`);
  });

  it('logs requests newest last with parsed bodies, headers and final status', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    await refresh(emulator, issued.refreshToken, { scope: 'read' });
    await getResource(emulator, 'at_bad');
    const all = emulator.requests();
    expect(all.map((entry) => entry.endpoint)).to.deep.equal(['token', 'resource']);
    expect(all[0]).to.deep.include({ method: 'POST', path: '/oauth/token', status: 200 });
    expect(all[0]!.body).to.deep.equal({ grant_type: 'refresh_token', refresh_token: issued.refreshToken, scope: 'read' });
    expect(all[0]!.headers['content-type']).to.equal('application/x-www-form-urlencoded');
    expect(emulator.lastRequest('resource')).to.deep.include({ method: 'GET', path: '/api/resource', status: 401 });
    expect(emulator.requests('token')).to.have.length(1);
    expect(emulator.lastRequest('graphql')).to.equal(undefined);
  });

  it('keeps live counters and resets them in place', async () => {
    emulator = await startEmulator();
    const counts = emulator.counts;
    const issued = emulator.issueTokens();
    await refresh(emulator, issued.refreshToken);
    await refresh(emulator, issued.refreshToken);
    expect(counts).to.include({ token: 2, refresh: 2, invalidGrant: 1 });
    emulator.resetCounts();
    expect(emulator.counts).to.equal(counts);
    expect(Object.values(counts).every((value) => value === 0)).to.equal(true);
    await getResource(emulator);
    expect(counts.resource).to.equal(1);
  });

  it('lists families and finds them by any of their tokens', async () => {
    emulator = await startEmulator({
      clients: [
        { clientId: 'one', clientSecret: 's' },
        { clientId: 'two', clientSecret: 't' },
      ],
    });
    const a = emulator.issueTokens();
    const b = emulator.issueTokens({ clientId: 'two', scope: 'x' });
    expect(emulator.families().map((family) => [family.id, family.clientId])).to.deep.equal([
      [a.familyId, 'one'],
      [b.familyId, 'two'],
    ]);
    expect(emulator.family(b.accessToken)?.id).to.equal(b.familyId);
    expect(emulator.family(b.refreshToken)?.id).to.equal(b.familyId);
    expect(emulator.family('nope')).to.equal(undefined);
    expect(emulator.tokenState('nope')).to.equal('unknown');
    expect(() => emulator.issueTokens({ clientId: 'three' })).to.throw(TypeError, 'three');
  });

  it('closes idempotently and refuses connections afterwards', async () => {
    emulator = await startEmulator();
    const url = emulator.resourceUrl;
    await Promise.all([emulator.close(), emulator.close()]);
    let refused = false;
    try {
      await send(url);
    } catch {
      refused = true;
    }
    expect(refused).to.equal(true);
  });

  it('keeps the newest 10,000 requests in its log', async function () {
    this.timeout(20_000);
    emulator = await startEmulator();
    const url = new URL(emulator.resourceUrl);
    for (let i = 0; i < 10_500; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => request(`${url.href}?i=${i + j}`).then((r) => r.body.dump())));
    }
    const log = emulator.requests();
    expect(log).to.have.length(10_000);
    expect(log[0]!.path).to.equal(`${url.pathname}?i=500`);
    expect(log.at(-1)!.path).to.equal(`${url.pathname}?i=10499`);
    expect(emulator.lastRequest('resource')!.path).to.equal(`${url.pathname}?i=10499`);
    expect(emulator.requests('resource')).to.have.length(10_000);
  });

  it('answers 413 to a body over 1 MiB, and keeps serving on the same server', async () => {
    emulator = await startEmulator();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const big = await request(emulator.tokenEndpoint, { method: 'POST', headers: form, body: 'x'.repeat(2 * 1024 * 1024) });
    expect(big.statusCode).to.equal(413);
    expect(await big.body.json()).to.include({ error: 'invalid_request' });
    const next = await request(emulator.tokenEndpoint, {
      method: 'POST',
      headers: form,
      body: 'grant_type=refresh_token&refresh_token=unknown',
    });
    expect(next.statusCode).to.equal(401); // no client authentication: the server is still answering
    await next.body.dump();
  });
});
