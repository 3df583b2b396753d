import { inspect } from 'node:util';
import { expect } from 'chai';
import PQueue from 'p-queue';
import type { Emulator } from '../../../lib/emulator/index.js';
import { ExpiredTokensError, InvalidArgumentError } from '../../../lib/errors.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { validateTokenInfo } from '../../../lib/token/token-info.js';
import { SessionPool, type SessionPoolOptions, type SweepProgress, type SweepResult } from '../../../lib/session/session-pool.js';
import { useFakeClock } from '../../support/clock.js';
import { jsonStore } from '../../support/json-store.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';
import { expectNoSecrets, recordSecret } from '../../support/secrets.js';

const HOUR = 3_600_000;

/** Whether TokenInfo keeps the `grant` health field (until it does, the specs that need it are pending). */
function storesGrant(): boolean {
  const info = validateTokenInfo({ accessToken: 'a', accessTokenTTLMS: 1, acquiredAtMS: 1, grant: { lastRefreshedAtMS: 1 } } as never);
  return (info as { grant?: unknown }).grant !== undefined;
}
const DAY = 24 * HOUR;

describe('SessionPool', () => {
  let emu: Emulator;
  let store: KeyvTokenStore;
  beforeEach(async () => {
    emu = await emulator();
    store = new KeyvTokenStore();
  });
  afterEach(async () => {
    await store.close();
    await emu.close();
  });

  function poolFor(options: Partial<SessionPoolOptions> = {}): SessionPool {
    return new SessionPool({
      tokenStore: store,
      client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' },
      retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 2_000 },
      ...options,
    });
  }

  /** Stores `n` grants under `prefix0…`, `ageMS` old by their acquiredAtMS. */
  async function grants(n: number, ageMS: number, prefix = 'customer:'): Promise<string[]> {
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const { tokenInfo } = seed(emu);
      await store.write(`${prefix}${i}`, { ...tokenInfo, acquiredAtMS: Date.now() - ageMS });
      keys.push(`${prefix}${i}`);
    }
    return keys;
  }

  describe('PersistentSession.refreshIfOlderThan', () => {
    it('refreshes a stale grant once, leaves a recent one alone, and skips a key without tokens', async () => {
      const [stale] = await grants(1, 2 * DAY, 'stale:');
      const [recent] = await grants(1, HOUR, 'recent:');
      const a = sessionFor(emu, { tokenStore: store, key: stale! });
      const b = sessionFor(emu, { tokenStore: store, key: recent! });
      const none = sessionFor(emu, { tokenStore: store, key: 'nobody' });
      expect(await a.refreshIfOlderThan(DAY)).to.equal(true);
      expect(await a.refreshIfOlderThan(DAY), 'now recent').to.equal(false);
      expect(await b.refreshIfOlderThan(DAY)).to.equal(false);
      expect(await none.refreshIfOlderThan(DAY)).to.equal(false);
      expect(emu.counts.refresh).to.equal(1);
      expect(Date.now() - (await store.read(stale!))!.acquiredAtMS).to.be.lessThan(HOUR);
      // The session serves the refreshed token without another request.
      await token(a);
      expect(emu.counts.refresh).to.equal(1);
    });

    it('keeps the seed of a session without a store alive too', async () => {
      const { tokenInfo } = seed(emu);
      const s = sessionFor(emu, { tokenInfo: { ...tokenInfo, acquiredAtMS: Date.now() - 2 * DAY } });
      expect(await s.refreshIfOlderThan(DAY)).to.equal(true);
      expect(await s.refreshIfOlderThan(DAY)).to.equal(false);
      expect(emu.counts.refresh).to.equal(1);
    });

    it('makes exactly one refresh when 10 sessions of one key ask together', async () => {
      const [key] = await grants(1, 2 * DAY);
      const sessions = Array.from({ length: 10 }, () => sessionFor(emu, { tokenStore: store, key: key! }));
      const results = await Promise.all(sessions.map((s) => s.refreshIfOlderThan(DAY)));
      expect(results.filter(Boolean)).to.have.length(1);
      expect(emu.counts.refresh).to.equal(1);
      expect(emu.counts.invalidGrant).to.equal(0);
    });

    it('rejects with ExpiredTokensError for a dead grant', async () => {
      const [key] = await grants(1, 2 * DAY);
      emu.revokeToken((await store.read(key!))!.refreshToken!);
      const err = await sessionFor(emu, { tokenStore: store, key: key! })
        .refreshIfOlderThan(DAY)
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ExpiredTokensError);
      expectNoSecrets(err);
    });

    it('rejects a record marked dead (grant.dead) without a request', async function () {
      if (!storesGrant()) this.skip();
      const [marked] = await grants(1, 2 * DAY, 'marked:');
      await store.write(marked!, { ...(await store.read(marked!))!, grant: { dead: { reason: 'revoked', atMS: Date.now() } } });
      const before = emu.counts.token;
      const err2 = await sessionFor(emu, { tokenStore: store, key: marked! })
        .refreshIfOlderThan(DAY)
        .catch((e: unknown) => e);
      expect(err2).to.be.instanceOf(ExpiredTokensError);
      expect((err2 as ExpiredTokensError).reason).to.equal('revoked');
      expect(emu.counts.token).to.equal(before);
    });

    it('uses grant.lastRefreshedAtMS over acquiredAtMS when the record has it', async function () {
      if (!storesGrant()) this.skip();
      const [key] = await grants(1, 2 * DAY);
      await store.write(key!, { ...(await store.read(key!))!, grant: { lastRefreshedAtMS: Date.now() - HOUR } } as never);
      expect(await sessionFor(emu, { tokenStore: store, key: key! }).refreshIfOlderThan(DAY)).to.equal(false);
      expect(emu.counts.refresh).to.equal(0);
    });

    it('checks its arguments', async () => {
      const s = sessionFor(emu, { tokenStore: store });
      for (const bad of [-1, Number.NaN, '1' as never]) {
        expect(await s.refreshIfOlderThan(bad).catch((e: unknown) => e)).to.be.instanceOf(InvalidArgumentError);
      }
      expect(await s.refreshIfOlderThan(0, { signal: 'x' as never }).catch((e: unknown) => e)).to.be.instanceOf(InvalidArgumentError);
      expect(() => sessionFor(emu, { refreshQueue: {} as never })).to.throw(InvalidArgumentError, 'refreshQueue');
    });

    it('sends every refresh through refreshQueue', async () => {
      const queue = new PQueue({ concurrency: 1 });
      let added = 0;
      let maxRunning = 0;
      const add = queue.add.bind(queue);
      queue.add = ((fn: () => Promise<unknown>) => {
        added++;
        return add(async () => {
          maxRunning = Math.max(maxRunning, queue.pending);
          return fn();
        });
      }) as typeof queue.add;
      const keys = await grants(5, 2 * DAY);
      const sessions = keys.map((key) => sessionFor(emu, { tokenStore: store, key, refreshQueue: queue }));
      await Promise.all(sessions.map((s) => s.getAccessToken().then(recordSecret)));
      expect(added).to.equal(5);
      expect(maxRunning).to.equal(1);
      expect(emu.counts.refresh).to.equal(5);
    });
  });

  describe('get', () => {
    it('returns one session per key while cached, drops the least recently used, and reads it back from the store', async () => {
      const keys = await grants(3, 1_000);
      const pool = poolFor({ maxSessions: 2 });
      const created: string[] = [];
      pool.on('session', (s) => created.push(s.key));
      const a = pool.get(keys[0]!);
      expect(pool.get(keys[0]!)).to.equal(a);
      pool.get(keys[1]!);
      pool.get(keys[0]!); // keys[1] is now the least recently used
      pool.get(keys[2]!);
      expect(pool.size).to.equal(2);
      expect(pool.get(keys[0]!)).to.equal(a);
      const tokens = await Promise.all(keys.map((k) => pool.getAccessToken(k)));
      for (const t of tokens) recordSecret(t);
      // keys[1] came back and pushed out keys[2], which came back in turn.
      expect(created).to.deep.equal([keys[0], keys[1], keys[2], keys[1], keys[2]]);
      expect(emu.counts.token, 'stored tokens served, no refresh').to.equal(0);
      expect(inspect(pool)).to.equal('SessionPool {"size":2,"maxSessions":2,"cachedTokens":3,"maxCachedTokens":100000}');
      await pool.close();
      expect(() => pool.get(keys[2]!)).to.throw(InvalidArgumentError, 'closed');
    });

    it('checks its options', () => {
      const client = { tokenEndpoint: emu.tokenEndpoint, clientId: 'c', clientSecret: 's' };
      const bad: Array<[Record<string, unknown>, string]> = [
        [{ maxSessions: 0 }, 'maxSessions'],
        [{ concurrency: 1.5 }, 'concurrency'],
        [{ rateLimit: { perMinute: 0 } }, 'rateLimit.perMinute'],
        [{ rateLimit: { perMinute: 10 }, queue: new PQueue() }, 'queue'],
        [{ keepAlive: { everyMS: 0 } }, 'keepAlive.everyMS'],
        [{ keepAlive: { everyMS: 2 ** 31 } }, 'keepAlive.everyMS'],
        [{ refreshBufferMS: -1 }, 'refreshBufferMS'],
        [{ key: 'k' }, 'key'],
      ];
      for (const [options, field] of bad) {
        expect(() => new SessionPool({ tokenStore: store, client, ...options }), field).to.throw(InvalidArgumentError, field);
      }
      const noKeys = { read: store.read.bind(store), write: store.write.bind(store), clear: store.clear.bind(store) };
      expect(() => new SessionPool({ tokenStore: noKeys, client, keepAlive: { everyMS: DAY } })).to.throw(InvalidArgumentError, 'keys()');
    });
  });

  describe('getAccessToken', () => {
    it('serves cached tokens of dropped sessions without a session, a store read or a request', async () => {
      const keys = await grants(5, 1_000);
      const pool = poolFor({ maxSessions: 1 });
      let reads = 0;
      const read = store.read.bind(store);
      store.read = async (k) => {
        reads++;
        return read(k);
      };
      const created: string[] = [];
      pool.on('session', (s) => created.push(s.key));
      const first = await Promise.all(keys.map((k) => pool.getAccessToken(k)));
      for (const t of first) recordSecret(t);
      const readsAfterFirst = reads;
      expect(pool.size).to.equal(1);
      expect(pool.cachedTokens).to.equal(5);
      for (let i = 0; i < 3; i++) expect(await Promise.all(keys.map((k) => pool.getAccessToken(k)))).to.deep.equal(first);
      expect(created).to.deep.equal(keys);
      expect(reads).to.equal(readsAfterFirst);
      expect(emu.counts.token).to.equal(0);
      await pool.close();
    });

    it('drops a cached token when its session refreshes or is told the token was refused', async () => {
      const [key] = await grants(1, 1_000);
      const pool = poolFor();
      const t1 = await token(pool.get(key!));
      expect(await pool.getAccessToken(key!)).to.equal(t1);
      const t2 = await pool.getAccessToken(key!, { forceRefresh: true });
      recordSecret(t2);
      expect(t2).to.not.equal(t1);
      expect(await pool.getAccessToken(key!)).to.equal(t2);
      const refused = Object.assign(new Error('401'), { status: 401 });
      await pool.get(key!).handleExpiredTokensError(refused);
      const t3 = await pool.getAccessToken(key!);
      recordSecret(t3);
      expect(t3).to.not.equal(t2);
      expect(emu.counts.refresh).to.equal(2);
      expect(pool.cachedTokens).to.equal(1);
      pool.delete(key!);
      expect(pool.cachedTokens).to.equal(0);
      await pool.close();
    });

    it('never serves a cached token past its expiry, even with the session dropped and a store without TTL (lesson 5)', async () => {
      const clock = useFakeClock();
      const json = jsonStore();
      for (const key of ['customer:0', 'customer:1']) json.map.set(key, JSON.stringify(seed(emu, { ttlSeconds: 3600 }).tokenInfo));
      const pool = poolFor({ tokenStore: json, maxSessions: 1 });
      const t1 = await token(pool.get('customer:0'));
      expect(await pool.getAccessToken('customer:0')).to.equal(t1);
      recordSecret(await pool.getAccessToken('customer:1')); // customer:0's session is dropped; its token stays cached
      expect(pool.size).to.equal(1);
      expect(pool.cachedTokens).to.equal(2);
      await clock.tickAsync(HOUR + 1_000);
      expect(emu.tokenState(t1)).to.equal('expired');
      const t2 = await pool.getAccessToken('customer:0');
      recordSecret(t2);
      expect(t2).to.not.equal(t1);
      expect(emu.tokenState(t2)).to.equal('active');
      expect(emu.counts.refresh).to.equal(1);
      await pool.close();
    });

    it('keeps at most maxCachedTokens tokens, least recently used dropped first', async () => {
      const keys = await grants(4, 1_000);
      const pool = poolFor({ maxCachedTokens: 2, maxSessions: 1 });
      for (const k of keys) recordSecret(await pool.getAccessToken(k));
      expect(pool.cachedTokens).to.equal(2);
      const reads: string[] = [];
      const read = store.read.bind(store);
      store.read = async (k) => {
        reads.push(k);
        return read(k);
      };
      await pool.getAccessToken(keys[3]!);
      await pool.getAccessToken(keys[2]!);
      expect(reads).to.deep.equal([]);
      await pool.getAccessToken(keys[0]!);
      expect(reads).to.include(keys[0]);
      await pool.close();
    });
  });

  describe('sweep', () => {
    it('refreshes the stale grants, skips the recent ones, reports dead ones and its progress', async () => {
      const stale = await grants(12, 2 * DAY, 'stale:');
      await grants(8, HOUR, 'recent:');
      const dead = await grants(2, 2 * DAY, 'zdead:');
      for (const k of dead) emu.revokeToken((await store.read(k))!.refreshToken!);
      const pool = poolFor({ concurrency: 3 });
      const progress: SweepProgress[] = [];
      const done: SweepResult[] = [];
      pool.on('sweepProgress', (p) => progress.push(p));
      pool.on('sweepDone', (r) => done.push(r));
      const result = await pool.sweep({ olderThanMS: DAY });
      expect(result).to.deep.include({ done: 22, total: 22, refreshed: 12, skipped: 8, dead: 2, failed: 0, aborted: false });
      expect(result.deadKeys).to.deep.equal(dead);
      expect(done).to.deep.equal([result]);
      expect(progress.map((p) => p.done)).to.deep.equal(Array.from({ length: 22 }, (_, i) => i + 1));
      expect(progress.at(-1)).to.deep.equal({ done: 22, total: 22, refreshed: 12, skipped: 8, dead: 2, failed: 0 });
      expect(emu.counts.refresh).to.equal(14);
      expect(emu.counts.invalidGrant).to.equal(2);
      for (const k of stale) expect(Date.now() - (await store.read(k))!.acquiredAtMS).to.be.lessThan(HOUR);
      expectNoSecrets(result);
      // A second sweep has nothing left to refresh; the prefix narrows the keys.
      expect(await pool.sweep({ olderThanMS: DAY, prefix: 'stale:' })).to.deep.include({ total: 12, refreshed: 0, skipped: 12 });
      expect(emu.counts.refresh).to.equal(14);
      await pool.close();
    });

    it('refreshes each grant once when three pools sweep one store together', async () => {
      await grants(60, 2 * DAY);
      const pools = [poolFor(), poolFor(), poolFor()];
      const results = await Promise.all(pools.map((p) => p.sweep({ olderThanMS: DAY })));
      expect(results.reduce((n, r) => n + r.refreshed, 0)).to.equal(60);
      expect(results.reduce((n, r) => n + r.failed + r.dead, 0)).to.equal(0);
      expect(emu.counts.refresh).to.equal(60);
      expect(emu.counts.invalidGrant).to.equal(0);
      await Promise.all(pools.map((p) => p.close()));
    });

    it('stops at its signal: sweepDone says aborted and the call rejects with the reason', async () => {
      await grants(30, 2 * DAY);
      const pool = poolFor({ concurrency: 1 });
      const controller = new AbortController();
      pool.on('sweepProgress', (p) => {
        if (p.done === 5) controller.abort(new Error('enough'));
      });
      const done: SweepResult[] = [];
      pool.on('sweepDone', (r) => done.push(r));
      const err = await pool.sweep({ olderThanMS: DAY, signal: controller.signal }).catch((e: unknown) => e);
      expect((err as Error).message).to.equal('enough');
      expect(done[0]).to.deep.include({ aborted: true, done: 5, refreshed: 5 });
      expect(emu.counts.refresh).to.equal(5);
      await pool.close();
    });

    it('runs through a rate-limited queue when given rateLimit', async () => {
      await grants(4, 2 * DAY);
      await using pool = poolFor({ rateLimit: { perMinute: 100 } });
      expect(pool.queue.constructor.name).to.equal('RateLimitQueue');
      expect(await pool.sweep({ olderThanMS: DAY })).to.deep.include({ refreshed: 4 });
      expect((pool.queue as unknown as { held: number }).held).to.equal(4);
    });
  });
});
