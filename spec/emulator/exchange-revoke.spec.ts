import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { BASIC, getResource, postForm, refresh } from './support.js';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

describe('emulator: token exchange (RFC 8693)', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  function exchange(params: Record<string, string | string[]>) {
    return postForm(emulator.tokenEndpoint, { grant_type: EXCHANGE, subject_token_type: ACCESS, ...params });
  }

  it('issues an xt_ access token without a refresh token, accepted by the resource', async () => {
    emulator = await startEmulator({ users: ['alice', 'bob'] });
    const { accessToken } = emulator.issueTokens({ scope: 'read write' });
    const res = await exchange({
      subject_token: accessToken,
      scope: 'read',
      resource: 'https://api.example.com/v1',
      audience: 'api',
      requested_token_type: ACCESS,
      requested_subject: 'bob',
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.body).to.include({ issued_token_type: ACCESS, token_type: 'Bearer', expires_in: 3600, scope: 'read' });
    expect(res.body.access_token).to.match(/^xt_/);
    expect(res.body).to.not.have.property('refresh_token');
    const resource = await getResource(emulator, res.body.access_token);
    expect(resource.body).to.deep.equal({ ok: true, sub: 'bob', scope: 'read', clientId: 'test-client' });
    expect(emulator.tokenState(res.body.access_token)).to.equal('active');
    expect(emulator.counts).to.include({ token: 1, exchange: 1, refresh: 0 });
  });

  it('inherits the subject and scope of the subject token by default', async () => {
    emulator = await startEmulator();
    const { accessToken } = emulator.issueTokens({ scope: 'a b', subject: 'carol' });
    const res = await exchange({ subject_token: accessToken });
    expect(res.body.scope).to.equal('a b');
    expect((await getResource(emulator, res.body.access_token)).body.sub).to.equal('carol');
  });

  it('validates every parameter with the RFC 8693 error codes', async () => {
    emulator = await startEmulator({ users: ['alice'] });
    const { accessToken, refreshToken } = emulator.issueTokens({ scope: 'read' });
    const cases: Array<[Record<string, string | string[]>, string]> = [
      [{ subject_token_type: '' }, 'invalid_request'],
      [{ subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }, 'invalid_request'],
      [{ subject_token: '' }, 'invalid_request'],
      [{ subject_token: refreshToken }, 'invalid_request'],
      [{ scope: 'read write' }, 'invalid_scope'],
      [{ resource: '/relative' }, 'invalid_target'],
      [{ resource: 'https://api.example.com/#frag' }, 'invalid_target'],
      [{ actor_token: accessToken }, 'invalid_request'],
      [{ actor_token_type: ACCESS }, 'invalid_request'],
      [{ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, 'invalid_request'],
      [{ requested_subject: 'mallory' }, 'invalid_request'],
      [{ requested_subject: '' }, 'invalid_request'],
    ];
    for (const [params, error] of cases) {
      const res = await exchange({ subject_token: accessToken, ...params });
      expect(res.status, JSON.stringify(params)).to.equal(400);
      expect(res.body.error, JSON.stringify(params)).to.equal(error);
    }
    const ok = await exchange({
      subject_token: accessToken,
      actor_token: accessToken,
      actor_token_type: ACCESS,
      requested_subject: 'alice',
    });
    expect(ok.status).to.equal(200);
    expect(emulator.counts.exchange).to.equal(cases.length + 1);
    expect(emulator.counts.invalidGrant).to.equal(0);
  });

  it('refuses an expired subject token', async () => {
    emulator = await startEmulator();
    const { accessToken } = emulator.issueTokens();
    emulator.expireAccessToken(accessToken);
    const res = await exchange({ subject_token: accessToken });
    expect(res.body.error).to.equal('invalid_request');
  });
});

describe('emulator: revocation (RFC 7009) and the protected resource', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  it('revoking a refresh token revokes its family and its access tokens', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    const res = await postForm(emulator.revocationEndpoint, { token: issued.refreshToken, token_type_hint: 'refresh_token' });
    expect(res.status).to.equal(200);
    expect(res.text).to.equal('');
    expect(emulator.family(issued.familyId)?.revoked).to.equal(true);
    expect((await getResource(emulator, issued.accessToken)).status).to.equal(401);
    expect((await refresh(emulator, issued.refreshToken)).body.error).to.equal('invalid_grant');
    expect(emulator.counts.revoke).to.equal(1);
    expect(emulator.lastRequest('revoke')?.body).to.deep.equal({ token: issued.refreshToken, token_type_hint: 'refresh_token' });
  });

  it('revoking an access token revokes only itself', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    // A wrong hint is ignored, as RFC 7009 §2.1 asks.
    await postForm(emulator.revocationEndpoint, { token: issued.accessToken, token_type_hint: 'refresh_token' });
    expect(emulator.tokenState(issued.accessToken)).to.equal('revoked');
    expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
    expect((await refresh(emulator, issued.refreshToken)).status).to.equal(200);
  });

  it('answers 200 for unknown and already revoked tokens, 400 without a token, 401 without a client', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    expect((await postForm(emulator.revocationEndpoint, { token: 'rt_never_issued' })).status).to.equal(200);
    emulator.revokeToken(issued.accessToken);
    expect((await postForm(emulator.revocationEndpoint, { token: issued.accessToken })).status).to.equal(200);
    const missing = await postForm(emulator.revocationEndpoint, {});
    expect(missing.status).to.equal(400);
    expect(missing.body.error).to.equal('invalid_request');
    const anonymous = await postForm(emulator.revocationEndpoint, { token: issued.refreshToken }, {});
    expect(anonymous.status).to.equal(401);
    expect(anonymous.body.error).to.equal('invalid_client');
    expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
  });

  it("does not let a client revoke another client's token", async () => {
    emulator = await startEmulator({
      clients: [
        { clientId: 'test-client', clientSecret: 'test-secret' },
        { clientId: 'other', clientSecret: 'o' },
      ],
    });
    const issued = emulator.issueTokens({ clientId: 'other' });
    expect((await postForm(emulator.revocationEndpoint, { token: issued.refreshToken }, { authorization: BASIC })).status).to.equal(200);
    expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
  });

  it('answers 401 with RFC 6750 challenges and counts them', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    const none = await getResource(emulator);
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer realm="emulator"');
    emulator.expireAccessToken(issued.accessToken);
    const expired = await getResource(emulator, issued.accessToken);
    expect(expired.status).to.equal(401);
    expect(expired.headers.get('www-authenticate')).to.match(/^Bearer realm="emulator", error="invalid_token"/);
    expect(expired.body.error).to.equal('invalid_token');
    const unknown = await getResource(emulator, 'at_unknown');
    expect(unknown.status).to.equal(401);
    expect(emulator.counts).to.include({ resource: 3, unauthorized: 3 });
  });
});
