/**
 * An in-process keyed mutex: the `withLock` of stores that only this process can reach (the
 * in-memory store), and the best effort for a user-provided Keyv instance. Holders of one key run
 * one after another, in arrival order; a key's entry exists only while the lock is held, so idle
 * keys cost nothing.
 *
 * It excludes callers within this process only. Processes sharing a database need the lease locks
 * of the SQLite, Redis and Postgres stores (open the store from a URI).
 *
 * @module
 */
import { TokenStoreError } from '../../errors.js';
import type { LockOptions } from '../token-store.js';
import { resolveLockOptions } from './lease.js';

/** A waiter's hand-off: called by the holder that releases the lock to it. */
type Grant = () => void;

/** @internal A `withLock` function, as stores expose it. */
export type WithLock = <T>(key: string, fn: () => Promise<T>, options?: LockOptions) => Promise<T>;

/**
 * @internal Builds an in-process `withLock`. `ttlMS` bounds nothing here (a holder cannot die
 * without its waiters dying too) but is validated as for the lease locks, so that code moves between
 * stores unchanged; `waitMS` (default `ttlMS` + 5 s) bounds the wait, after which the waiter rejects
 * with `TokenStoreError` and leaves the queue.
 * @param kind - named in timeout messages, e.g. `in-memory`
 * @returns the lock function
 */
export function localLock(kind: string): WithLock {
  /** Per held key, the waiters in arrival order. */
  const held = new Map<string, Grant[]>();
  return async function withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
    const { waitMS } = resolveLockOptions(options);
    let waiters = held.get(key);
    if (waiters === undefined) {
      waiters = [];
      held.set(key, waiters);
    } else {
      const queue = waiters;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const at = queue.indexOf(grant);
          if (at >= 0) queue.splice(at, 1);
          reject(new TokenStoreError(`Timed out after ${waitMS} ms waiting for the ${kind} lock on key "${key}"`, { key }));
        }, waitMS);
        (timer as { unref?: () => void }).unref?.();
        const grant: Grant = () => {
          clearTimeout(timer);
          resolve();
        };
        queue.push(grant);
      });
    }
    try {
      return await fn();
    } finally {
      const next = waiters.shift();
      if (next === undefined) held.delete(key);
      else next();
    }
  };
}

/**
 * @internal One lock per backend object and namespace, so that every store over the same Keyv
 * adapter (several KeyvTokenStores wrapping one Map or one client) shares its locks.
 */
const shared = new WeakMap<object, Map<string, WithLock>>();

/**
 * @internal The in-process lock shared by all stores over `backend` in `namespace`.
 * @param backend - the Keyv adapter (or any object identifying the storage)
 * @param namespace - keys of different namespaces never contend
 * @param kind - named in timeout messages
 * @returns the lock function
 */
export function sharedLocalLock(backend: object, namespace: string, kind: string): WithLock {
  let locks = shared.get(backend);
  if (locks === undefined) {
    locks = new Map();
    shared.set(backend, locks);
  }
  let lock = locks.get(namespace);
  if (lock === undefined) {
    lock = localLock(kind);
    locks.set(namespace, lock);
  }
  return lock;
}
