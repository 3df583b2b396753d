/**
 * Cross-process lock for the Redis store: `SET key owner NX PX ttl` takes the lease, and Lua
 * scripts renew or release it only while it still holds our owner id, so a holder whose lease ran
 * out can never extend or delete the lease of the process that took over. Redis expires the key
 * itself (PX), so no client clock is involved.
 *
 * @module
 */
import type { LeaseBackend } from './lease.js';

/** Renews the lease when it is still ours: 1 when renewed, 0 when it was lost. */
export const REDIS_RENEW_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/** Deletes the lease when it is still ours. */
export const REDIS_RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** @internal The Redis commands the lock needs (a node-redis client satisfies it). */
export interface RedisLockClient {
  /** SET with options. */
  set(key: string, value: string, options: { condition: 'NX'; expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  /** EVAL. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * @internal Lease operations over Redis.
 * @param using - runs a command on a connected client (connecting lazily)
 * @param lockKey - maps a store key to its namespaced lock key
 * @returns the lease backend for {@link leaseLock}
 */
export function redisLease(
  using: <T>(op: (client: RedisLockClient) => Promise<T>) => Promise<T>,
  lockKey: (key: string) => string,
): LeaseBackend {
  return {
    async tryAcquire(key, owner, ttlMS) {
      const reply = await using((c) =>
        c.set(lockKey(key), owner, { condition: 'NX', expiration: { type: 'PX', value: Math.ceil(ttlMS) } }),
      );
      return reply === 'OK';
    },
    async renew(key, owner, ttlMS) {
      const reply = await using((c) => c.eval(REDIS_RENEW_SCRIPT, { keys: [lockKey(key)], arguments: [owner, String(Math.ceil(ttlMS))] }));
      return Number(reply) === 1;
    },
    async release(key, owner) {
      await using((c) => c.eval(REDIS_RELEASE_SCRIPT, { keys: [lockKey(key)], arguments: [owner] }));
    },
  };
}
