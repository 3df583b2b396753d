import { expect } from 'chai';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';
import { pollUntil } from './helpers.js';
import { PrivateRedis, hasRedisServer } from '../support/redis-server.js';
import { unavailable } from '../support/services.js';

const OPERATION_TIMEOUT_MS = 2_000;

describe('KeyvTokenStore on Redis: a real outage', function () {
  this.timeout(20_000);
  let redis: PrivateRedis | undefined;
  before(function () {
    if (!hasRedisServer()) unavailable(this, 'Redis outage test skipped: no redis-server binary on PATH');
  });
  afterEach(async () => {
    await redis?.stop();
  });

  it('rejects with ERR_TOKEN_STORE while Redis is down, then the same store works again once it is back', async () => {
    redis = await PrivateRedis.start();
    const store = new KeyvTokenStore(redis.url, { namespace: 'outage', operationTimeoutMS: OPERATION_TIMEOUT_MS });
    const info = sampleTokenInfo();
    await store.write('k', info);
    expect((await store.read('k'))!.accessToken).to.equal(info.accessToken);

    await redis.stop();
    const ops = [
      () => store.read('k'),
      () => store.write('k', info),
      () => store.clear('k'),
      () => store.keys(),
      () => store.withLock!('k', async () => {}),
    ];
    for (const op of ops) {
      const started = performance.now();
      const err = await op().then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      // Well inside the operation timeout: the client rejects at once instead of queueing the command.
      expect(performance.now() - started).to.be.below(OPERATION_TIMEOUT_MS / 2);
      expect((err as Error).message).not.to.include(info.accessToken);
    }

    await redis.start();
    // The client reconnects in the background (backoff capped at 1 s); poll with a deadline.
    expect(
      await pollUntil(
        () =>
          store.read('k').then(
            () => true,
            () => false,
          ),
        5_000,
      ),
    ).to.equal(true);
    // The restarted server kept nothing (--save ''): a genuine miss, reported as one.
    expect(await store.read('k')).to.equal(undefined);
    await store.write('k', info);
    expect((await store.read('k'))!.accessToken).to.equal(info.accessToken);
    expect(await store.withLock!('k', async () => 'locked')).to.equal('locked');
    await store.close();
  });
});
