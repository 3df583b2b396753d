import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { InvalidArgumentError, SystemTokenExpiredError } from '../../../lib/errors.js';
import { createTokenStore, type KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { API_BASE_URL_SCOPE_PREFIX, DEFAULT_SYSTEM_TOKEN_NAMESPACE, SystemTokenCache } from '../../../lib/forge/system-token-cache.js';
import { UserSession } from '../../../lib/session/user-session.js';
import { forgeRemoteExchanger } from '../../../lib/forge/forge-remote-exchanger.js';
import { expectNoSecrets, recordSecret, rejection } from '../../support/secrets.js';
import { CLOUD_ID, FAST_RETRY, SITE, startForge, type Forge } from '../../session/user-session/support.js';

const INSTALLATION = 'ari:cloud:ecosystem::installation/inst-1';
const HOUR = 3_600_000;

/** An unsigned JWT with the given claims (the cache never verifies; it reads `exp`). */
function jwt(claims: Record<string, unknown>): string {
  const seg = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const token = `${seg({ alg: 'HS256', typ: 'JWT' })}.${seg(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
  recordSecret(token);
  return token;
}

describe('SystemTokenCache', () => {
  let forge: Forge | undefined;
  let dir: string;
  const stores: KeyvTokenStore[] = [];
  let clock: number;
  const now = () => clock;
  beforeEach(() => {
    clock = Date.now();
    dir = mkdtempSync(join(tmpdir(), 'system-token-cache-'));
  });
  afterEach(async () => {
    await forge?.emu.close();
    forge = undefined;
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  const sqlite = () => {
    const s = createTokenStore(`sqlite://${join(dir, 'tokens.sqlite')}`);
    stores.push(s);
    return s;
  };

  it('remembers a token with its expiry (JWT exp), arrival time and apiBaseUrl', async () => {
    const cache = new SystemTokenCache({ now });
    const exp = Math.floor(clock / 1000) + 3600;
    const token = jwt({ exp });
    expect(await cache.remember(INSTALLATION, token, { apiBaseUrl: `https://api.atlassian.com/ex/jira/${CLOUD_ID}` })).to.equal(true);
    expect(await cache.get(INSTALLATION)).to.deep.equal({
      token,
      apiBaseUrl: `https://api.atlassian.com/ex/jira/${CLOUD_ID}`,
      expiresAtMS: exp * 1000,
      receivedAtMS: clock,
    });
    expect(await cache.source(INSTALLATION)()).to.equal(token);
  });

  it('rejects an expired token with the documented message, and accepts a newer token for the same installation', async () => {
    const cache = new SystemTokenCache({ now });
    const arrived = clock;
    const first = jwt({ exp: Math.floor(clock / 1000) + 3600 });
    await cache.remember(INSTALLATION, first);
    clock += 3 * HOUR;
    const err = (await rejection(cache.get(INSTALLATION))) as SystemTokenExpiredError;
    expect(err).to.be.instanceOf(SystemTokenExpiredError).and.include({ code: 'ERR_SYSTEM_TOKEN_EXPIRED', installationId: INSTALLATION });
    expect(err.message).to.include(`the last token arrived at ${new Date(arrived).toISOString()} (3 h 0 min ago)`);
    expect(err.message).to.include('scheduled trigger (hourly)');
    expect(err.message).to.include(INSTALLATION);
    await rejection(cache.source(INSTALLATION)());
    const newer = jwt({ exp: Math.floor(clock / 1000) + 3600 });
    expect(await cache.remember(INSTALLATION, newer)).to.equal(true);
    expect((await cache.get(INSTALLATION)).token).to.equal(newer);
    expectNoSecrets([err, cache, inspect(cache), JSON.stringify(cache)], [first, newer]);
  });

  it('ignores a token that expires earlier than the one held, and keeps the apiBaseUrl when a newer one has none', async () => {
    const cache = new SystemTokenCache({ now });
    const later = jwt({ exp: Math.floor(clock / 1000) + 7200 });
    const earlier = jwt({ exp: Math.floor(clock / 1000) + 3600 });
    await cache.remember(INSTALLATION, later, { apiBaseUrl: 'https://api.atlassian.com/ex/jira/a' });
    expect(await cache.remember(INSTALLATION, earlier)).to.equal(false);
    expect((await cache.get(INSTALLATION)).token).to.equal(later);
    const latest = jwt({ exp: Math.floor(clock / 1000) + 9000 });
    expect(await cache.remember(INSTALLATION, latest)).to.equal(true);
    expect(await cache.get(INSTALLATION)).to.include({ token: latest, apiBaseUrl: 'https://api.atlassian.com/ex/jira/a' });
  });

  it('says when no token was ever remembered', async () => {
    const err = await rejection(new SystemTokenCache().get(INSTALLATION));
    expect(err).to.be.instanceOf(SystemTokenExpiredError).and.include({ code: 'ERR_NO_SYSTEM_TOKEN' });
    expect(err.message).to.include('No app system token was ever remembered').and.include('scheduled trigger (hourly)');
  });

  it('shares tokens through the store: another process reads token, expiry and apiBaseUrl', async () => {
    const writer = new SystemTokenCache({ tokenStore: sqlite(), now });
    const exp = Math.floor(clock / 1000) + 3600;
    const token = jwt({ exp });
    await writer.remember(INSTALLATION, token, { apiBaseUrl: 'https://api.atlassian.com/ex/confluence/c1' });
    const reader = new SystemTokenCache({ tokenStore: sqlite(), now });
    expect(await reader.get(INSTALLATION)).to.deep.equal({
      token,
      apiBaseUrl: 'https://api.atlassian.com/ex/confluence/c1',
      expiresAtMS: exp * 1000,
      receivedAtMS: clock,
    });
    const raw = await stores[1]!.read(`${DEFAULT_SYSTEM_TOKEN_NAMESPACE}:${INSTALLATION}`);
    expect({ ...raw }).to.deep.equal({
      accessToken: token,
      acquiredAtMS: clock,
      accessTokenTTLMS: exp * 1000 - clock,
      tokenType: 'Bearer',
      scope: `${API_BASE_URL_SCOPE_PREFIX}https://api.atlassian.com/ex/confluence/c1`,
    });
    // The reader hears of a newer token that arrived at the writer; an older one sent to the reader is ignored.
    const newer = jwt({ exp: exp + 3600 });
    await writer.remember(INSTALLATION, newer);
    expect(await reader.remember(INSTALLATION, token)).to.equal(false);
    expect((await reader.get(INSTALLATION)).token).to.equal(newer);
    const other = new SystemTokenCache({ tokenStore: stores[1]!, namespace: 'other-app', now });
    expect(await rejection(other.get(INSTALLATION))).to.include({ code: 'ERR_NO_SYSTEM_TOKEN' });
  });

  it('feeds a forgeRemoteExchanger, which fails before any request once the token has expired', async () => {
    forge = await startForge();
    const cache = new SystemTokenCache({ now });
    const issued = forge.emu.forge.issueSystemToken({ contextAri: SITE, installationId: INSTALLATION });
    recordSecret(issued);
    await cache.remember(INSTALLATION, issued, { apiBaseUrl: decodeJwt(issued).apiBaseUrl as string });
    const users = new UserSession({
      exchanger: forgeRemoteExchanger({
        systemToken: cache.source(INSTALLATION),
        contextAri: SITE,
        gatewayUrl: forge.emu.graphqlUrl,
        retry: FAST_RETRY,
      }),
    });
    recordSecret(await users.getAccessToken('alice'));
    expect(forge.emu.counts.mint).to.equal(1);
    clock += 2 * HOUR;
    const err = await rejection(users.getAccessToken('bob'));
    expect(err).to.include({ code: 'ERR_SYSTEM_TOKEN_EXPIRED' });
    expect(err.message).to.include('the last token arrived at');
    expect(forge.emu.counts.graphql).to.equal(1);
    expectNoSecrets(err, [issued]);
  });

  it('validates tokens and options, naming the field, without quoting the token', async () => {
    const cache = new SystemTokenCache({ now });
    const noExp = jwt({ sub: 'app' });
    const cases: Array<[Promise<unknown>, string]> = [
      [cache.remember(INSTALLATION, noExp), 'token'],
      [cache.remember(INSTALLATION, 'not-a-jwt-but-a-long-opaque-token'), 'token'],
      [cache.remember(INSTALLATION, ''), 'token'],
      [cache.remember('', jwt({ exp: Math.floor(clock / 1000) + 60 })), 'installationId'],
      [cache.remember(INSTALLATION, jwt({ exp: Math.floor(clock / 1000) + 60 }), { apiBaseUrl: 'nope' }), 'apiBaseUrl'],
      [cache.get(''), 'installationId'],
    ];
    for (const [p, field] of cases) {
      const err = await rejection(p);
      expect(err, field).to.be.instanceOf(InvalidArgumentError).and.include({ field });
      expectNoSecrets(err, [noExp, 'not-a-jwt-but-a-long-opaque-token']);
    }
    const expired = await rejection(cache.remember(INSTALLATION, jwt({ exp: Math.floor(clock / 1000) - 60 })));
    expect(expired).to.include({ code: 'ERR_SYSTEM_TOKEN_EXPIRED' });
    expect(() => cache.source('')).to.throw(InvalidArgumentError);
    expect(() => new SystemTokenCache({ namespace: '' }))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'namespace');
    expect(() => new SystemTokenCache({ ttl: 5 } as never))
      .to.throw(InvalidArgumentError)
      .with.property('field', 'options.ttl');
    expect(() => new SystemTokenCache({ tokenStore: {} as never }))
      .to.throw()
      .with.property('code', 'ERR_INVALID_TOKEN_STORE');
  });
});
