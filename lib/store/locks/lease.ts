/**
 * A lease lock built from three atomic backend operations. Used by the SQLite, Redis and Postgres
 * stores: a holder renews its lease while it works, and a holder that dies (SIGKILL) stops renewing,
 * so others take over after at most `ttlMS`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { TokenStoreError } from '../../errors.js';
import { checkNumber, checkObject } from '../../util/validate.js';
import type { LockOptions } from '../token-store.js';
import { sleep } from '../../util/sleep.js';

/** Default lease length. */
export const DEFAULT_LOCK_TTL_MS = 30_000;
/** Extra time a waiter waits beyond one lease before giving up. */
export const DEFAULT_LOCK_EXTRA_WAIT_MS = 5_000;
/**
 * Shortest lease accepted. A lease is renewed every third of its length; below a second, one slow
 * round trip to the backend (or a busy event loop) lets it lapse while its holder still works.
 */
export const MIN_LOCK_TTL_MS = 1_000;
/** Code of the process warning emitted when a holder finds that its lease is held by no one, or by another. */
export const LEASE_LOST_WARNING = 'PERSISTENT_SESSION_LEASE_LOST';

/**
 * @internal Validates and completes {@link LockOptions}, for every kind of lock alike.
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` naming `ttlMS` or `waitMS`
 */
export function resolveLockOptions(options: LockOptions | undefined): { ttlMS: number; waitMS: number } {
  if (options === undefined) return { ttlMS: DEFAULT_LOCK_TTL_MS, waitMS: DEFAULT_LOCK_TTL_MS + DEFAULT_LOCK_EXTRA_WAIT_MS };
  checkObject(options, 'options');
  const ttlMS = checkNumber(options.ttlMS ?? DEFAULT_LOCK_TTL_MS, 'ttlMS', { min: MIN_LOCK_TTL_MS });
  const waitMS = checkNumber(options.waitMS ?? ttlMS + DEFAULT_LOCK_EXTRA_WAIT_MS, 'waitMS', { min: 0 });
  return { ttlMS, waitMS };
}

/** @internal The atomic operations a backend provides. */
export interface LeaseBackend {
  /** Take the lease if it is free or expired; true when `owner` now holds it. */
  tryAcquire(key: string, owner: string, ttlMS: number): Promise<boolean>;
  /** Extend the lease if `owner` still holds it; true when it does. */
  renew(key: string, owner: string, ttlMS: number): Promise<boolean>;
  /** Drop the lease if `owner` holds it. */
  release(key: string, owner: string): Promise<void>;
}

/**
 * @internal Builds a `withLock` function from a lease backend. While `fn` runs the lease is renewed
 * every third of `ttlMS`; when a renewal finds the lease gone (it lapsed, or someone deleted it),
 * renewing stops and a process warning {@link LEASE_LOST_WARNING} names the key: from then on
 * another process may hold the lock too. `fn` itself is not interrupted.
 */
export function leaseLock(backend: LeaseBackend, kind: string) {
  return async function withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const { ttlMS, waitMS } = resolveLockOptions(options);
    const owner = randomUUID();
    const started = Date.now();
    let delay = 10;
    for (;;) {
      let acquired: boolean;
      try {
        acquired = await backend.tryAcquire(key, owner, ttlMS);
      } catch (err) {
        throw new TokenStoreError(`Could not take the ${kind} lock for key "${key}": ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
          key,
        });
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
    let done = false;
    const timer = setInterval(() => {
      // A failed renewal (backend hiccup) is tried again next time; the lease outlives one missed renewal.
      backend.renew(key, owner, ttlMS).then(
        (held) => {
          if (held || done) return;
          done = true;
          clearInterval(timer);
          process.emitWarning(
            `The ${kind} lock lease on key "${key}" was lost while its holder still worked (it lapsed or was removed); another process ` +
              `may hold the lock now`,
            { code: LEASE_LOST_WARNING },
          );
        },
        () => {},
      );
    }, renewEvery);
    timer.unref?.();
    try {
      return await fn();
    } finally {
      done = true;
      clearInterval(timer);
      await backend.release(key, owner).catch(() => {});
    }
  };
}
