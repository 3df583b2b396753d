import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { expect } from 'chai';
import { request } from 'undici';
import type { Emulator } from '../../../lib/emulator/index.js';
import {
  ExpiredTokensError,
  InvalidArgumentError,
  InvalidTokenInfoError,
  InvalidTokenStoreError,
  type SessionError,
  TokenRequestError,
} from '../../../lib/errors.js';
import { KeyvTokenStore, createTokenStore } from '../../../lib/store/keyv-token-store.js';
import { PersistentSession } from '../../../lib/session/persistent-session.js';
import { advanceUntil, settle, useFakeClock, waitFor } from '../../support/clock.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';
import { jsonStore } from '../../support/json-store.js';
import { expectNoSecrets, recordSecret, rejection } from '../../support/secrets.js';

describe('PersistentSession', () => {
  let emu: Emulator;
  let dir: string;
  beforeEach(async () => {
    emu = await emulator();
    dir = mkdtempSync(join(tmpdir(), 'ps-session-'));
  });
  afterEach(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('getAccessToken', () => {
    it('serves a fresh token without any request or store read', async () => {
      const { tokenInfo } = seed(emu);
      const store = new KeyvTokenStore();
      let reads = 0;
      const read = store.read.bind(store);
      store.read = async (k) => {
        reads++;
        return read(k);
      };
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      expect(await token(session)).to.equal(tokenInfo.accessToken);
      const readsAfterFirst = reads;
      for (let i = 0; i < 100; i++) expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
      expect(reads).to.equal(readsAfterFirst);
      expect(emu.counts.token).to.equal(0);
    });

    it('500 concurrent callers on an expired token cause exactly 1 refresh and all get the same new token', async () => {
      const { tokenInfo, issued } = seed(emu, { expired: true });
      const store = createTokenStore(`sqlite://${join(dir, 'tokens.sqlite')}`);
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      const results = await Promise.allSettled(Array.from({ length: 500 }, () => session.getAccessToken()));
      expect(emu.counts.refresh).to.equal(1);
      const values = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
      expect(values.every((v) => typeof v === 'string')).to.equal(true);
      expect(new Set(values).size).to.equal(1);
      expect(values[0]).to.not.equal(issued.accessToken);
      expect(emu.tokenState(values[0] as string)).to.equal('active');
      expect(session.singleFlightJoins).to.be.at.least(499);
      recordSecret(values[0] as string);
      await store.close();
    });

    it('persists the rotated refresh token before the call resolves', async () => {
      const { tokenInfo, issued } = seed(emu, { expired: true });
      const store = createTokenStore(`sqlite://${join(dir, 'tokens.sqlite')}`);
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      const access = await token(session);
      const stored = await store.read('default');
      const family = emu.family(issued.familyId)!;
      expect(stored?.accessToken).to.equal(access);
      expect(stored?.refreshToken).to.equal(family.currentRefreshToken);
      expect(stored?.refreshToken).to.not.equal(issued.refreshToken);
      expect(emu.tokenState(issued.refreshToken)).to.equal('rotated');
      recordSecret(stored?.refreshToken);
      await store.close();
    });

    it('a second session on the same SQLite file adopts the rotated tokens without refreshing', async () => {
      const file = `sqlite://${join(dir, 'tokens.sqlite')}`;
      const { tokenInfo } = seed(emu, { expired: true });
      const storeA = createTokenStore(file);
      const a = sessionFor(emu, { tokenInfo, tokenStore: storeA });
      const tokenA = await token(a);
      await storeA.close();
      const storeB = createTokenStore(file);
      const b = sessionFor(emu, { tokenStore: storeB });
      expect(await token(b)).to.equal(tokenA);
      expect(emu.counts.refresh).to.equal(1);
      // And B can refresh with the rotated refresh token it read.
      const fresh = await token(b, { forceRefresh: true });
      expect(fresh).to.not.equal(tokenA);
      expect(emu.counts.refresh).to.equal(2);
      expect(emu.counts.invalidGrant).to.equal(0);
      await storeB.close();
    });

    it('keeps the old refresh token when the server sends none (RFC 6749 §6)', async () => {
      await emu.close();
      emu = await emulator({ omitRefreshToken: true });
      const { tokenInfo, issued } = seed(emu, { expired: true });
      const store = new KeyvTokenStore();
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      await token(session);
      expect((await store.read('default'))?.refreshToken).to.equal(issued.refreshToken);
      await token(session, { forceRefresh: true });
      expect(emu.counts.refresh).to.equal(2);
      expect(emu.counts.invalidGrant).to.equal(0);
    });

    it('rejects with ExpiredTokensError when the refresh token was reused, and never resolves with an Error', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      const a = sessionFor(emu, { tokenInfo, tokenStore: new KeyvTokenStore() });
      const b = sessionFor(emu, { tokenInfo, tokenStore: new KeyvTokenStore() });
      await token(a); // rotates the shared refresh token
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => b.getAccessToken()));
      expect(emu.counts.invalidGrant).to.equal(1);
      for (const r of results) {
        expect(r.status).to.equal('rejected');
        const reason = (r as PromiseRejectedResult).reason;
        expect(reason).to.be.instanceOf(ExpiredTokensError);
        expect(reason.code).to.equal('ERR_EXPIRED_TOKENS');
        expect(reason.error).to.equal('invalid_grant');
        expectNoSecrets(reason, [tokenInfo.refreshToken!, tokenInfo.accessToken]);
      }
      // Reuse detection revoked the whole family: A's next refresh is refused too.
      const err = await rejection(a.getAccessToken({ forceRefresh: true }));
      expect(err).to.be.instanceOf(ExpiredTokensError);
      // A dead refresh token is not sent again.
      const before = emu.counts.refresh;
      await rejection(a.getAccessToken({ forceRefresh: true }));
      expect(emu.counts.refresh).to.equal(before);
    });

    it('a store without TTL holding a well-formed but expired record: 1 refresh, the expired token not handed out (lesson 5)', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      const store = jsonStore();
      store.map.set('default', JSON.stringify(tokenInfo));
      const session = sessionFor(emu, { tokenStore: store });
      const tokens = await Promise.all(Array.from({ length: 20 }, () => token(session)));
      expect(tokens).to.not.include(tokenInfo.accessToken);
      expect(new Set(tokens).size).to.equal(1);
      expect(emu.tokenState(tokens[0]!)).to.equal('active');
      expect(emu.counts.refresh).to.equal(1);
      expect(JSON.parse(store.map.get('default')!).accessToken).to.equal(tokens[0]);
      expect(await token(session)).to.equal(tokens[0]);
      expect(emu.counts.refresh).to.equal(1);
    });

    it('rejects with ExpiredTokensError when there are no tokens at all', async () => {
      const session = sessionFor(emu);
      const err = await rejection(session.getAccessToken());
      expect(err).to.be.instanceOf(ExpiredTokensError);
      expect(err.message).to.match(/no tokens/i);
    });
  });

  describe('transient failures', () => {
    it('succeeds after a 503 by retrying, and leaves the store alone', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      const store = new KeyvTokenStore();
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      emu.inject('token', { status: 503 });
      await token(session);
      expect(emu.counts.refresh).to.equal(2);
      expect(await store.read('default')).to.not.equal(undefined);
    });

    it('waits out a 429 Retry-After: 2 (fake clock)', async () => {
      const clock = useFakeClock();
      const { tokenInfo } = seed(emu, { expired: true });
      const session = sessionFor(emu, { tokenInfo });
      emu.inject('token', { status: 429, retryAfter: 2 });
      const t0 = Date.now();
      const call = settle(session.getAccessToken());
      await waitFor(() => emu.counts.refresh === 1, 'first refresh');
      const secondAt = await advanceUntil(clock, () => emu.counts.refresh === 2, 3_000);
      expect(secondAt, 'second attempt').to.not.equal(undefined);
      expect(secondAt! - t0).to.be.within(2_000, 2_200);
      await advanceUntil(clock, call.done, 1_000);
      const r = await call.result;
      expect(r.ok).to.equal(true);
      expect(emu.counts.refresh).to.equal(2);
    });

    it('times out a hanging server with a typed error and keeps the store', async () => {
      const clock = useFakeClock();
      const { tokenInfo } = seed(emu, { expired: true });
      const store = new KeyvTokenStore();
      await store.write('default', tokenInfo);
      const session = sessionFor(emu, { tokenStore: store, retry: { maxAttempts: 2, baseDelayMS: 10, maxDelayMS: 10, timeoutMS: 1_000 } });
      emu.inject('token', { hang: true, times: 2 });
      const call = settle(session.getAccessToken());
      await clock.tickAsync(1_000);
      expect(call.done()).to.equal(false);
      await clock.tickAsync(1_100);
      const r = await call.result;
      expect(r.ok).to.equal(false);
      const err = (r as { error: TokenRequestError }).error;
      expect(err).to.be.instanceOf(TokenRequestError);
      expect(err.code).to.equal('ERR_TOKEN_REQUEST');
      expect(err.transient).to.equal(true);
      expect(err.message).to.match(/timed out/);
      expect(emu.counts.refresh).to.equal(2);
      expect((await store.read('default'))?.refreshToken).to.equal(tokenInfo.refreshToken);
    });

    it('retries malformed JSON and connection resets', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      const session = sessionFor(emu, { tokenInfo });
      emu.inject('token', { malformed: true }, { reset: true });
      await token(session);
      expect(emu.counts.refresh).to.equal(3);
    });

    it('gives up after maxAttempts of 5xx with TokenRequestError, and keeps the tokens', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      const store = new KeyvTokenStore();
      await store.write('default', tokenInfo);
      // No cooldown, so that the next call may try again at once (the cooldown has its own spec: cooldown.spec.ts).
      const session = sessionFor(emu, {
        tokenStore: store,
        retry: { maxAttempts: 3, baseDelayMS: 1, maxDelayMS: 2 },
        refreshCooldownMS: 0,
      });
      emu.inject('token', { status: 502, times: 3 });
      const err = await rejection(session.getAccessToken());
      expect(err).to.be.instanceOf(TokenRequestError);
      expect((err as TokenRequestError).status).to.equal(502);
      expect(emu.counts.refresh).to.equal(3);
      expect(await session.handleExpiredTokensError(err)).to.equal(err);
      expect((await store.read('default'))?.refreshToken).to.equal(tokenInfo.refreshToken);
      // The next call works again.
      await token(session);
    });

    it('does not retry a client error, and surfaces the OAuth error fields', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      const session = new PersistentSession({
        tokenInfo,
        client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'wrong-secret' },
      });
      const err = (await rejection(session.getAccessToken())) as TokenRequestError;
      expect(err).to.be.instanceOf(TokenRequestError);
      expect(err.status).to.equal(401);
      expect(err.error).to.equal('invalid_client');
      expect(emu.counts.token).to.equal(1);
    });
  });

  describe('client authentication', () => {
    for (const authMethod of ['client_secret_basic', 'client_secret_post'] as const) {
      it(`refreshes with ${authMethod}`, async () => {
        const { tokenInfo } = seed(emu, { expired: true });
        const session = sessionFor(emu, {
          tokenInfo,
          client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret', authMethod },
        });
        await token(session);
        const req = emu.lastRequest('token')!;
        if (authMethod === 'client_secret_basic') {
          expect(String(req.headers.authorization)).to.match(/^Basic /);
          expect(req.body.client_secret).to.equal(undefined);
        } else {
          expect(req.headers.authorization).to.equal(undefined);
          expect(req.body.client_secret).to.equal('test-secret');
        }
      });
    }
  });

  describe('exchangeToken', () => {
    it('sends the RFC 8693 parameters and returns a TokenInfo without storing it', async () => {
      const { tokenInfo } = seed(emu, { scope: 'read write' });
      const store = new KeyvTokenStore();
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      await token(session);
      const exchanged = await session.exchangeToken(['read'], 'https://api.example');
      recordSecret(exchanged.accessToken);
      const req = emu.lastRequest('token')!;
      expect(req.status).to.equal(200);
      expect(req.body).to.include({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        scope: 'read',
        resource: 'https://api.example',
      });
      expect(exchanged.accessToken).to.not.equal(tokenInfo.accessToken);
      expect(exchanged.scope).to.equal('read');
      expect(exchanged.refreshToken).to.equal(undefined);
      expect((await store.read('default'))?.accessToken).to.equal(tokenInfo.accessToken);
      expect(await token(session)).to.equal(tokenInfo.accessToken);
      const res = await request(emu.resourceUrl, { headers: { authorization: `Bearer ${exchanged.accessToken}` } });
      await res.body.dump();
      expect(res.statusCode).to.equal(200);
      expectNoSecrets(exchanged);
    });

    it('rejects a scope the subject token does not have', async () => {
      const { tokenInfo } = seed(emu, { scope: 'read' });
      const session = sessionFor(emu, { tokenInfo });
      const err = (await rejection(session.exchangeToken('admin'))) as TokenRequestError;
      expect(err).to.be.instanceOf(TokenRequestError);
      expect(err.error).to.equal('invalid_scope');
    });
  });

  describe('revokeTokens', () => {
    it('revokes at the server, then the resource refuses the token and the store key is empty', async () => {
      const { tokenInfo, issued } = seed(emu);
      const store = new KeyvTokenStore();
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      await token(session);
      expect(await store.read('default')).to.not.equal(undefined);
      await session.revokeTokens();
      expect(emu.tokenState(issued.refreshToken)).to.equal('revoked');
      expect(emu.lastRequest('revoke')?.body.token_type_hint).to.equal('refresh_token');
      const res = await request(emu.resourceUrl, { headers: { authorization: `Bearer ${issued.accessToken}` } });
      await res.body.dump();
      expect(res.statusCode).to.equal(401);
      expect(await store.read('default')).to.equal(undefined);
      // Revoking what is already gone succeeds.
      await session.revokeTokens();
      expect(await rejection(session.getAccessToken())).to.be.instanceOf(ExpiredTokensError);
    });

    it('keeps the tokens when the revocation endpoint keeps failing', async () => {
      const { tokenInfo } = seed(emu);
      const store = new KeyvTokenStore();
      const session = sessionFor(emu, { tokenInfo, tokenStore: store, retry: { maxAttempts: 2, baseDelayMS: 1, maxDelayMS: 1 } });
      await token(session);
      emu.inject('revoke', { status: 503, times: 2 });
      expect(await rejection(session.revokeTokens())).to.be.instanceOf(TokenRequestError);
      expect(await store.read('default')).to.not.equal(undefined);
    });
  });

  describe('handleExpiredTokensError', () => {
    it('clears store and memory for a dead grant', async () => {
      const { tokenInfo } = seed(emu);
      const store = new KeyvTokenStore();
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      await token(session);
      const err = new ExpiredTokensError('refused', { status: 400, error: 'invalid_grant' });
      expect(await session.handleExpiredTokensError(err)).to.equal(err);
      expect(await store.read('default')).to.equal(undefined);
      expect(await rejection(session.getAccessToken())).to.be.instanceOf(ExpiredTokensError);
    });

    it('drops a refused access token and refreshes once on the next call', async () => {
      const { tokenInfo, issued } = seed(emu);
      const session = sessionFor(emu, { tokenInfo });
      await token(session);
      emu.revokeToken(issued.accessToken);
      await session.handleExpiredTokensError(new ExpiredTokensError('401 from API', { status: 401 }));
      const fresh = await token(session);
      expect(fresh).to.not.equal(issued.accessToken);
      expect(emu.counts.refresh).to.equal(1);
    });

    for (const [label, err] of [
      ['a 503', new TokenRequestError('x', { status: 503, transient: true })],
      ['a 429', Object.assign(new Error('rate limited'), { status: 429 })],
      ['a network error', Object.assign(new Error('reset'), { code: 'ECONNRESET' })],
      ['a 404 (not an expiry)', Object.assign(new Error('not found'), { status: 404 })],
    ] as const) {
      it(`clears nothing for ${label}`, async () => {
        const { tokenInfo } = seed(emu);
        const store = new KeyvTokenStore();
        const session = sessionFor(emu, { tokenInfo, tokenStore: store });
        await token(session);
        expect(await session.handleExpiredTokensError(err)).to.equal(err);
        expect((await store.read('default'))?.accessToken).to.equal(tokenInfo.accessToken);
        expect(await token(session)).to.equal(tokenInfo.accessToken);
        expect(emu.counts.token).to.equal(0);
      });
    }
  });

  describe('validation', () => {
    const client = { tokenEndpoint: 'https://auth.example/token', clientId: 'id', clientSecret: 'secret' };
    it('names the tokenInfo field and never quotes the token', () => {
      const secret = 'at_very-secret-token-value-0123456789';
      expect(() => new PersistentSession({ client, tokenInfo: { accessToken: secret, accessTokenTTLMS: -1, acquiredAtMS: 1 } }))
        .to.throw(InvalidTokenInfoError)
        .with.property('field', 'accessTokenTTLMS');
      try {
        new PersistentSession({
          client,
          tokenInfo: { accessToken: secret, refreshToken: 5 as unknown as string, accessTokenTTLMS: 1, acquiredAtMS: 1 },
        });
        expect.fail('should throw');
      } catch (err) {
        expect(err).to.be.instanceOf(InvalidTokenInfoError);
        expect((err as SessionError).code).to.equal('ERR_INVALID_TOKEN_INFO');
        expect((err as Error).message).to.contain('refreshToken');
        expectNoSecrets(err, [secret]);
      }
    });

    it('rejects a store without read/write/clear', () => {
      expect(() => new PersistentSession({ client, tokenStore: { read: async () => undefined } as never }))
        .to.throw(InvalidTokenStoreError, /tokenStore\.write/)
        .with.property('code', 'ERR_INVALID_TOKEN_STORE');
      expect(() => new PersistentSession({ client, tokenStore: 42 as never })).to.throw(InvalidTokenStoreError, /tokenStore/);
    });

    it('names bad options', () => {
      expect(() => new PersistentSession({ client, expiredBufferMS: -1 })).to.throw(
        InvalidArgumentError,
        /`expiredBufferMS` to be a finite number >= 0, got `-1` \(number\)/,
      );
      expect(() => new PersistentSession({ client: { ...client, tokenEndpoint: 'not a url' } })).to.throw(
        InvalidArgumentError,
        /client\.tokenEndpoint/,
      );
      expect(() => new PersistentSession({ client: { ...client, authMethod: 'private_key_jwt' as never } })).to.throw(
        InvalidArgumentError,
        /client\.authMethod/,
      );
      expect(() => new PersistentSession({ client: { tokenEndpoint: client.tokenEndpoint, clientId: 'id' } })).to.throw(
        InvalidArgumentError,
        /clientSecret/,
      );
      expect(() => new PersistentSession({ client, expiredBufferMs: 1 } as never)).to.throw(
        InvalidArgumentError,
        /Unknown option `options\.expiredBufferMs`/,
      );
      expect(() => new PersistentSession({ client, retry: { maxAttempts: 0 } })).to.throw(InvalidArgumentError, /retry\.maxAttempts/);
    });

    it('rejects bad getAccessToken options (never throws synchronously), on a cold and on a warm session', async () => {
      const session = new PersistentSession({
        client,
        tokenInfo: { accessToken: 'at_fresh-token-0123456789', accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() },
      });
      for (let warm = 0; warm < 2; warm++) {
        for (const bad of [{ forceRefresh: 'yes' }, 42, null]) {
          let pending: Promise<string> | undefined;
          expect(() => {
            pending = session.getAccessToken(bad as never);
          }).to.not.throw();
          expect(await rejection(pending!))
            .to.be.instanceOf(InvalidArgumentError)
            .with.property('code', 'ERR_INVALID_ARG_VALUE');
        }
        expect(await session.getAccessToken()).to.equal('at_fresh-token-0123456789');
      }
      const unbound = session.getAccessToken;
      let pending: Promise<string> | undefined;
      expect(() => {
        pending = unbound();
      }).to.not.throw();
      expect(await rejection(pending!)).to.be.instanceOf(TypeError);
      const broken = new PersistentSession({
        client,
        now: () => {
          throw new Error('clock broke');
        },
      });
      expect(() => {
        pending = broken.getAccessToken();
      }).to.not.throw();
      expect(await rejection(pending!)).to.have.property('message', 'clock broke');
    });
  });

  describe('redaction', () => {
    it('prints sessions and TokenInfo without tokens', async () => {
      const { tokenInfo } = seed(emu);
      const session = sessionFor(emu, { tokenInfo });
      await token(session);
      expectNoSecrets(session, [tokenInfo.accessToken, tokenInfo.refreshToken!]);
      expect(inspect(session)).to.match(/sha256:[0-9a-f]{8}/);
      const stored = await new KeyvTokenStore().read('x');
      expect(stored).to.equal(undefined);
    });
  });
});
