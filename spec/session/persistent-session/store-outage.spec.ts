import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { TokenStoreError } from '../../../lib/errors.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';
import { rejection } from '../../support/secrets.js';
import { unavailable } from '../../support/services.js';
import { pollUntil } from '../../store/helpers.js';
import { PrivateRedis, hasRedisServer } from '../../support/redis-server.js';

describe('PersistentSession through a store outage', function () {
  this.timeout(30_000);
  let emu: Emulator;
  beforeEach(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    await emu.close();
  });

  it(
    'a refresh whose result cannot be stored rejects with TokenStoreError, keeps the tokens and stores them once the store is ' + 'back',
    async () => {
      const inner = new KeyvTokenStore();
      let down = false;
      // The real in-memory store behind a switch that makes writes fail like a backend outage.
      const store: TokenStore = {
        read: (k) => inner.read(k),
        write: (k, v) => (down ? Promise.reject(new TokenStoreError('backend down', { key: k })) : inner.write(k, v)),
        clear: (k) => inner.clear(k),
      };
      const { tokenInfo, issued } = seed(emu, { expired: true });
      await inner.write('default', tokenInfo);
      const session = sessionFor(emu, { tokenStore: store });
      down = true;
      const err = await rejection(session.getAccessToken());
      expect(err).to.be.instanceOf(TokenStoreError);
      expect(emu.counts.refresh).to.equal(1);
      const family = emu.family(issued.familyId)!;
      // The rotated refresh token lives on in memory: the session keeps serving the new access token.
      const fresh = await token(session);
      expect(emu.tokenState(fresh)).to.equal('active');
      expect(emu.counts.refresh).to.equal(1);
      expect((await inner.read('default'))?.refreshToken).to.equal(tokenInfo.refreshToken);
      down = false;
      // The write is retried on a later call (at most once a second).
      await pollUntil(
        async () => {
          await session.getAccessToken();
          return (await inner.read('default'))?.accessToken === fresh;
        },
        3_000,
        50,
      );
      const stored = await inner.read('default');
      expect(stored?.accessToken).to.equal(fresh);
      expect(stored?.refreshToken).to.equal(emu.family(issued.familyId)!.currentRefreshToken);
      expect(family.revoked).to.equal(false);
      // Nothing was lost: the stored refresh token still works.
      await token(session, { forceRefresh: true });
      expect(emu.counts.invalidGrant).to.equal(0);
    },
  );

  describe('Redis stopped mid-run', () => {
    let redis: PrivateRedis | undefined;
    before(function () {
      if (!hasRedisServer()) unavailable(this, 'Redis outage test skipped: no redis-server binary on PATH');
    });
    afterEach(async () => {
      await redis?.stop();
    });

    it(
      'callers keep the valid in-memory token; a refresh due during the outage surfaces TokenStoreError, then succeeds and ' + 'persists',
      async () => {
        redis = await PrivateRedis.start();
        const store = new KeyvTokenStore(redis.url, { namespace: 'outage', operationTimeoutMS: 1_000 });
        const { tokenInfo } = seed(emu);
        let clock = Date.now();
        const session = sessionFor(emu, { tokenInfo, tokenStore: store, now: () => clock });
        expect(await token(session)).to.equal(tokenInfo.accessToken);
        expect((await store.read('default'))?.accessToken).to.equal(tokenInfo.accessToken);

        await redis.stop();
        for (let i = 0; i < 50; i++) expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
        // Time passes (the session's clock): the token expires while Redis is still down.
        clock += tokenInfo.accessTokenTTLMS + 1_000;
        const err = await rejection(session.getAccessToken());
        expect(err).to.be.instanceOf(TokenStoreError);
        expect(emu.counts.refresh, 'no refresh without the cross-process lock').to.equal(0);

        await redis.start();
        let fresh = '';
        expect(
          await pollUntil(
            async () => {
              try {
                fresh = await session.getAccessToken();
                return true;
              } catch {
                return false;
              }
            },
            5_000,
            50,
          ),
          'the session recovers once Redis is back',
        ).to.equal(true);
        expect(fresh).to.not.equal(tokenInfo.accessToken);
        expect(emu.counts.refresh).to.equal(1);
        expect((await store.read('default'))?.accessToken).to.equal(fresh);
        await store.close();
      },
    );
  });
});
