// Grant health in the stored record (TokenInfo.grant), one process: each refresh outcome is recorded (a
// success resets the failures), a dead grant is marked once (grantDead) and never sent again, new tokens
// written for the key clear it, and the grant's deadline is learnt from `refresh_token_expires_in`.
import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { ExpiredTokensError, InvalidArgumentError } from '../../../lib/errors.js';
import type { GrantDeadEvent } from '../../../lib/events.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import { PersistentSession } from '../../../lib/session/persistent-session.js';
import { emulator, seed, sessionFor } from '../../support/oauth.js';
import { recordSecret, rejection } from '../../support/secrets.js';

type Graded = TokenInfo & {
  grant?: {
    failures?: number;
    lastErrorCode?: string;
    lastRefreshedAtMS?: number;
    dead?: { reason: string; atMS: number };
    expiresAtMS?: number;
  };
};

describe('PersistentSession: grant health in the store', () => {
  let emu: Emulator;
  afterEach(async () => {
    await emu.close();
  });

  it('records failures and the last error code; a success resets them and notes when', async () => {
    emu = await emulator();
    const { tokenInfo } = seed(emu, { expired: true });
    const store = new KeyvTokenStore();
    await store.write('default', tokenInfo);
    const session = sessionFor(emu, { tokenStore: store, retry: { maxAttempts: 1 }, refreshCooldownMS: 0 });
    emu.inject('token', { status: 503, times: 2 });
    await rejection(session.getAccessToken());
    await rejection(session.getAccessToken());
    const failing = (await store.read('default')) as Graded;
    expect(failing.refreshToken).to.equal(tokenInfo.refreshToken);
    expect(failing.grant).to.deep.include({ failures: 2, lastErrorCode: 'temporarily_unavailable' });
    const before = Date.now();
    recordSecret(await session.getAccessToken());
    const ok = (await store.read('default')) as Graded;
    expect(ok.grant?.failures ?? 0).to.equal(0);
    expect(ok.grant?.lastErrorCode).to.equal(undefined);
    expect(ok.grant?.lastRefreshedAtMS).to.be.within(before, Date.now());
  });

  it('a dead grant: marked once with its reason, never sent again, cleared by new tokens', async () => {
    emu = await emulator();
    const { tokenInfo } = seed(emu, { expired: true });
    emu.revokeToken(tokenInfo.refreshToken!);
    const store = new KeyvTokenStore();
    await store.write('default', tokenInfo);
    const a = sessionFor(emu, { tokenStore: store });
    const b = sessionFor(emu, { tokenStore: store });
    const deaths: GrantDeadEvent[] = [];
    for (const s of [a, b]) s.on('grantDead', (e) => deaths.push(e));
    const errA = (await rejection(a.getAccessToken())) as ExpiredTokensError;
    const errB = (await rejection(b.getAccessToken())) as ExpiredTokensError;
    for (const e of [errA, errB]) {
      expect(e).to.be.instanceOf(ExpiredTokensError);
      expect(e.reason).to.equal('invalid_grant');
    }
    expect(emu.counts.refresh).to.equal(1);
    expect(deaths).to.have.length(1);
    expect(deaths[0]).to.deep.include({ type: 'grantDead', key: 'default', reason: 'invalid_grant' });
    expect(JSON.stringify(deaths[0])).to.not.include(tokenInfo.refreshToken!);
    const stored = (await store.read('default')) as Graded;
    expect(stored.grant?.dead?.reason).to.equal('invalid_grant');
    expect(stored.refreshToken).to.equal(undefined);
    // A new authorization: new tokens written for the key, without a dead marker.
    const fresh = seed(emu);
    await store.write('default', fresh.tokenInfo);
    const c = sessionFor(emu, { tokenStore: store });
    expect(await c.getAccessToken()).to.equal(fresh.tokenInfo.accessToken);
    await a.handleExpiredTokensError(errA);
    expect(await a.getAccessToken()).to.equal(fresh.tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(1);
  });

  it("learns the grant's deadline from refresh_token_expires_in (grant.expiresAtMS, grantExpiresAtMS)", async () => {
    emu = await emulator({ grantLifetimeMS: 86_400_000 });
    const { tokenInfo } = seed(emu, { expired: true });
    const store = new KeyvTokenStore();
    const session = sessionFor(emu, { tokenInfo, tokenStore: store });
    expect(session.grantExpiresAtMS).to.equal(undefined);
    recordSecret(await session.getAccessToken());
    const deadline = session.grantExpiresAtMS!;
    expect(deadline).to.be.within(tokenInfo.acquiredAtMS + 86_000_000, Date.now() + 86_400_000);
    expect(((await store.read('default')) as Graded).grant?.expiresAtMS).to.equal(deadline);
  });
  it("two OAuth clients left on one store's default key: neither adopts the other's grant, and no refresh token crosses", async () => {
    emu = await emulator();
    const other = await emulator({ clients: [{ clientId: 'other-app', clientSecret: 'other-secret' }] });
    try {
      const store = new KeyvTokenStore();
      const mine = seed(emu, { expired: true }).tokenInfo;
      const a = sessionFor(emu, { tokenStore: store, tokenInfo: mine });
      const tokenA = await a.getAccessToken();
      recordSecret(tokenA);
      expect(((await store.read('default')) as Graded).grant?.clientId, 'the record names its client').to.equal('test-client');

      const issued = other.issueTokens({ ttlSeconds: 3600 });
      recordSecret(issued.accessToken, issued.refreshToken);
      const client = { tokenEndpoint: other.tokenEndpoint, clientId: 'other-app', clientSecret: 'other-secret' };
      const tokenInfo = {
        accessToken: issued.accessToken,
        refreshToken: issued.refreshToken,
        accessTokenTTLMS: 3_600_000,
        acquiredAtMS: Date.now(),
      };
      const b = new PersistentSession({ client, tokenStore: store, tokenInfo });
      const err = await rejection(b.getAccessToken());
      expect(err).to.be.instanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).code).to.equal('ERR_INVALID_ARG_VALUE');
      expect((err as Error).message).to.match(/^Key "default" of the token store holds the grant of another OAuth client/);
      // B never sent A's refresh token to its token endpoint, and A's record is untouched.
      expect(other.counts.refresh, "requests at B's token endpoint").to.equal(0);
      const stored = await store.read('default');
      expect(stored?.accessToken).to.equal(tokenA);
      expect(emu.tokenState(tokenA)).to.equal('active');
      // A forced refresh of B is refused the same way, before any request.
      await rejection(b.getAccessToken({ forceRefresh: true }));
      expect(other.counts.refresh).to.equal(0);
      // A record from before the field existed (no clientId) is adopted by any client, and stamped at its next refresh.
      const legacy = seed(other, { expired: true }).tokenInfo;
      await store.write('legacy', legacy);
      const c = new PersistentSession({ client, tokenStore: store, key: 'legacy' });
      recordSecret(await c.getAccessToken());
      expect(((await store.read('legacy')) as Graded).grant?.clientId).to.equal('other-app');
    } finally {
      await other.close();
    }
  });
  describe("another client's grant under the key (grant.clientId)", () => {
    /** Tokens issued by `emu` for its first client, as a TokenInfo; expired ones when asked. */
    const tokensOf = (e: Emulator, options: { expired?: boolean; clientId?: string } = {}): TokenInfo => {
      const issued = e.issueTokens(options.clientId === undefined ? {} : { clientId: options.clientId });
      recordSecret(issued.accessToken, issued.refreshToken);
      if (options.expired === true) e.expireAccessToken(issued.accessToken);
      const age = options.expired === true ? issued.expiresIn * 1000 + 1000 : 0;
      return {
        accessToken: issued.accessToken,
        refreshToken: issued.refreshToken,
        accessTokenTTLMS: issued.expiresIn * 1000,
        acquiredAtMS: Date.now() - age,
      };
    };

    it('written by another client between the read and the conditional write: refused, and never overwritten later', async () => {
      emu = await emulator();
      const inner = new KeyvTokenStore();
      await inner.write('default', tokensOf(emu, { expired: true }));
      const theirs = { ...tokensOf(emu), grant: { clientId: 'client-B' } };
      let injected = false;
      const store = {
        read: (key: string) => inner.read(key),
        write: (key: string, info: TokenInfo) => inner.write(key, info),
        clear: (key: string) => inner.clear(key),
        async writeIf(key: string, info: TokenInfo, expected: { refreshToken: string | undefined }) {
          if (!injected) {
            injected = true;
            await inner.write(key, theirs);
          }
          return inner.writeIf!(key, info, expected);
        },
      };
      const session = sessionFor(emu, { tokenStore: store, refreshCooldownMS: 0 });
      const err = await rejection(session.getAccessToken());
      expect(err, 'the conflict, not a store outage').to.be.instanceOf(InvalidArgumentError);
      expect(session.hasUnwrittenTokens, 'nothing kept back to write over it later').to.equal(false);
      recordSecret(await session.getAccessToken());
      await session.flush();
      const stored = await inner.read('default');
      expect(stored?.grant?.clientId).to.equal('client-B');
      expect(stored?.refreshToken).to.equal(theirs.refreshToken);
    });

    it('revokeTokens() leaves it alone: rejected, nothing sent, nothing cleared', async () => {
      emu = await emulator();
      const store = new KeyvTokenStore();
      const theirs = { ...tokensOf(emu), grant: { clientId: 'client-B' } };
      await store.write('default', theirs);
      const mine = tokensOf(emu);
      const session = sessionFor(emu, { tokenStore: store, tokenInfo: mine });
      expect(await rejection(session.getAccessToken())).to.be.instanceOf(InvalidArgumentError);
      expect(await rejection(session.revokeTokens())).to.be.instanceOf(InvalidArgumentError);
      expect(emu.counts.revoke, 'revocation requests').to.equal(0);
      expect((await store.read('default'))?.refreshToken).to.equal(theirs.refreshToken);
      expect(emu.tokenState(mine.refreshToken!)).to.equal('active');
    });

    it('failure records of an unstamped grant are stamped too', async () => {
      emu = await emulator();
      const store = new KeyvTokenStore();
      await store.write('default', tokensOf(emu, { expired: true }));
      const session = sessionFor(emu, { tokenStore: store, retry: { maxAttempts: 1 }, refreshCooldownMS: 0 });
      emu.inject('token', { status: 503, times: 1 });
      await rejection(session.getAccessToken());
      expect(((await store.read('default')) as Graded).grant).to.deep.include({ failures: 1, clientId: 'test-client' });
    });

    it('a client id too long to record (over 2,048 characters) records and checks nothing, and loses no refresh token', async () => {
      const clientId = `https://app.example.com/oauth/client.json?${'x'.repeat(2_100)}`;
      emu = await emulator({ clients: [{ clientId, clientSecret: 's' }] });
      const store = new KeyvTokenStore();
      const expired = tokensOf(emu, { expired: true, clientId });
      await store.write('default', expired);
      const client = { tokenEndpoint: emu.tokenEndpoint, clientId, clientSecret: 's' };
      const session = new PersistentSession({ client, tokenStore: store, refreshCooldownMS: 0 });
      recordSecret(await session.getAccessToken());
      const stored = (await store.read('default')) as Graded;
      expect(stored.refreshToken, 'the rotated refresh token is stored').to.not.equal(expired.refreshToken);
      expect(stored.grant?.clientId).to.equal(undefined);
      recordSecret(await session.getAccessToken({ forceRefresh: true }));
      expect(emu.counts.refresh).to.equal(2);
      expect(emu.counts.invalidGrant).to.equal(0);
      // A session given tokens is made without complaint too.
      expect(() => new PersistentSession({ client, tokenStore: store, tokenInfo: tokensOf(emu, { clientId }) })).to.not.throw();
    });
  });
});
