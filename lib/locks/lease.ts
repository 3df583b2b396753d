/**
 * A lease lock built from three atomic backend operations. Used by the SQLite, Redis and Postgres
 * stores: a holder renews its lease while it works, and a holder that dies (SIGKILL) stops renewing,
 * so others take over after at most `ttlMS`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { TokenStoreError } from '../errors.js';
import type { LockOptions } from '../token-store.js';

/** Default lease length. */
export const DEFAULT_LOCK_TTL_MS = 30_000;
/** Extra time a waiter waits beyond one lease before giving up. */
export const DEFAULT_LOCK_EXTRA_WAIT_MS = 5_000;

/** @internal The atomic operations a backend provides. */
export interface LeaseBackend {
  /** Take the lease if it is free or expired; true when `owner` now holds it. */
  tryAcquire(key: string, owner: string, ttlMS: number): Promise<boolean>;
  /** Extend the lease if `owner` still holds it; true when it does. */
  renew(key: string, owner: string, ttlMS: number): Promise<boolean>;
  /** Drop the lease if `owner` holds it. */
  release(key: string, owner: string): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms); });

/**
 * @internal Builds a `withLock` function from a lease backend.
 */
export function leaseLock(backend: LeaseBackend, kind: string) {
  return async function withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const ttlMS = options.ttlMS ?? DEFAULT_LOCK_TTL_MS;
    const waitMS = options.waitMS ?? ttlMS + DEFAULT_LOCK_EXTRA_WAIT_MS;
    const owner = randomUUID();
    const started = Date.now();
    let delay = 10;
    for (;;) {
      let acquired: boolean;
      try {
        acquired = await backend.tryAcquire(key, owner, ttlMS);
      } catch (err) {
        throw new TokenStoreError(`Could not take the ${kind} lock for key "${key}": ${err instanceof Error ? err.message : String(err)}`, { cause: err, key });
      }
      if (acquired) break;
      if (Date.now() - started >= waitMS) {
        throw new TokenStoreError(`Timed out after ${waitMS} ms waiting for the ${kind} lock on key "${key}"`, { key });
      }
      // Jittered polling keeps waiters from waking in lock-step.
      await sleep(delay / 2 + Math.random() * delay);
      delay = Math.min(delay * 2, 200);
    }
    const renewEvery = Math.max(10, Math.floor(ttlMS / 3));
    const timer = setInterval(() => { backend.renew(key, owner, ttlMS).catch(() => {}); }, renewEvery);
    timer.unref?.();
    try {
      return await fn();
    } finally {
      clearInterval(timer);
      await backend.release(key, owner).catch(() => {});
    }
  };
}
