import { expect } from 'chai';
import { createClient, createKeyv } from '@keyv/redis';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { EXPIRED_RECORD_GRACE_MS } from '../../lib/store/record-codec.js';
import { sampleTokenInfo, keyvStoreContract } from '../support/token-store-suite.js';
import { runId, unreachable, expectFailFast } from './helpers.js';
import { unavailable } from '../support/services.js';

const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('KeyvTokenStore on Redis', () => {
  const prefix = `ps-test-${runId()}`;
  const redis = createClient({ url: REDIS_URL });
  redis.on('error', () => {});

  before(async function () {
    const why = await unreachable(REDIS_URL);
    if (why !== undefined) {
      unavailable(this, `Redis tests skipped: ${REDIS_URL} is unreachable (${why}); set PERSISTENT_SESSION_TEST_REDIS_URL`);
    }
    await redis.connect();
  });
  after(async () => {
    if (!redis.isOpen) return;
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await redis.del(keys);
    await redis.close();
  });

  keyvStoreContract('Redis', async (options) => new KeyvTokenStore(REDIS_URL, options), {
    lock: true,
    uri: REDIS_URL,
    namespacePrefix: prefix,
    rawWrite: async (store, key, value) => {
      await redis.set(`${store.keyv!.namespace}::${key}`, value);
    },
    rawRead: async (store, key) => (await redis.get(`${store.keyv!.namespace}::${key}`)) ?? undefined,
  });

  it('stores `namespace::key` once (no doubled prefix), readable by @keyv/redis createKeyv', async () => {
    const ns = `${prefix}-layout`;
    const store = new KeyvTokenStore(REDIS_URL, { namespace: ns });
    const info = sampleTokenInfo();
    await store.write('k', info);
    const found: string[] = [];
    for await (const keys of redis.scanIterator({ MATCH: `${ns}*` })) found.push(...keys);
    expect(found).to.deep.equal([`${ns}::k`]);
    const plain = createKeyv(REDIS_URL, { namespace: ns });
    expect(JSON.parse(String(await plain.get('k')))).to.have.nested.property('tokenInfo.accessToken', info.accessToken);
    await plain.disconnect();
    await store.clear('k');
    await store.close();
  });

  it('works over a user-made @keyv/redis Keyv too, sharing records with the URI form and listing keys', async () => {
    const ns = `${prefix}-own-keyv`;
    const own = new KeyvTokenStore(createKeyv(REDIS_URL, { namespace: ns }));
    const viaUri = new KeyvTokenStore(REDIS_URL, { namespace: ns });
    const info = sampleTokenInfo();
    await own.write('a:1', info);
    await own.write('b:1', sampleTokenInfo());
    expect(own.backend).to.equal('keyv');
    expect((await viaUri.read('a:1'))!.accessToken).to.equal(info.accessToken);
    expect(await own.keys('a:')).to.deep.equal(['a:1']);
    expect(await viaUri.keys()).to.deep.equal(['a:1', 'b:1']);
    for (const k of ['a:1', 'b:1']) await own.clear(k);
    await own.close();
    await viaUri.close();
  });

  it('keeps the lease at `namespace:lock::key` with a server-side expiry, out of keys()', async () => {
    const ns = `${prefix}-lease`;
    const store = new KeyvTokenStore(REDIS_URL, { namespace: ns });
    await store.write('k', sampleTokenInfo());
    const inside = await store.withLock!('k', async () => ({ pttl: await redis.pTTL(`${ns}:lock::k`), keys: await store.keys() }), {
      ttlMS: 5_000,
    });
    expect(inside.pttl).to.be.within(1, 5_000);
    expect(inside.keys).to.deep.equal(['k']);
    expect(await redis.exists(`${ns}:lock::k`)).to.equal(0);
    await store.clear('k');
    await store.close();
  });

  it('never releases a lease that another owner holds by now', async () => {
    const ns = `${prefix}-owner`;
    const store = new KeyvTokenStore(REDIS_URL, { namespace: ns });
    // Simulate a lease that ran out and was taken over while fn was still running.
    await store.withLock!(
      'k',
      async () => {
        await redis.set(`${ns}:lock::k`, 'someone-else', { expiration: { type: 'PX', value: 5_000 } });
      },
      { ttlMS: 5_000 },
    );
    expect(await redis.get(`${ns}:lock::k`)).to.equal('someone-else');
    const err = await store.withLock!('k', async () => 'stolen', { waitMS: 100 }).catch((e: unknown) => e);
    expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
    await redis.del(`${ns}:lock::k`);
    await store.close();
  });

  it('lets Redis expire a record without refresh token by itself (PX), and keeps one with a refresh token', async () => {
    const ns = `${prefix}-ttl`;
    const store = new KeyvTokenStore(REDIS_URL, { namespace: ns });
    await store.write('user', sampleTokenInfo({ refreshToken: undefined, accessTokenTTLMS: 60_000, acquiredAtMS: Date.now() }));
    await store.write('refreshable', sampleTokenInfo());
    expect(await redis.pTTL(`${ns}::user`)).to.be.within(60_000 + EXPIRED_RECORD_GRACE_MS - 5_000, 60_000 + EXPIRED_RECORD_GRACE_MS);
    expect(await redis.pTTL(`${ns}::refreshable`)).to.equal(-1);
    for (const k of ['user', 'refreshable']) await store.clear(k);
    await store.close();
  });

  it('fails fast with ERR_TOKEN_STORE when nothing listens (no hang, no silent miss)', async () => {
    await expectFailFast('redis://127.0.0.1:1', expect, sampleTokenInfo);
  });
});
