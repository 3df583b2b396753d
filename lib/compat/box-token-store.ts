/**
 * box-node-sdk 3.x keeps a session's tokens in a user-supplied TokenStore of callback methods,
 * `read(cb)`, `write(tokenInfo, cb)` and `clear(cb)`, one token set per store object. This adapter
 * makes such an object a {@link TokenStore}, so that a worker switching from Box's PersistentSession
 * keeps the store (and the tokens in it) it already has.
 *
 * @module
 */
import { InvalidTokenStoreError, TokenStoreError, describeValue } from '../errors.js';
import { DEFAULT_SESSION_KEY } from '../session/persistent-session.js';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import type { TokenStore } from '../store/token-store.js';
import { checkKnownKeys, checkObject, checkString } from '../util/validate.js';

/** Box's tokenInfo: the same field names as {@link TokenInfo} (which was modelled on it). */
export interface BoxTokenInfo {
  /** The access token. */
  accessToken: string;
  /** The refresh token. */
  refreshToken?: string;
  /** Lifetime of the access token, in ms. */
  accessTokenTTLMS: number;
  /** When it was acquired, epoch ms. */
  acquiredAtMS: number;
}

/** A box-node-sdk 3.x TokenStore: callback methods over one token set. */
export interface BoxStyleTokenStore {
  /** Calls back with the stored tokenInfo, or nothing (`undefined`/`null`) when there is none. */
  read(callback: (err: Error | null | undefined, tokenInfo?: BoxTokenInfo | null) => void): void;
  /** Stores a tokenInfo, replacing the one held. */
  write(tokenInfo: BoxTokenInfo, callback: (err?: Error | null) => void): void;
  /** Forgets the tokens. */
  clear(callback: (err?: Error | null) => void): void;
}

/** Options of {@link fromBoxTokenStore}. */
export interface BoxTokenStoreOptions {
  /**
   * The one key the store answers for (a Box store holds one token set): the `key` of the
   * `PersistentSession` that uses it. Reads of other keys find nothing; writes to them fail.
   * @default DEFAULT_SESSION_KEY
   */
  key?: string;
}

/** Calls a callback-style method; a throw, an error argument or a second call are all handled once. */
function call<T>(what: string, key: string, fn: (cb: (err?: Error | null, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const cb = (err?: Error | null, value?: T): void => {
      if (settled) return;
      settled = true;
      if (err === null || err === undefined) {
        resolve(value);
        return;
      }
      const name = err instanceof Error ? err.name : typeof err;
      reject(new TokenStoreError(`The Box-style token store's ${what} failed for key "${key}": ${name}`, { cause: err, key }));
    };
    try {
      fn(cb);
    } catch (err) {
      cb(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/**
 * Makes a box-node-sdk 3.x TokenStore (`read(cb)`, `write(tokenInfo, cb)`, `clear(cb)`) a
 * {@link TokenStore} for one key. Its errors become `TokenStoreError`; a record that is not a valid
 * TokenInfo reads as absent, with a process warning (code `PERSISTENT_SESSION_INVALID_RECORD`),
 * as with the other stores. It has no lock and no `writeIf`: one process per Box store, as with Box.
 * The grant health ({@link TokenInfo.grant}) travels inside the tokenInfo handed to the Box store,
 * so it is kept by every Box store that keeps the object it is given (box-node-sdk's own stores
 * serialise it whole); a store that keeps only Box's four fields drops it, and the grant then reads
 * as healthy.
 *
 * @param store - the Box-style store
 * @param options - `key`
 * @returns a TokenStore
 * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` when `store` lacks a method
 * @example
 * ```ts
 * const session = new PersistentSession({ tokenStore: fromBoxTokenStore(myBoxStore), client });
 * ```
 */
export function fromBoxTokenStore(store: BoxStyleTokenStore, options: BoxTokenStoreOptions = {}): TokenStore {
  if (store === null || typeof store !== 'object') {
    throw new InvalidTokenStoreError(`Expected \`store\` to be a Box-style token store, got ${describeValue(store)}`);
  }
  for (const m of ['read', 'write', 'clear'] as const) {
    if (typeof store[m] !== 'function') {
      throw new InvalidTokenStoreError(`Expected \`store.${m}\` to be a function (callback style), got ${describeValue(store[m])}`);
    }
  }
  checkObject(options as unknown, 'options');
  checkKnownKeys(options as unknown as Record<string, unknown>, ['key'], 'options');
  const only = options.key === undefined ? DEFAULT_SESSION_KEY : checkString(options.key, 'key');
  const mine = (key: string, what: string): void => {
    if (key !== only) {
      throw new TokenStoreError(`A Box-style token store holds one token set, under key "${only}"; ${what} of "${key}" refused`, { key });
    }
  };
  return {
    async read(key: string): Promise<TokenInfo | undefined> {
      if (key !== only) return undefined;
      type ReadCallback = (err: Error | null | undefined, info?: BoxTokenInfo | null) => void;
      const raw = await call<unknown>('read', key, (cb) => store.read(cb as ReadCallback));
      if (raw === undefined || raw === null) return undefined;
      try {
        return validateTokenInfo(raw);
      } catch (err) {
        const why = err instanceof Error ? err.message : 'invalid';
        process.emitWarning(`Token store record "${key}" is not a valid TokenInfo (${why}); treating it as absent`, {
          code: 'PERSISTENT_SESSION_INVALID_RECORD',
        });
        return undefined;
      }
    },
    async write(key: string, tokenInfo: TokenInfo): Promise<void> {
      mine(key, 'a write');
      await call('write', key, (cb) => store.write({ ...tokenInfo } as BoxTokenInfo, cb));
    },
    async clear(key: string): Promise<void> {
      if (key !== only) return;
      await call('clear', key, (cb) => store.clear(cb));
    },
  };
}
