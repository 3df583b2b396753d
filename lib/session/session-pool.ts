/**
 * SessionPool: the grants of many customers in one worker, one PersistentSession per store key,
 * created on demand and dropped when idle, every refresh through one queue (a concurrency cap or
 * a rate limit), and keep-alive sweeps that refresh grants before their refresh tokens die of
 * inactivity.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, SessionError } from '../errors.js';
import { checkString } from '../util/validate.js';
import { checkSignal } from './abort.js';
import { TokenCache } from './session-pool-cache.js';
import { LiveSessions } from './session-pool-sessions.js';
import { SweepLine, sweepKeys, type SweepArgs } from './session-pool-sweeps.js';
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
  readonly #sessions: LiveSessions;
  /** The access tokens of grants, sessions dropped or not. */
  readonly #tokens: TokenCache;
  readonly #closer = new AbortController();
  /** The sessions a sweep made for keys not in memory, while it works on them. */
  readonly #swept = new Map<string, PersistentSession>();
  readonly #sweeps = new SweepLine();
  #timer: NodeJS.Timeout | undefined;
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
    this.#sessions = new LiveSessions(this.#options.maxSessions);
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
   * Beyond `maxSessions` the least recently used session is dropped, except one holding tokens a
   * store outage kept from being written ({@link PersistentSession.hasUnwrittenTokens}): dropping
   * it would leave the store with a refresh token the server has retired. Such a session stays in
   * memory, beyond the bound, and is dropped once {@link PersistentSession.flush} (retried at each
   * overflow) has written its tokens.
   *
   * @param key - the store key of the grant
   * @returns the same instance as long as it stays in memory
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a key that is not a non-empty string
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` once the pool is closed
   */
  get(key: string): PersistentSession {
    let session = this.#sessions.touch(key);
    if (session !== undefined) return session;
    if (this.#closed !== undefined) throw closedError();
    // A sweep working on this key has a session for it: the one key, one session rule holds.
    session = this.#swept.get(checkString(key, 'key')) ?? this.#create(key);
    this.#adopt(key, session);
    return session;
  }

  /** Puts `session` into memory as the most recently used, announces it and keeps the bound. */
  #adopt(key: string, session: PersistentSession): void {
    if (this.#swept.get(key) === session) this.#watch(key, session);
    this.#sessions.add(key, session);
    this.emit('session', session);
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
   * Drops the session of `key` from memory (its tokens stay in the store). Unlike the pool's own
   * eviction this drops even a session with {@link PersistentSession.hasUnwrittenTokens}: call its
   * {@link PersistentSession.flush} first.
   * @returns whether it was in memory
   */
  delete(key: string): boolean {
    this.#tokens.forget(key);
    return this.#sessions.delete(key);
  }

  /** A session of the pool; `cached` ones drop the grant's cached token whenever theirs changes. */
  #create(key: string, cached = true): PersistentSession {
    const session = new PersistentSession({ ...this.#options.session, key });
    if (cached) this.#watch(key, session);
    return session;
  }

  #watch(key: string, session: PersistentSession): void {
    const forget = (): void => this.#tokens.forget(key);
    session.on('refresh', forget);
    session.on('expired', forget);
    session.on('revoke', forget);
  }

  /**
   * Refreshes every grant of the store (keys starting with `prefix`) whose last refresh is at least
   * `olderThanMS` old, through {@link PersistentSession.refreshIfOlderThan} and the pool's queue.
   * Processes sweeping one store together refresh each grant once: the decision is taken under the
   * key's lock. Each sweep starts at a random place in the key list, so that such processes mostly
   * work on different grants. Emits `sweepProgress` after each grant and `sweepDone` at the end.
   * One sweep runs at a time per pool: a call with the same options as the last sweep asked for
   * (same `olderThanMS`, `prefix` and `signal` object) joins it and gets its result; a call with
   * other options waits for the sweeps before it to end, then runs (its signal, aborted while it
   * waits, rejects it at once and it never starts). A grant whose new tokens the store could not
   * take counts as failed, and its session stays in memory until they are written (see {@link SessionPool.get}).
   *
   * @param options - see {@link SweepOptions}
   * @returns the counts, and the keys of the dead grants
   * @throws `signal.reason` when `signal` aborted: once the grants in flight have settled (after `sweepDone`
   *   with `aborted: true`), or at once while the sweep still waited for another
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store could not list its keys
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for bad options, or a store without `keys()`
   */
  sweep(options: SweepOptions): Promise<SweepResult> {
    try {
      const { olderThanMS, prefix, signal } = checkSweepOptions(options);
      checkSignal(signal, 'options.signal');
      if (this.#closed !== undefined) throw closedError();
      return this.#sweeps.add({ olderThanMS, prefix, signal }, (args) => this.#sweep(args));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #sweep(args: SweepArgs): Promise<SweepResult> {
    if (this.#closed !== undefined) throw closedError();
    const { store, concurrency, now } = this.#options;
    const result = await sweepKeys(
      {
        store,
        concurrency,
        now,
        closing: this.#closer.signal,
        lend: (key) => {
          // A session in memory is used as is (not moved up the LRU); otherwise a transient one.
          const live = this.#sessions.peek(key);
          if (live !== undefined) return { session: live, done: () => undefined };
          const session = this.#create(key, false);
          this.#swept.set(key, session);
          return {
            session,
            done: () => {
              this.#swept.delete(key);
              // Its new tokens live only in this session: it joins the pool instead of being dropped.
              if (session.hasUnwrittenTokens && this.#sessions.peek(key) !== session) this.#adopt(key, session);
            },
          };
        },
        progress: (p) => this.emit('sweepProgress', p),
      },
      args,
    );
    this.emit('sweepDone', result);
    if (args.signal?.aborted === true) throw args.signal.reason;
    return result;
  }

  #keepAlive(olderThanMS: number): void {
    if (!this.#sweeps.idle || this.#closed !== undefined) return;
    this.sweep({ olderThanMS }).catch((err: unknown) => {
      this.emit('sweepError', { code: err instanceof SessionError ? err.code : 'ERR_UNKNOWN' });
    });
  }

  /**
   * Stops the keep-alive timer and any running sweep (grants in flight settle first; sweeps still
   * waiting reject), writes the tokens a store outage kept in sessions' memory
   * ({@link PersistentSession.flush}), drops every session from memory and, if the pool built its
   * queue, empties it. The store is not closed (the pool was given it).
   *
   * When the store still cannot take some session's tokens, the call rejects and those sessions stay
   * in memory (`pool.get(key)` still returns them): call `close()` again once the store is back, or
   * the grants are lost (with rotating refresh tokens the store holds a retired one). Otherwise idempotent.
   *
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when some session's tokens could not be written;
   *   its `cause` is the first store error
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      this.#closer.abort(closedError());
      await this.#sweeps.ended();
      this.#tokens.clear();
      if (this.#options.ownQueue) this.#options.queue.clear();
    })();
    return this.#closed.then(() => this.#sessions.flushAll());
  }

  /** `await using pool = new SessionPool(…)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @internal Printed form: counts only. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const o = this.#options;
    const counts = {
      size: this.#sessions.size,
      maxSessions: o.maxSessions,
      cachedTokens: this.#tokens.size,
      maxCachedTokens: o.maxCachedTokens,
    };
    return `SessionPool ${JSON.stringify(counts)}`;
  }
}
