/**
 * PersistentSession: one OAuth 2.0 credential that lives as long as the worker: single flight,
 * rotated refresh tokens persisted before the caller gets the token, no store wipe on transient
 * failures, a cross-process lock when the store has one.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, SessionError, TokenStoreError } from '../errors.js';
import { publish, type PersistentSessionEventMap } from '../events.js';
import { classifyExpiry } from './refusals.js';
import { DEFAULT_LOCK_TTL_MS, MIN_LOCK_TTL_MS } from '../store/locks/lease.js';
import { OAuthClient, resolveClient } from '../oauth/oauth-client.js';
import { checkDispatcher, checkFunction, checkKnownKeys, checkNumber, checkObject, checkString } from '../util/validate.js';
import { resolveRetryOptions } from '../oauth/retry-options.js';
import { redactTokenInfo, validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { registerSecret } from '../redact.js';
import type { HeldToken } from './held-token.js';
import { underLock } from './store-lock.js';
import { grantOf } from './grant-store.js';
import { clearTokens, readTokens } from '../store/store-io.js';
import { validateTokenStore, type TokenStore } from '../store/token-store.js';
import { MemoryStore } from '../store/memory-store.js';
import {
  KNOWN_OPTIONS,
  callOptions,
  checkExchangeArgs,
  checkRefreshQueue,
  resolveRefreshAhead,
  resolveRefreshBufferMS,
  type ExchangeTokenOptions,
  type RefreshIfOlderThanOptions,
  type GetAccessTokenOptions,
  type PersistentSessionOptions,
} from './persistent-session-options.js';
import { abortable, checkSignal } from './abort.js';
import { GrantKeeper } from './grant-keeper.js';
import { RefreshFlow } from './refresh-flow.js';
import { keepAlive } from './keep-alive.js';
import { exchangeToken } from './token-exchange.js';

export { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, type OAuthClientOptions } from '../oauth/oauth-client.js';
export {
  DEFAULT_EXPIRED_BUFFER_MS,
  type ExchangeTokenOptions,
  type GetAccessTokenOptions,
  type PersistentSessionOptions,
} from './persistent-session-options.js';
export type { RefreshIfOlderThanOptions } from './persistent-session-options.js';
export { PERSIST_RETRY_INTERVAL_MS } from './pending-write.js';

/** The key a PersistentSession uses in its store when none is given. */
export const DEFAULT_SESSION_KEY = 'default';

/**
 * One OAuth 2.0 credential, kept valid for as long as the worker runs.
 *
 * @example
 * ```ts
 * const session = new PersistentSession({
 *   tokenStore: createTokenStore('sqlite://./tokens.sqlite'),
 *   client: { tokenEndpoint: 'https://auth.example.com/oauth/token', clientId: 'id', clientSecret: 'secret' },
 * });
 * const token = await session.getAccessToken();
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6 (refresh), RFC 8693 (exchange), RFC 7009 (revocation)
 */
export class PersistentSession extends EventEmitter<PersistentSessionEventMap> {
  /**
   * What the hot path serves ({@link GrantKeeper.held}), in a field of its own so that a fresh token costs one
   * field read here and no call.
   */
  readonly #held: HeldToken;
  /** The clock (the `now` option), read once per call on the hot path. */
  readonly #now: () => number;
  /** The grant's state: tokens in memory, refusals, tokens a store outage kept back. */
  readonly #keeper: GrantKeeper;
  /** The slow paths (single flight, refresh ahead, cooldown). */
  readonly #flow: RefreshFlow;

  /**
   * @param options - see {@link PersistentSessionOptions}
   * @throws {@link InvalidTokenInfoError} `ERR_INVALID_TOKEN_INFO` for bad `tokenInfo`
   * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` for a bad `tokenStore`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for any other bad option, naming it
   */
  constructor(options: PersistentSessionOptions) {
    super();
    checkObject(options, 'options');
    checkKnownKeys(options as unknown as Record<string, unknown>, KNOWN_OPTIONS, 'options');
    const client = resolveClient(options.client, 'client');
    const seed = options.tokenInfo === undefined ? undefined : validateTokenInfo(options.tokenInfo);
    registerSecret(seed?.accessToken);
    registerSecret(seed?.refreshToken);
    // No store given: the session's own, with no other writer, so never re-read under the lock.
    const privateStore = options.tokenStore === undefined;
    const store: TokenStore = privateStore ? new MemoryStore() : validateTokenStore(options.tokenStore);
    const key = options.key === undefined ? DEFAULT_SESSION_KEY : checkString(options.key, 'key');
    const bufferMS = resolveRefreshBufferMS(options);
    const { ratio: aheadRatio, cooldownMS } = resolveRefreshAhead(options);
    const lockTTLMS = checkNumber(options.lockTTLMS ?? DEFAULT_LOCK_TTL_MS, 'lockTTLMS', { min: MIN_LOCK_TTL_MS });
    this.#now = options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now');
    const oauth = new OAuthClient(
      client,
      checkDispatcher(options.dispatcher),
      resolveRetryOptions(options.retry),
      checkRefreshQueue(options.refreshQueue),
    );
    this.#keeper = new GrantKeeper({
      events: this,
      store,
      privateStore,
      key,
      oauth,
      bufferMS,
      aheadRatio,
      lockTTLMS,
      now: this.#now,
      seed,
      clientId: client.clientId,
    });
    this.#held = this.#keeper.held;
    this.#flow = new RefreshFlow(this.#keeper, cooldownMS);
  }

  /** The store key of this session. */
  get key(): string {
    return this.#keeper.key;
  }

  /** How many callers joined a refresh that was already running (single flight). */
  get singleFlightJoins(): number {
    return this.#flow.flight.joins;
  }

  /**
   * Whether this session holds tokens that a store outage kept it from writing. Until they are
   * written the store holds an older grant (with rotating refresh tokens, a retired one): a session
   * in this state must not be dropped before {@link PersistentSession.flush} succeeds.
   */
  get hasUnwrittenTokens(): boolean {
    return this.#keeper.pending.tokens !== undefined;
  }

  /**
   * Lets the session's work end: waits for a refresh that is running (in the background too), then
   * writes tokens a store outage kept in memory ({@link PersistentSession.flush}). The store was given
   * by the caller, so it stays open; the session itself holds no timer or socket, so a process whose
   * work is done exits without this call. `await using session = new PersistentSession(…)` calls it
   * when the block ends.
   *
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when unwritten tokens still cannot be written
   */
  async close(): Promise<void> {
    // A background refresh starts on the next turn of the event loop: let it register first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.#flow.flight.settled();
    await this.flush();
  }

  /** As {@link PersistentSession.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Writes the tokens a store outage kept in memory now, without waiting for the next call's retry.
   * Resolves at once when there are none.
   *
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store still fails (the tokens stay in memory)
   */
  async flush(): Promise<void> {
    const k = this.#keeper;
    const unwritten = k.pending.tokens;
    if (unwritten === undefined) return;
    await k.writePending(unwritten);
    if (k.pending.tokens === undefined) k.rearm();
  }

  /**
   * Returns an access token valid for at least `refreshBufferMS` (capped at half its lifetime),
   * refreshing first when needed. Concurrent callers share one refresh. A rotated refresh token is
   * written to the store before this resolves, or rejects: also when the server's answer was malformed
   * (see {@link TokenRequestError}), so that the next call refreshes with it. Never throws: every failure is a rejection.
   *
   * @param options - `forceRefresh` refreshes even a fresh token; `signal` stops this caller's wait (see {@link GetAccessTokenOptions})
   * @returns the access token; never anything else. The promise itself may be shared with other
   *   callers (a fresh token is handed out as one settled promise), so treat it as read-only.
   * @throws `signal.reason` when `signal` aborted before the token came
   * @throws {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` when there are no tokens or the grant is dead
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing, or answered malformed
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed (new tokens are kept in memory)
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` (`field: 'key'`) when the store holds another OAuth client's grant
   *   under this key (see {@link GrantHealth.clientId})
   */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string> {
    try {
      if (options === undefined) {
        // Hot path: a fresh token costs one clock read and one comparison, and every caller gets the
        // same settled promise; no store read, no allocation.
        const held = this.#held;
        const now = this.#now();
        if (now < held.freshUntilMS) return held.token!;
        // Soft window: still served at once, while one refresh runs in the background.
        if (now < held.usableUntilMS) return this.#flow.ahead(now, held);
        return this.#flow.due(now);
      }
      const { force, signal } = callOptions(options);
      return abortable(signal, () => (force ? this.#flow.forced() : this.getAccessToken()));
    } catch (err) {
      // Never a synchronous throw (a `now` option that throws, a call without its `this`).
      return Promise.reject(err);
    }
  }

  /** The grant's absolute deadline (epoch ms), when the server reported one (`refresh_token_expires_in`). */
  get grantExpiresAtMS(): number | undefined {
    return grantOf(this.#keeper.tokenInfo)?.expiresAtMS;
  }

  /**
   * Keep-alive: refreshes the stored grant if its last refresh is older than `ms`, so that a refresh
   * token that dies of inactivity at the server stays alive. Runs under the store's lock for this
   * key and decides on the record it re-reads there, so that processes sweeping the same grants
   * together refresh each one once. The last refresh is the record's `grant.lastRefreshedAtMS`
   * when present, else its `acquiredAtMS`.
   *
   * @param ms - refresh if the last refresh is at least this old (ms, >= 0; 0 refreshes every grant)
   * @param options - `signal` stops this caller's wait (see {@link RefreshIfOlderThanOptions})
   * @returns whether it refreshed; `false` when the grant is recent enough or there are no tokens
   *   (or no refresh token) to keep alive
   * @throws `signal.reason` when `signal` aborted first
   * @throws {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` when the grant is dead
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad `ms` or `options`, or (`field: 'key'`) when the
   *   store holds another OAuth client's grant under this key
   */
  refreshIfOlderThan(ms: number, options?: RefreshIfOlderThanOptions): Promise<boolean> {
    try {
      const ageMS = checkNumber(ms, 'ms', { min: 0 });
      if (options !== undefined) checkObject(options, 'options');
      return abortable(checkSignal(options?.signal, 'options.signal'), () => keepAlive(this.#keeper, this.#flow.flight, ageMS));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Exchanges the current access token for a narrower one (RFC 8693). The result is returned, not stored.
   *
   * @param scopes - requested scopes (joined with spaces)
   * @param resource - the target resource URI, when given
   * @param options - `actorToken` for delegation; `signal` stops this caller's wait (a request already sent completes,
   *   its result is dropped)
   * @returns the new token's TokenInfo
   * @throws `signal.reason` when `signal` aborted before the token came
   * @throws {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` when the subject token is refused as invalid
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` for other failures
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for bad arguments
   * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
   */
  exchangeToken(scopes: string | string[], resource?: string, options?: ExchangeTokenOptions): Promise<TokenInfo> {
    try {
      const { scope, actorToken, signal } = checkExchangeArgs(scopes, resource, options);
      registerSecret(actorToken);
      return abortable(signal, () => exchangeToken(this.#keeper, () => this.getAccessToken(), scope, resource, actorToken));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Revokes the tokens at the server (RFC 7009: the refresh token, which takes its access tokens
   * with it; the access token when there is no refresh token), then clears the store key and
   * memory. A refresh running meanwhile keeps nothing. Revoking tokens that are already gone succeeds.
   *
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing (nothing is cleared, so the call can be repeated)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` (`field: 'key'`) when the store holds another OAuth client's
   *   grant under this key: nothing is revoked or cleared
   * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
   */
  async revokeTokens(): Promise<void> {
    const k = this.#keeper;
    k.epoch++;
    // A refresh already on the wire finishes first (and, seeing the new epoch, keeps nothing).
    await this.#flow.flight.current(k.key)?.catch(() => undefined);
    await underLock(
      k.store,
      `refresh:${k.key}`,
      async () => {
        let info = k.tokenInfo;
        try {
          info = (await k.sync()) ?? info;
        } catch (err) {
          // A store outage: revoke what this session holds. Another client's grant under the key: leave it be.
          if (info === undefined || err instanceof InvalidArgumentError) throw err;
        }
        let sent = false;
        if (info !== undefined && k.oauth.canRevoke) {
          await k.oauth.revoke(info.refreshToken ?? info.accessToken, info.refreshToken === undefined ? 'access_token' : 'refresh_token');
          sent = true;
        }
        k.forget();
        await clearTokens(k.store, k.key);
        publish(this, { type: 'revoke', key: k.key, atMS: this.#now(), sentToServer: sent });
      },
      { ttlMS: k.lockTTLMS },
    );
  }

  /**
   * Call this when a token was rejected as expired or revoked. A refused access token (a 401 from
   * an API, or any error that is not known to be transient) is dropped and the next call refreshes
   * with the refresh token; a dead grant (`invalid_grant`) clears memory and the store key — but
   * only if the store still holds that grant, not one another process put there since.
   * Transient failures (network, 5xx, 429) clear nothing.
   *
   * @param err - the error the API call failed with
   * @returns the same error, or a `TokenStoreError` when clearing the store failed
   */
  async handleExpiredTokensError(err: Error): Promise<Error> {
    const k = this.#keeper;
    const verdict = classifyExpiry(err);
    const reason = err instanceof SessionError ? err.code : (err?.name ?? 'Error');
    const atMS = this.#now();
    if (verdict === 'none') {
      publish(this, { type: 'expired', key: k.key, atMS, cleared: 'none', reason });
      return err;
    }
    if (verdict === 'access') {
      if (k.refusals.refuseAccess(err, k.tokenInfo, atMS, k.bufferMS)) this.#held.disarm();
      publish(this, { type: 'expired', key: k.key, atMS, cleared: 'access', reason });
      return err;
    }
    const dead = k.refusals.deadRefreshToken ?? k.tokenInfo?.refreshToken;
    if (dead !== undefined) k.refusals.deadRefreshToken = dead;
    k.forget();
    k.synced = false;
    // Reported and forgotten: the next call reads the store again (new tokens may be there); the dead refresh token stays refused.
    this.#flow.lastFailure = undefined;
    publish(this, { type: 'expired', key: k.key, atMS, cleared: 'all', reason });
    try {
      await underLock(
        k.store,
        `refresh:${k.key}`,
        async () => {
          const stored = await readTokens(k.store, k.key).catch(() => undefined);
          // Another process (or a new authorization) may have put a live grant there: keep it.
          // The app's word: the dead grant goes, its dead marker with it (a record without a refresh token is one).
          if (stored === undefined || dead === undefined || stored.refreshToken === undefined || stored.refreshToken === dead) {
            await clearTokens(k.store, k.key);
          }
        },
        { ttlMS: k.lockTTLMS },
      );
    } catch (clearErr) {
      return clearErr instanceof TokenStoreError
        ? clearErr
        : new TokenStoreError(`Clearing key "${k.key}" failed`, { cause: clearErr, key: k.key });
    }
    return err;
  }

  /** @internal Printed form: the key and the tokens' fingerprints, never the tokens. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PersistentSession ${JSON.stringify(this.toJSON())}`;
  }

  /** JSON form: the key and the redacted tokens. */
  toJSON(): Record<string, unknown> {
    const { key, tokenInfo } = this.#keeper;
    return { key, tokenInfo: tokenInfo === undefined ? undefined : redactTokenInfo(tokenInfo) };
  }
}
