/**
 * KeyvTokenStore: the TokenStore over any Keyv instance or connection URI, with an explicit error
 * policy (a backend failure is a TokenStoreError, never a miss), corrupt-record tolerance, optional
 * encryption at rest, bounded growth (records that cannot be renewed expire), a lock per key (across
 * processes for the URI backends of lib/store/backends/, within this process for memory and for a given
 * Keyv instance) and a conditional write wherever the backend can make it atomic.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type Keyv from 'keyv';
import { InvalidArgumentError, TokenStoreError, describeValue } from '../errors.js';
import { resolveStoreOptions, type KeyvTokenStoreOptions, type StoreWarning } from './keyv-token-store-options.js';
import { RecordCipher, decodeRecord, encodeRecord, isDeadRecord, recordTTL } from './record-codec.js';
import type { TokenInfo } from '../token/token-info.js';
import type { LockOptions, TokenStore } from './token-store.js';
import { openBackend, type StoreBackend } from './open-backend.js';
import { withTimeout } from './backends/driver.js';
import { checkString } from '../util/validate.js';
import { checkExpected, conditionalWrite } from './conditional-write.js';

export { DEFAULT_STORE_NAMESPACE, DEFAULT_STORE_OPERATION_TIMEOUT_MS } from './keyv-token-store-options.js';
export type { KeyvTokenStoreOptions, StoreWarning } from './keyv-token-store-options.js';

/** What read() gets from Keyv for a record that is not JSON. */
const CORRUPT = Symbol('corrupt record');

/**
 * A {@link TokenStore} backed by Keyv.
 *
 * @example
 * ```ts
 * const store = new KeyvTokenStore('sqlite://./tokens.sqlite');
 * const session = new PersistentSession({ tokenStore: store, client });
 * ```
 */
export class KeyvTokenStore
  extends EventEmitter<{
    /** Emitted for every record treated as absent (corrupt, wrong shape, undecryptable); carries the key, never the value. */
    warning: [StoreWarning];
  }>
  implements TokenStore
{
  /** The Keyv instance underneath. */
  readonly keyv: Keyv;
  /** Which backend the URI selected: `memory`, `sqlite`, `redis`, `postgres`, or `keyv` for a given instance. */
  readonly backend: StoreBackend['kind'];
  readonly #cipher: RecordCipher | undefined;
  readonly #allowPlaintext: boolean;
  readonly #onWarning: ((w: StoreWarning) => void) | undefined;
  readonly #timeoutMS: number;
  readonly #backend: StoreBackend;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @param keyv - a Keyv instance, a connection URI (`sqlite://path`, `redis://host:port`,
   *   `postgresql://…`), or nothing for an in-memory store
   * @param options - namespace, encryption, warnings, timeouts
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for an unsupported URI or bad option
   */
  constructor(keyv?: Keyv | string, options: KeyvTokenStoreOptions = {}) {
    super();
    const { namespace, timeoutMS: timeout } = resolveStoreOptions(options);
    this.#allowPlaintext = options.allowPlaintextRecords === true;
    this.#timeoutMS = timeout;
    this.#onWarning = options.onWarning;
    this.#cipher = options.encryptionKey === undefined ? undefined : new RecordCipher(options.encryptionKey);
    this.#backend = openBackend(keyv, namespace, { timeoutMS: timeout });
    this.keyv = this.#backend.keyv;
    this.backend = this.#backend.kind;
    // Keyv 5 reports failures as misses unless told otherwise; a miss during an outage would make
    // every worker refresh or mint at once. Keep the 'error' event from crashing the process, and let
    // the rejection carry the failure.
    this.keyv.throwOnErrors = true;
    this.keyv.on('error', () => {});
    // Only where the backend can compare and set atomically (see writeIf below).
    if (this.#backend.compareAndSet !== undefined) this.writeIf = (key, tokenInfo, expected) => this.#writeIf(key, tokenInfo, expected);
    const lock = this.#backend.withLock;
    this.withLock = async <T>(key: string, fn: () => Promise<T>, opts?: LockOptions) => {
      checkString(key, 'key');
      if (this.#closed) throw this.#closedError('lock', key);
      return lock(key, fn, opts);
    };
  }

  /**
   * Mutual exclusion per key: across processes on SQLite, Redis and Postgres (a lease in the database,
   * lib/store/locks/); within this process only in memory and over a given Keyv instance (stores over one
   * adapter share it), so processes that share a database must open it from a URI. @see TokenStore.withLock
   */
  withLock?: <T>(key: string, fn: () => Promise<T>, options?: LockOptions) => Promise<T>;

  #closedError(what: string, key: string | undefined): TokenStoreError {
    return new TokenStoreError(`Token store ${what} failed: the store is closed (${this.backend} backend)`, { key });
  }

  /**
   * The key as the backend stores it. Keyv prefixes `namespace:` only to keys that do not already
   * start with it, so a key such as `persistent-session:x` would land on the record of key `x`;
   * prefixing here makes the mapping one-to-one.
   */
  #storeKey(key: string): string {
    const { keyv } = this;
    return keyv.useKeyPrefix && keyv.namespace ? `${keyv.namespace}:${key}` : key;
  }

  async #op<T>(what: string, key: string | undefined, run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw this.#closedError(what, key);
    const late = () => new TokenStoreError(`Token store ${what} timed out after ${this.#timeoutMS} ms (${this.backend} backend)`, { key });
    try {
      return await withTimeout(run(), this.#timeoutMS, what, late);
    } catch (err) {
      if (err instanceof TokenStoreError) throw err;
      throw new TokenStoreError(
        `Token store ${what} failed (${this.backend} backend)${key === undefined ? '' : ` for key "${key}"`}: ` +
          `${err instanceof Error ? err.message : String(err)}`,
        { cause: err, key },
      );
    }
  }

  /** Warns that the record of `key` reads as absent, and why (never quoting it). */
  #warn(code: StoreWarning['code'], key: string, reason: string): void {
    const message = `Token store record "${key}" ${reason}; treating it as absent`;
    const warning: StoreWarning = { code, key, message };
    if (this.#onWarning !== undefined) this.#onWarning(warning);
    if (this.listenerCount('warning') > 0) this.emit('warning', warning);
    else if (this.#onWarning === undefined) process.emitWarning(message, { code: `PERSISTENT_SESSION_${code}` });
  }

  /**
   * Reads the tokens under `key`.
   * @returns the tokens, or `undefined` when absent or unreadable (a warning is emitted for the latter)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the backend fails
   */
  async read(key: string): Promise<TokenInfo | undefined> {
    checkString(key, 'key');
    // Keyv parses the stored JSON outside its own error handling: a SyntaxError from get() is a
    // corrupt record, not a backend failure (a driver that fails to load arrives as a TokenStoreError).
    const raw = await this.#op('read', key, () =>
      this.keyv.get(this.#storeKey(key)).catch((err: unknown) => {
        if (err instanceof SyntaxError) return CORRUPT;
        throw err;
      }),
    );
    if (raw === CORRUPT) return this.#corrupt(key);
    if (raw === undefined || raw === null) return undefined;
    return this.#decode(key, raw);
  }

  /** Warns that the record of `key` is not JSON: it reads as absent. */
  #corrupt(key: string): undefined {
    this.#warn('CORRUPT_RECORD', key, 'is not valid JSON');
    return undefined;
  }

  /** The tokens of a stored value, or undefined (with a warning) when it reads as absent. */
  #decode(key: string, raw: unknown): TokenInfo | undefined {
    let envelope = raw;
    if (typeof raw === 'string')
      try {
        envelope = JSON.parse(raw);
      } catch {
        return this.#corrupt(key);
      }
    const plain =
      envelope !== null && typeof envelope === 'object' && (envelope as { enc?: unknown }).enc === undefined && 'tokenInfo' in envelope;
    if (plain && this.#cipher !== undefined && !this.#allowPlaintext) {
      const why = 'is not encrypted although an encryptionKey is set (set allowPlaintextRecords while migrating)';
      this.#warn('UNENCRYPTED_RECORD', key, why);
      return undefined;
    }
    const record = decodeRecord(envelope, key, this.#cipher);
    if ('tokenInfo' in record) return record.tokenInfo;
    this.#warn(record.problem, key, record.reason);
    return undefined;
  }

  /**
   * Writes the tokens under `key` (encrypted when an `encryptionKey` is set). Tokens without a refresh
   * token (user tokens minted by UserSession, system tokens) cannot be renewed once expired, so their
   * record expires too: `accessTokenTTLMS` plus an hour after the write (Redis drops it by itself; the
   * other backends read it as absent and {@link KeyvTokenStore.prune} deletes it). Records with a refresh
   * token never expire.
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the backend fails or reports the write as not done
   */
  async write(key: string, tokenInfo: TokenInfo): Promise<void> {
    checkString(key, 'key');
    const value = encodeRecord(tokenInfo, key, this.#cipher);
    const ttl = recordTTL(tokenInfo);
    const ok = await this.#op('write', key, () => this.keyv.set(this.#storeKey(key), value, ttl));
    if (ok === false) throw new TokenStoreError(`Token store write failed (${this.backend} backend) for key "${key}"`, { key });
  }

  /**
   * Writes the tokens under `key` (as {@link KeyvTokenStore.write} does) only if the record there now holds
   * `expected.refreshToken`, as {@link KeyvTokenStore.read} would return it: `undefined` matches no record,
   * one that reads as absent, and one without refresh token. Atomic across processes, holding no lock: the
   * record is judged after decryption and replaced by a compare-and-set on the stored value (one SQL
   * statement, one Lua script, one synchronous step on a Map; lib/store/conditional-write.ts). Present on
   * the URI backends, in memory and over a Keyv whose adapter is a Map; absent over any other adapter,
   * which has no atomic compare-and-set (sessions then write plainly).
   *
   * Resolves true when it wrote or the record already holds these refresh and access tokens (a retry of
   * a timed-out write that went through), false when it holds another refresh token. Rejects with
   * `ERR_INVALID_TOKEN_INFO`, `ERR_INVALID_ARG_VALUE` (key, `expected`) or `ERR_TOKEN_STORE`.
   * @see TokenStore.writeIf
   */
  writeIf?: (key: string, tokenInfo: TokenInfo, expected: { refreshToken: string | undefined }) => Promise<boolean>;

  /** writeIf, for a backend that has a compare-and-set. */
  async #writeIf(key: string, tokenInfo: TokenInfo, expected: { refreshToken: string | undefined }): Promise<boolean> {
    checkString(key, 'key');
    const want = checkExpected(expected);
    const value = encodeRecord(tokenInfo, key, this.#cipher);
    const ttl = recordTTL(tokenInfo);
    const storeKey = this.#storeKey(key);
    return this.#op('conditional write', key, () =>
      conditionalWrite(
        {
          rawGet: () => this.#rawGet(key),
          deserialize: async (raw) => (typeof raw === 'string' ? this.keyv.deserializeData(raw) : raw),
          serialize: (data) => this.keyv.serializeData(data),
          decode: (raw) => this.#decode(key, raw),
          corrupt: () => this.#corrupt(key),
          compareAndSet: (was, next, t) => this.#backend.compareAndSet!(storeKey, was, next, t),
          now: Date.now,
        },
        value,
        tokenInfo,
        ttl,
        want,
        key,
      ),
    );
  }

  /**
   * Removes the tokens under `key`.
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the backend fails
   */
  async clear(key: string): Promise<void> {
    checkString(key, 'key');
    await this.#op('clear', key, () => this.keyv.delete(this.#storeKey(key)));
  }

  /**
   * Lists the keys of this store's namespace that start with `prefix`. Only keys are read, so a
   * corrupt record is listed like any other (reading it then yields `undefined` and a warning), and so
   * is, on SQLite and Postgres, a record whose TTL has passed but that nobody has read or pruned yet.
   * @param prefix - e.g. `${namespace}:` to list the users of one UserSession
   * @returns the keys, sorted
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the backend cannot be listed or fails
   */
  async keys(prefix = ''): Promise<string[]> {
    if (typeof prefix !== 'string') {
      throw new InvalidArgumentError('prefix', `Expected \`prefix\` to be a string, got ${describeValue(prefix)}`);
    }
    const keys = await this.#op('keys', undefined, () => this.#backend.listKeys(prefix));
    return keys.sort();
  }

  /**
   * Deletes the records of this store's namespace that can never be used again: tokens without a
   * refresh token that have expired, records past their expiry, and corrupt records (not JSON, unknown
   * format, not a TokenInfo). Records with a refresh token are kept however old their access token, and
   * so are records this store cannot decrypt (another key may open them). A record rewritten by another
   * process while it was being judged is left alone.
   *
   * SQLite and Postgres keep expired records until they are read or pruned (Redis drops them by itself),
   * so run it now and then, e.g. with the `persistent-session tokens prune` command.
   * @returns how many records were deleted
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the backend fails
   */
  async prune(): Promise<number> {
    const keys = await this.#op('prune', undefined, () => this.#backend.listKeys(''));
    let removed = 0;
    for (const key of keys.sort()) {
      const raw = await this.#op('prune', key, () => this.#rawGet(key));
      if (raw === undefined || raw === null) continue;
      let data: unknown;
      try {
        data = typeof raw === 'string' ? await this.keyv.deserializeData(raw) : raw;
      } catch {
        data = undefined;
      }
      if (!isDeadRecord(data, key, this.#cipher, Date.now())) continue;
      // Judged on what was read: delete only if no one has written the key since.
      if ((await this.#op('prune', key, () => this.#rawGet(key))) !== raw) continue;
      await this.#op('prune', key, () => this.keyv.delete(this.#storeKey(key)));
      removed++;
    }
    return removed;
  }

  /** The stored value of `key` as the adapter holds it, bypassing Keyv's parsing and expiry. */
  async #rawGet(key: string): Promise<unknown> {
    return (this.keyv.store as { get(key: string): unknown }).get(this.#storeKey(key));
  }

  /**
   * Closes the backend's connections (idempotent); afterwards every operation rejects with
   * `TokenStoreError`. An idle store does not keep the process alive (its sockets and timers are
   * unref'd), so a process may also just end without calling it.
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the backend fails to close
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= (async () => {
      try {
        await this.#backend.close();
      } catch (err) {
        throw new TokenStoreError(
          `Token store close failed (${this.backend} backend): ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
    })();
    return this.#closing;
  }

  /** Closes the store, as {@link KeyvTokenStore.close}: `await using store = createTokenStore(uri)` closes it when the block ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * One-line form of `new KeyvTokenStore(uri)`.
 *
 * @param uri - `sqlite://path`, `redis://host:port`, `postgresql://…`, or nothing for memory
 * @param options - see {@link KeyvTokenStoreOptions}
 * @returns the store
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for an unsupported URI
 * @example
 * ```ts
 * const store = createTokenStore('sqlite://./.persistent-session/tokens.sqlite');
 * ```
 */
export function createTokenStore(uri?: string, options?: KeyvTokenStoreOptions): KeyvTokenStore {
  return new KeyvTokenStore(uri, options);
}
