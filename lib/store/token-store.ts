/**
 * The TokenStore contract: where sessions keep their tokens so that they survive restarts and are
 * shared between workers.
 *
 * @module
 */
import { InvalidTokenStoreError, describeValue } from '../errors.js';
import type { TokenInfo } from '../token/token-info.js';

/** Options of {@link TokenStore.withLock}. */
export interface LockOptions {
  /**
   * How long the lock is held at most (a lease, renewed while the holder works): a holder that
   * crashes blocks others no longer. At least 1000 (MIN_LOCK_TTL_MS).
   * @default 30000
   */
  ttlMS?: number;
  /**
   * How long to wait for the lock before giving up with a `TokenStoreError`.
   * @default ttlMS + 5000
   */
  waitMS?: number;
}

/**
 * A place where tokens live, one TokenInfo per key. One store holds the tokens of many sessions.
 *
 * Implementations must report backend failures by rejecting (ideally with
 * {@link TokenStoreError}), never by resolving `undefined`: a silent miss turns an outage into a
 * refresh storm.
 *
 * @example
 * ```ts
 * const store: TokenStore = createTokenStore('sqlite://./tokens.sqlite');
 * ```
 */
export interface TokenStore {
  /** Reads the tokens under `key`; `undefined` when there are none (or the record is unreadable). */
  read(key: string): Promise<TokenInfo | undefined>;
  /** Writes the tokens under `key`, replacing what was there. */
  write(key: string, tokenInfo: TokenInfo): Promise<void>;
  /** Removes the tokens under `key`; removing an absent key succeeds. */
  clear(key: string): Promise<void>;
  /**
   * Optional mutual exclusion across processes sharing this store: sessions refresh and mint inside
   * it, and re-read the store first, so that one refresh happens per key fleet-wide.
   */
  withLock?<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  /** Optional: every key that starts with `prefix` (used to forget all users of a namespace, and by the CLI). */
  keys?(prefix?: string): Promise<string[]>;
  /**
   * Optional conditional write (compare-and-swap on the refresh token): writes `tokenInfo` under `key`,
   * as {@link TokenStore.write} does, only if the record stored there now holds exactly
   * `expected.refreshToken` as its refresh token. `expected.refreshToken === undefined` matches when
   * {@link TokenStore.read} would return `undefined` (no record, or one that reads as absent) or a record
   * without a refresh token.
   *
   * Sessions write the tokens of a refresh with it, expecting the refresh token they sent: when several
   * processes refreshed with one refresh token (the lock's lease lapsed mid-refresh, or the server's
   * reuse grace window let each of them succeed), exactly one result is kept, and the others learn that
   * they lost. It must therefore be atomic across every process that reaches the store, even when no
   * lock is held.
   *
   * A store may also answer true when the record already holds exactly `tokenInfo`'s refresh and access
   * token (the stores of this library do), so that a retry after a timeout whose write went through is
   * not mistaken for a lost race.
   *
   * @returns true when it wrote; false when the stored record differs (the caller lost a race)
   */
  writeIf?(key: string, tokenInfo: TokenInfo, expected: { refreshToken: string | undefined }): Promise<boolean>;
}

/**
 * Checks that a value can serve as a {@link TokenStore}.
 *
 * @param store - the candidate
 * @param field - the option name to quote in the message
 * @returns the store, typed
 * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` naming the missing member
 */
export function validateTokenStore(store: unknown, field = 'tokenStore'): TokenStore {
  if (store === null || typeof store !== 'object') {
    throw new InvalidTokenStoreError(
      `Expected \`${field}\` to be an object with read, write and clear methods, got ${describeValue(store)}`,
    );
  }
  for (const method of ['read', 'write', 'clear'] as const) {
    if (typeof (store as Record<string, unknown>)[method] !== 'function') {
      throw new InvalidTokenStoreError(
        `Expected \`${field}.${method}\` to be a function, got ${describeValue((store as Record<string, unknown>)[method])}`,
      );
    }
  }
  for (const method of ['withLock', 'keys', 'writeIf'] as const) {
    const m = (store as Record<string, unknown>)[method];
    if (m !== undefined && typeof m !== 'function') {
      throw new InvalidTokenStoreError(`Expected \`${field}.${method}\` to be a function when present, got ${describeValue(m)}`);
    }
  }
  return store as TokenStore;
}
