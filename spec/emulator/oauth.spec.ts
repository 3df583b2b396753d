import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { BASIC, basic, fakeClock, getResource, postForm, refresh, send } from './support.js';

describe('emulator: token endpoint and client authentication', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  it('refreshes with client_secret_basic, rotating the refresh token', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    const res = await refresh(emulator, issued.refreshToken);
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.body).to.include({ token_type: 'Bearer', expires_in: 3600, scope: 'read write' });
    expect(res.body.access_token).to.match(/^at_[A-Za-z0-9_-]{32}$/);
    expect(res.body.refresh_token).to.match(/^rt_/).and.not.equal(issued.refreshToken);
    expect(emulator.tokenState(issued.refreshToken)).to.equal('rotated');
    expect(emulator.tokenState(res.body.refresh_token)).to.equal('active');
    expect(emulator.family(res.body.access_token)).to.deep.include({
      id: issued.familyId,
      currentRefreshToken: res.body.refresh_token,
      refreshCount: 1,
      revoked: false,
    });
    expect((await getResource(emulator, res.body.access_token)).body).to.deep.equal({
      ok: true,
      sub: 'emulator-user',
      scope: 'read write',
      clientId: 'test-client',
    });
    expect(emulator.counts).to.include({ token: 1, refresh: 1, resource: 1 });
  });

  it('accepts client_secret_post and form-urlencoded Basic credentials', async () => {
    emulator = await startEmulator({ clients: [{ clientId: 'app one:1', clientSecret: 'p@ss word+/' }] });
    const issued = emulator.issueTokens();
    const post = await postForm(
      emulator.tokenEndpoint,
      { grant_type: 'refresh_token', refresh_token: issued.refreshToken, client_id: 'app one:1', client_secret: 'p@ss word+/' },
      {},
    );
    expect(post.status).to.equal(200);
    const viaBasic = await postForm(
      emulator.tokenEndpoint,
      { grant_type: 'refresh_token', refresh_token: post.body.refresh_token },
      { authorization: basic('app one:1', 'p@ss word+/') },
    );
    expect(viaBasic.status).to.equal(200);
    // Without the RFC 6749 §2.3.1 form-encoding, '+' decodes to a space and the secret is wrong.
    const raw = `Basic ${Buffer.from('app one:1:p@ss word+/').toString('base64')}`;
    const unencoded = await postForm(
      emulator.tokenEndpoint,
      { grant_type: 'refresh_token', refresh_token: viaBasic.body.refresh_token },
      { authorization: raw },
    );
    expect(unencoded.status).to.equal(401);
  });

  it('rejects two authentication methods at once with invalid_request', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    const res = await refresh(emulator, issued.refreshToken, { client_id: 'test-client', client_secret: 'test-secret' });
    expect(res.status).to.equal(400);
    expect(res.body.error).to.equal('invalid_request');
    expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
  });

  it('answers 401 invalid_client with a challenge for a wrong secret, an unknown client or none', async () => {
    emulator = await startEmulator();
    const { refreshToken } = emulator.issueTokens();
    const params = { grant_type: 'refresh_token', refresh_token: refreshToken };
    const answers = [
      await postForm(emulator.tokenEndpoint, params, { authorization: basic('test-client', 'nope') }),
      await postForm(emulator.tokenEndpoint, { ...params, client_id: 'who', client_secret: 'x' }, {}),
      await postForm(emulator.tokenEndpoint, params, {}),
      await postForm(emulator.tokenEndpoint, { ...params, client_id: 'test-client' }, {}),
    ];
    for (const res of answers) {
      expect(res.status).to.equal(401);
      expect(res.body.error).to.equal('invalid_client');
      expect(res.body.error_description).to.be.a('string');
      expect(res.headers.get('www-authenticate')).to.match(/^Basic realm=/);
    }
    expect(emulator.counts).to.include({ token: 4, refresh: 4 });
  });

  it('lets a public client send only its client_id', async () => {
    emulator = await startEmulator({ clients: [{ clientId: 'spa' }] });
    const { refreshToken } = emulator.issueTokens();
    const ok = await postForm(emulator.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'spa' }, {});
    expect(ok.status).to.equal(200);
    const withSecret = await postForm(
      emulator.tokenEndpoint,
      { grant_type: 'refresh_token', refresh_token: ok.body.refresh_token, client_id: 'spa', client_secret: 'x' },
      {},
    );
    expect(withSecret.status).to.equal(401);
  });

  it('refuses a refresh token presented by another client with invalid_grant', async () => {
    emulator = await startEmulator({
      clients: [
        { clientId: 'a', clientSecret: 'sa' },
        { clientId: 'b', clientSecret: 'sb' },
      ],
    });
    const { refreshToken } = emulator.issueTokens({ clientId: 'a' });
    const res = await postForm(
      emulator.tokenEndpoint,
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      { authorization: basic('b', 'sb') },
    );
    expect(res.status).to.equal(400);
    expect(res.body.error).to.equal('invalid_grant');
    expect(emulator.counts.invalidGrant).to.equal(1);
    expect(emulator.tokenState(refreshToken)).to.equal('active');
  });

  it('revokes the whole family when a rotated-out refresh token is replayed', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    const first = await refresh(emulator, issued.refreshToken);
    const replay = await refresh(emulator, issued.refreshToken);
    expect(replay.status).to.equal(400);
    expect(replay.body.error).to.equal('invalid_grant');
    expect(emulator.family(issued.familyId)).to.deep.include({ revoked: true, reuseDetected: true, currentRefreshToken: undefined });
    expect(emulator.tokenState(first.body.refresh_token)).to.equal('revoked');
    expect(emulator.tokenState(first.body.access_token)).to.equal('revoked');
    expect((await refresh(emulator, first.body.refresh_token)).body.error).to.equal('invalid_grant');
    expect((await getResource(emulator, issued.accessToken)).status).to.equal(401);
    expect(emulator.counts).to.include({ refresh: 3, invalidGrant: 2 });
  });

  it('without reuse detection a replayed token fails alone', async () => {
    emulator = await startEmulator({ reuseDetection: false });
    const issued = emulator.issueTokens();
    const first = await refresh(emulator, issued.refreshToken);
    expect((await refresh(emulator, issued.refreshToken)).body.error).to.equal('invalid_grant');
    expect(emulator.family(issued.familyId)?.revoked).to.equal(false);
    expect((await refresh(emulator, first.body.refresh_token)).status).to.equal(200);
  });

  it('returns the same refresh token when rotation is off', async () => {
    emulator = await startEmulator({ rotateRefreshTokens: false });
    const issued = emulator.issueTokens();
    const res = await refresh(emulator, issued.refreshToken);
    expect(res.body.refresh_token).to.equal(issued.refreshToken);
    expect((await refresh(emulator, issued.refreshToken)).status).to.equal(200);
    expect(emulator.family(issued.familyId)?.refreshCount).to.equal(2);
  });

  it('omits refresh_token with omitRefreshToken and keeps the old one valid', async () => {
    emulator = await startEmulator({ omitRefreshToken: true });
    const issued = emulator.issueTokens();
    const res = await refresh(emulator, issued.refreshToken);
    expect(res.status).to.equal(200);
    expect(res.body).to.not.have.property('refresh_token');
    expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
    expect((await refresh(emulator, issued.refreshToken)).status).to.equal(200);
  });

  it('narrows scope on refresh and refuses a wider one with invalid_scope', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens({ scope: 'read write admin' });
    const narrow = await refresh(emulator, issued.refreshToken, { scope: 'read' });
    expect(narrow.body.scope).to.equal('read');
    const wide = await refresh(emulator, narrow.body.refresh_token, { scope: 'read delete' });
    expect(wide.status).to.equal(400);
    expect(wide.body.error).to.equal('invalid_scope');
  });

  it('validates grant_type, content type and repeated parameters', async () => {
    emulator = await startEmulator();
    const { refreshToken } = emulator.issueTokens();
    expect((await postForm(emulator.tokenEndpoint, { grant_type: 'client_credentials' })).body.error).to.equal('unsupported_grant_type');
    expect((await postForm(emulator.tokenEndpoint, { refresh_token: refreshToken })).body.error).to.equal('invalid_request');
    expect(
      (await postForm(emulator.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: [refreshToken, refreshToken] })).body.error,
    ).to.equal('invalid_request');
    expect((await postForm(emulator.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: 'rt_nope' })).body.error).to.equal(
      'invalid_grant',
    );
    const asJson = await send(emulator.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    expect(asJson.status).to.equal(400);
    expect(asJson.body.error).to.equal('invalid_request');
    expect((await send(emulator.tokenEndpoint)).status).to.equal(405);
    expect(emulator.tokenState(refreshToken)).to.equal('active');
  });

  it('refuses refresh tokens of a family revoked behind the client', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.revokeToken(issued.refreshToken);
    expect(emulator.tokenState(issued.accessToken)).to.equal('revoked');
    expect((await refresh(emulator, issued.refreshToken)).body.error).to.equal('invalid_grant');
    expect(() => emulator.revokeToken('rt_unknown')).to.throw(/unknown token/);
  });

  it('rejects invalid options with precise messages', async () => {
    let failure: unknown;
    try {
      await startEmulator({ accessTokenTTLSeconds: -1 });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(TypeError);
    expect((failure as Error).message).to.equal('Expected `accessTokenTTLSeconds` to be a finite number >= 0, got `-1` (number)');
  });
});

describe('emulator: clock', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  it('sends a Date header from the offset clock', async () => {
    const clock = fakeClock();
    emulator = await startEmulator({ clockOffsetMS: -90_000 });
    const res = await getResource(emulator);
    expect(res.headers.get('date')).to.equal(new Date(clock.now - 90_000).toUTCString());
  });

  it('expires access tokens on the emulator clock', async () => {
    const clock = fakeClock();
    emulator = await startEmulator({ clockOffsetMS: 10_000 });
    const issued = emulator.issueTokens({ ttlSeconds: 60 });
    expect(issued.acquiredAtMS).to.equal(clock.now + 10_000);
    await clock.tickAsync(59_999);
    expect((await getResource(emulator, issued.accessToken)).status).to.equal(200);
    await clock.tickAsync(1);
    const expired = await getResource(emulator, issued.accessToken);
    expect(expired.status).to.equal(401);
    expect(emulator.tokenState(issued.accessToken)).to.equal('expired');
  });
});
