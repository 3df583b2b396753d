/**
 * SessionPool: the grants of many customers in one worker, one PersistentSession per store key,
 * created on demand and dropped when idle, every refresh through one queue (a concurrency cap or
 * a rate limit), and keep-alive sweeps that refresh grants before their refresh tokens die of
 * inactivity.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { ExpiredTokensError, InvalidArgumentError, SessionError, TokenStoreError } from '../errors.js';
import { checkString } from '../util/validate.js';
import { checkSignal } from './abort.js';
import { TokenCache } from './session-pool-cache.js';
import { PersistentSession, type GetAccessTokenOptions } from './persistent-session.js';
import {
  checkSweepOptions,
  resolvePoolOptions,
  type ResolvedPoolOptions,
  type SessionPoolEventMap,
  type SessionPoolOptions,
  type SweepOptions,
  type SweepResult,
} from './session-pool-options.js';

export {
  DEFAULT_MAX_CACHED_TOKENS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_POOL_CONCURRENCY,
  type SessionPoolEventMap,
  type SessionPoolOptions,
  type SweepOptions,
  type SweepProgress,
  type SweepResult,
} from './session-pool-options.js';

function closedError(): InvalidArgumentError {
  return new InvalidArgumentError('pool', 'The SessionPool is closed');
}

/** The keys from a random place on, wrapping around: processes sweeping together mostly take different grants. */
function rotated(keys: string[]): string[] {
  const at = Math.floor(Math.random() * keys.length);
  return [...keys.slice(at), ...keys.slice(0, at)];
}

/**
 * Many grants, one per store key (e.g. one per customer), in one worker.
 *
 * Sessions are created on demand by {@link SessionPool.get} and the same instance is returned while
 * it stays in memory; beyond `maxSessions` the least recently used are dropped and read back from the
 * store when next asked for. Every token-endpoint refresh of the pool waits in one queue.
 *
 * @example
 * ```ts
 * const pool = new SessionPool({
 *   tokenStore: createTokenStore('redis://127.0.0.1:6379'),
 *   client: { tokenEndpoint: 'https://auth.example.com/oauth/token', clientId: 'id', clientSecret: 'secret' },
 *   rateLimit: { perMinute: 600 },
 *   keepAlive: { everyMS: 24 * 3_600_000 },
 * });
 * const token = await pool.getAccessToken(`customer:${customerId}`);
 * ```
 */
export class SessionPool extends EventEmitter<SessionPoolEventMap> {
  readonly #options: ResolvedPoolOptions;
  /** The live sessions, least recently used first (a Map keeps insertion order). */
  readonly #sessions = new Map<string, PersistentSession>();
  /** The access tokens of grants, sessions dropped or not. */
  readonly #tokens: TokenCache;
  readonly #closer = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<SweepResult> | undefined;
  #closed: Promise<void> | undefined;

  /**
   * @param options - see {@link SessionPoolOptions}
   * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` for a bad `tokenStore`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for any other bad option, naming it
   */
  constructor(options: SessionPoolOptions) {
    super();
    this.#options = resolvePoolOptions(options);
    this.#tokens = new TokenCache(this.#options.maxCachedTokens);
    // The shared session options are checked once, here, by a session that is then let go.
    void new PersistentSession({ ...this.#options.session, key: 'session-pool-check' });
    const keepAlive = this.#options.keepAlive;
    if (keepAlive !== undefined) {
      this.#timer = setInterval(() => this.#keepAlive(keepAlive.olderThanMS), keepAlive.everyMS).unref();
    }
  }

  /** How many grants' access tokens are cached. */
  get cachedTokens(): number {
    return this.#tokens.size;
  }

  /** How many sessions are in memory. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The queue every refresh of the pool waits in. */
  get queue(): ResolvedPoolOptions['queue'] {
    return this.#options.queue;
  }

  /**
   * The session of `key`, created (and announced with a `session` event) if it is not in memory.
   *
   * @param key - the store key of the grant
   * @returns the same instance as long as it stays in memory
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a key that is not a non-empty string
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` once the pool is closed
   */
  get(key: string): PersistentSession {
    const sessions = this.#sessions;
    let session = sessions.get(key);
    if (session !== undefined) {
      // Most recently used goes last; the oldest is dropped first.
      sessions.delete(key);
      sessions.set(key, session);
      return session;
    }
    if (this.#closed !== undefined) throw closedError();
    session = this.#create(checkString(key, 'key'));
    sessions.set(key, session);
    if (sessions.size > this.#options.maxSessions) sessions.delete(sessions.keys().next().value!);
    this.emit('session', session);
    return session;
  }

  /**
   * An access token of the grant `key`. A fresh token the pool holds is handed out at once (no
   * session, no store read); otherwise as `pool.get(key).getAccessToken(options)`, and the token is
   * then cached (see {@link SessionPoolOptions.maxCachedTokens}). A refresh, `handleExpiredTokensError`
   * or `revokeTokens` on the grant's session drops its cached token.
   *
   * @param key - the store key of the grant
   * @param options - see {@link GetAccessTokenOptions}; with any option the session is asked
   * @returns the access token (see {@link PersistentSession.getAccessToken} for every rejection)
   */
  getAccessToken(key: string, options?: GetAccessTokenOptions): Promise<string> {
    try {
      if (options === undefined) {
        const cached = this.#tokens.fresh(key, this.#options.now());
        if (cached !== undefined) return cached;
      }
      const session = this.get(key);
      return session.getAccessToken(options).then((token) => {
        this.#tokens.remember(session, token, this.#options.bufferMS);
        return token;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Drops the session of `key` from memory (its tokens stay in the store).
   * @returns whether it was in memory
   */
  delete(key: string): boolean {
    this.#tokens.forget(key);
    return this.#sessions.delete(key);
  }

  /** A session of the pool; `cached` ones drop the grant's cached token whenever theirs changes. */
  #create(key: string, cached = true): PersistentSession {
    const session = new PersistentSession({ ...this.#options.session, key });
    if (cached) {
      const forget = (): void => this.#tokens.forget(key);
      session.on('refresh', forget);
      session.on('expired', forget);
      session.on('revoke', forget);
    }
    return session;
  }

  /**
   * Refreshes every grant of the store (keys starting with `prefix`) whose last refresh is at least
   * `olderThanMS` old, through {@link PersistentSession.refreshIfOlderThan} and the pool's queue.
   * Processes sweeping one store together refresh each grant once: the decision is taken under the
   * key's lock. Each sweep starts at a random place in the key list, so that such processes mostly
   * work on different grants. Emits `sweepProgress` after each grant and `sweepDone` at the end.
   * One sweep runs at a time per pool: a call while one runs gets that sweep's result.
   *
   * @param options - see {@link SweepOptions}
   * @returns the counts, and the keys of the dead grants
   * @throws `signal.reason` when `signal` aborted (after `sweepDone` with `aborted: true`)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store could not list its keys
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for bad options, or a store without `keys()`
   */
  sweep(options: SweepOptions): Promise<SweepResult> {
    try {
      const { olderThanMS, prefix, signal } = checkSweepOptions(options);
      checkSignal(signal, 'options.signal');
      if (this.#closed !== undefined) throw closedError();
      if (this.#sweeping !== undefined) return this.#sweeping;
      const run = this.#sweep(olderThanMS, prefix, signal).finally(() => {
        this.#sweeping = undefined;
      });
      this.#sweeping = run;
      return run;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #sweep(olderThanMS: number, prefix: string, signal: AbortSignal | undefined): Promise<SweepResult> {
    const { store, concurrency } = this.#options;
    if (typeof store.keys !== 'function') {
      throw new InvalidArgumentError('tokenStore', "sweep() lists the store's keys, and this tokenStore has no keys() method");
    }
    const now = this.#options.now;
    const started = now();
    const stop = signal === undefined ? this.#closer.signal : AbortSignal.any([signal, this.#closer.signal]);
    const keys = rotated(await store.keys(prefix).catch((err: unknown) => {
      if (err instanceof SessionError) throw err;
      throw new TokenStoreError(`Listing the store's keys failed: ${err instanceof Error ? err.name : typeof err}`, { cause: err });
    }));
    const progress = { done: 0, total: keys.length, refreshed: 0, skipped: 0, dead: 0, failed: 0 };
    const deadKeys: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!stop.aborted && next < keys.length) {
        const key = keys[next++]!;
        // A session in memory is used as is (not moved up the LRU); otherwise a transient one.
        const session = this.#sessions.get(key) ?? this.#create(key, false);
        try {
          if (await session.refreshIfOlderThan(olderThanMS, { signal: stop })) progress.refreshed++;
          else progress.skipped++;
        } catch (err) {
          if (stop.aborted && err === stop.reason) break;
          if (err instanceof ExpiredTokensError) {
            progress.dead++;
            deadKeys.push(key);
          } else {
            progress.failed++;
          }
        }
        progress.done++;
        this.emit('sweepProgress', { ...progress });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
    const result: SweepResult = { ...progress, durationMS: now() - started, deadKeys: deadKeys.sort(), aborted: stop.aborted };
    this.emit('sweepDone', result);
    if (signal?.aborted === true) throw signal.reason;
    return result;
  }

  #keepAlive(olderThanMS: number): void {
    if (this.#sweeping !== undefined || this.#closed !== undefined) return;
    this.sweep({ olderThanMS }).catch((err: unknown) => {
      this.emit('sweepError', { code: err instanceof SessionError ? err.code : 'ERR_UNKNOWN' });
    });
  }

  /**
   * Stops the keep-alive timer and any running sweep (grants in flight settle first), drops every
   * session from memory and, if the pool built its queue, empties it. The store is not closed (the
   * pool was given it). Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      this.#closer.abort(closedError());
      await this.#sweeping?.catch(() => undefined);
      this.#sessions.clear();
      this.#tokens.clear();
      if (this.#options.ownQueue) this.#options.queue.clear();
    })();
    return this.#closed;
  }

  /** `await using pool = new SessionPool(…)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal Printed form: counts only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const o = this.#options;
    const counts = {
      size: this.#sessions.size, maxSessions: o.maxSessions, cachedTokens: this.#tokens.size, maxCachedTokens: o.maxCachedTokens,
    };
    return `SessionPool ${JSON.stringify(counts)}`;
  }
}
