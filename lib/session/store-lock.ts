/**
 * The cross-process lock both sessions take around the requests that replace a stored token.
 *
 * @module
 */
import type { LockOptions, TokenStore } from '../store/token-store.js';

/**
 * @internal Runs `fn` under the store's lock `name` when the store has a lock; else runs it at once
 * (a store without a lock has no other process to exclude, or cannot exclude it).
 */
export function underLock<T>(store: TokenStore | undefined, name: string, fn: () => Promise<T>, options: LockOptions): Promise<T> {
  return store?.withLock === undefined ? fn() : store.withLock(name, fn, options);
}
