/**
 * PersistentSession: one OAuth 2.0 credential that lives as long as the worker: single flight,
 * rotated refresh tokens persisted before the caller gets the token, no store wipe on transient
 * failures, a cross-process lock when the store has one.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { ExpiredTokensError, SessionError, TokenStoreError } from '../errors.js';
import { publish, type PersistentSessionEventMap } from '../events.js';
import { Refusals, classifyExpiry } from './refusals.js';
import { DEFAULT_LOCK_TTL_MS, MIN_LOCK_TTL_MS } from '../store/locks/lease.js';
import { OAuthClient, resolveClient, tokenInfoFrom } from '../oauth/oauth-client.js';
import { checkDispatcher, checkFunction, checkKnownKeys, checkNumber, checkObject, checkString } from '../util/validate.js';
import { resolveRetryOptions } from '../oauth/retry-options.js';
import { expiresAtMS, redactTokenInfo, validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { registerSecret } from '../redact.js';
import { SingleFlight } from './single-flight.js';
import { HeldToken, refreshAheadFromMS } from './held-token.js';
import { PendingWrite } from './pending-write.js';
import { underLock } from './store-lock.js';
import { deadGrantError, failureRecord, grantOf, hasWriteIf, newerGrant, withGrant, writeIfUnchanged } from './grant-store.js';
import { clearTokens, readTokens, writeTokens } from '../store/store-io.js';
import { validateTokenStore, type TokenStore } from '../store/token-store.js';
import { MemoryStore } from '../store/memory-store.js';
import {
  KNOWN_OPTIONS, callOptions, checkExchangeArgs, resolveRefreshAhead, resolveRefreshBufferMS,
  type ExchangeTokenOptions, type GetAccessTokenOptions, type PersistentSessionOptions,
} from './persistent-session-options.js';
import { abortable } from './abort.js';
import { checkRefreshQueue, type RefreshIfOlderThanOptions } from './persistent-session-options.js';
import { checkSignal } from './abort.js';

export { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, type OAuthClientOptions } from '../oauth/oauth-client.js';
export {
  DEFAULT_EXPIRED_BUFFER_MS, type ExchangeTokenOptions, type GetAccessTokenOptions, type PersistentSessionOptions,
} from './persistent-session-options.js';
export type { RefreshIfOlderThanOptions } from './persistent-session-options.js';
export { PERSIST_RETRY_INTERVAL_MS } from './pending-write.js';

/** The key a PersistentSession uses in its store when none is given. */
export const DEFAULT_SESSION_KEY = 'default';

/** When a grant was last refreshed: the record's `grant.lastRefreshedAtMS` when the store keeps it, else when its tokens came. */
function lastRefreshMS(info: TokenInfo): number {
  const at = (info as { grant?: { lastRefreshedAtMS?: unknown } }).grant?.lastRefreshedAtMS;
  return typeof at === 'number' ? at : info.acquiredAtMS;
}

/** Errors of refreshes that succeeded at the server but could not be stored (the token is new, not stale). */
const REFRESHED_BUT_UNSTORED = new WeakSet<object>();

/** Errors of refreshes the server answered (or that a known-dead grant made needless): they start a cooldown. */
const REFRESH_FAILURES = new WeakSet<object>();

/** The stores sessions made for themselves (no `tokenStore` given): no other writer, so never re-read under the lock. */
const PRIVATE_STORES = new WeakSet<TokenStore>();

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
  readonly #store: TokenStore;
  readonly #key: string;
  readonly #oauth: OAuthClient;
  readonly #bufferMS: number;
  /** The soft window's share of a token's lifetime (0: no refresh ahead). */
  readonly #aheadRatio: number;
  /** The bound of the backoff after failed refreshes. */
  readonly #cooldownMS: number;
  readonly #lockTTLMS: number;
  readonly #now: () => number;
  readonly #flight = new SingleFlight<string>();
  /** What the hot path serves: armed when a slow path completes, disarmed by every change of what it depends on. */
  readonly #held = new HeldToken();
  /** What the server refused (an access token, the grant) and the clock skew its refusals revealed. */
  readonly #refusals = new Refusals();
  /** Tokens refreshed during a store outage: written as soon as the store is back. */
  readonly #pending = new PendingWrite();
  /** The current tokens (which the hot path serves only while {@link PersistentSession.#held} is armed). */
  #tokenInfo: TokenInfo | undefined;
  /** The constructor's tokens: written to an empty store, or tried once if the stored grant is dead. */
  #seed: TokenInfo | undefined;
  /** Whether the store has been consulted since construction (cold start) or since the grant died. */
  #synced = false;
  /** While a forced refresh waits: the access token it replaces (see {@link PersistentSession.#obtain}). */
  #replacing: string | undefined;
  /** Bumped by revokeTokens(): a refresh that started before it keeps nothing. */
  #epoch = 0;
  /** The error of the last failed refresh, handed to callers during the cooldown that follows it; undefined once one succeeds. */
  #lastFailure: unknown;

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
    this.#seed = options.tokenInfo === undefined ? undefined : validateTokenInfo(options.tokenInfo);
    this.#tokenInfo = this.#seed;
    registerSecret(this.#seed?.accessToken);
    registerSecret(this.#seed?.refreshToken);
    if (options.tokenStore === undefined) {
      this.#store = new MemoryStore();
      PRIVATE_STORES.add(this.#store);
    } else {
      this.#store = validateTokenStore(options.tokenStore);
    }
    this.#key = options.key === undefined ? DEFAULT_SESSION_KEY : checkString(options.key, 'key');
    this.#bufferMS = resolveRefreshBufferMS(options);
    ({ ratio: this.#aheadRatio, cooldownMS: this.#cooldownMS } = resolveRefreshAhead(options));
    this.#lockTTLMS = checkNumber(options.lockTTLMS ?? DEFAULT_LOCK_TTL_MS, 'lockTTLMS', { min: MIN_LOCK_TTL_MS });
    this.#now = options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now');
    this.#oauth = new OAuthClient(client, checkDispatcher(options.dispatcher), resolveRetryOptions(options.retry),
      checkRefreshQueue(options.refreshQueue));
  }

  /** The store key of this session. */
  get key(): string {
    return this.#key;
  }

  /** How many callers joined a refresh that was already running (single flight). */
  get singleFlightJoins(): number {
    return this.#flight.joins;
  }

  /**
   * Whether this session holds tokens that a store outage kept it from writing. Until they are
   * written the store holds an older grant (with rotating refresh tokens, a retired one): a session
   * in this state must not be dropped before {@link PersistentSession.flush} succeeds.
   */
  get hasUnwrittenTokens(): boolean {
    return this.#pending.tokens !== undefined;
  }

  /**
   * Writes the tokens a store outage kept in memory now, without waiting for the next call's retry.
   * Resolves at once when there are none.
   *
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store still fails (the tokens stay in memory)
   */
  async flush(): Promise<void> {
    const unwritten = this.#pending.tokens;
    if (unwritten === undefined) return;
    try {
      await writeTokens(this.#store, this.#key, unwritten);
    } catch (err) {
      this.#pending.retryLater(this.#now());
      throw err;
    }
    if (this.#pending.tokens === unwritten) {
      this.#pending.done();
      this.#rearm();
    }
  }

  /**
   * Returns an access token valid for at least `refreshBufferMS` (capped at half its lifetime),
   * refreshing first when needed. Concurrent callers share one refresh. A rotated refresh token is
   * written to the store before this resolves. Never throws: every failure is a rejection.
   *
   * @param options - `forceRefresh` refreshes even a fresh token; `signal` stops this caller's wait (see {@link GetAccessTokenOptions})
   * @returns the access token; never anything else. The promise itself may be shared with other
   *   callers (a fresh token is handed out as one settled promise), so treat it as read-only.
   * @throws `signal.reason` when `signal` aborted before the token came
   * @throws {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` when there are no tokens or the grant is dead
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed (new tokens are kept in memory)
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
        if (now < held.usableUntilMS) return this.#ahead(now, held);
        return this.#due(now);
      }
      const { force, signal } = callOptions(options);
      return abortable(signal, () => (force ? this.#forced() : this.getAccessToken()));
    } catch (err) {
      // Never a synchronous throw (a `now` option that throws, a call without its `this`).
      return Promise.reject(err);
    }
  }

  /**
   * The slow path. After a failed refresh the key cools down (see `refreshCooldownMS`): until then callers get
   * the held token while it has not expired, else the last error, and no request is sent.
   */
  #due(now: number): Promise<string> {
    const held = this.#held;
    const failure = this.#lastFailure;
    if (failure !== undefined && now < held.retryAtMS && held.retryAtMS !== Infinity && !this.#flight.has(this.#key)) {
      const info = this.#tokenInfo;
      if (!this.#refusals.servable(info, now, 0)) return Promise.reject(failure);
      return held.accessToken === info.accessToken ? held.token! : Promise.resolve(info.accessToken);
    }
    // Callers share the flight's very promise (nothing allocated per joining caller).
    return this.#flight.run(this.#key, this.#obtain);
  }

  /**
   * The second branch: `held` is in its soft window. Starts one refresh in the background unless one runs
   * or the last one failed too recently (backoff), and serves `held` meanwhile.
   */
  #ahead(now: number, held: HeldToken): Promise<string> {
    if (now >= held.retryAtMS) {
      // No other caller schedules one until this one has settled (a failure sets the backoff, a new token
      // resets it). Begun on the next turn of the event loop, so that the callers served now do not pay for it.
      held.retryAtMS = Infinity;
      setImmediate(this.#startAhead);
    }
    return held.token!;
  }

  /** The background refresh (or the flight already running, joined); a failure is reported (refreshError) and backed off in it. */
  readonly #startAhead = (): void => {
    const held = this.#held;
    const settled = (): void => {
      if (held.retryAtMS === Infinity) held.retryAtMS = -Infinity;
    };
    this.#flight.run(this.#key, this.#obtainAhead).then(settled, settled);
  };

  readonly #obtainAhead = (): Promise<string> => this.#obtain(undefined, true);

  async #forced(): Promise<string> {
    // A forced refresh replaces the token that is current once any running flight has settled
    // (and, on a cold start, once the store has been read).
    await (this.#flight.current(this.#key) ?? (this.#synced ? undefined : this.#flight.run(this.#key, this.#obtain)))?.catch(() => undefined);
    const away = this.#tokenInfo?.accessToken ?? '';
    const replace = (): Promise<string> => this.#obtain(away);
    this.#replacing = away;
    try {
      const next = await this.#flight.run(this.#key, replace);
      // It joined an ordinary flight that started before it said what to replace: go again (that once suffices).
      return next === away ? await this.#flight.run(this.#key, replace) : next;
    } finally {
      if (this.#replacing === away) this.#replacing = undefined;
    }
  }

  /**
   * The slow path, run as a flight: catch up with the store, else refresh under the lock; re-arm
   * the hot path; hand out the access token. The token obtained is never `away`, which is by default
   * the token a waiting forced refresh replaces: ordinary flights then replace it too, so that the
   * forced call cannot keep joining ordinary flights that hand the old token back.
   */
  readonly #obtain = async (away: string | undefined = this.#replacing, ahead = false): Promise<string> => {
    const started = this.#now();
    const epoch = this.#epoch;
    let info: TokenInfo;
    try {
      info = await this.#catchUp(away, ahead) ?? await underLock(this.#store, `refresh:${this.#key}`, async () => {
        // Inside the lock: another process may have refreshed while we waited. A private store has no
        // other writer: what this session holds is what it holds.
        const before = this.#tokenInfo;
        const current = PRIVATE_STORES.has(this.#store) && this.#synced ? before : await this.#sync();
        const grant = current?.refreshToken;
        if (this.#servable(current, away, ahead)) {
          if (current !== before) this.#emitRefresh(started, current, false, 'store');
          return current;
        }
        try {
          return await this.#refresh(current, started, epoch);
        } catch (err) {
          // The stored grant is dead and the constructor's seed is another grant: try the seed once.
          const seed = this.#seed;
          if (!(err instanceof ExpiredTokensError) || seed === undefined || seed.refreshToken === grant) throw err;
          this.#seed = undefined;
          this.#hold(seed);
          if (!this.#servable(seed, undefined)) return await this.#refresh(seed, started, epoch);
          await writeTokens(this.#store, this.#key, seed);
          return seed;
        }
      }, { ttlMS: this.#lockTTLMS });
    } catch (err) {
      this.#emitError(started, err);
      if (err !== null && typeof err === 'object' && REFRESH_FAILURES.has(err)) {
        // The next refresh of this key waits (backoff, bounded by the cooldown) so that a failing server or
        // a dead grant sees no storm; meanwhile a valid held token keeps serving.
        this.#lastFailure = err;
        if (ahead) this.#rearm();
        this.#held.failed(this.#now(), this.#cooldownMS);
      } else if (ahead) {
        // Not the server (the store, say): the held token keeps serving, and the next background try waits too.
        this.#rearm();
        this.#held.failed(this.#now(), this.#cooldownMS);
      }
      if (ahead) throw err;
      const held = this.#tokenInfo;
      // Store outage before any refresh: the token in memory has not expired yet; keep serving it.
      const outage = err instanceof TokenStoreError && !REFRESHED_BUT_UNSTORED.has(err) && away === undefined;
      if (!outage || !this.#refusals.servable(held, this.#now(), 0)) throw err;
      info = held;
    }
    this.#lastFailure = undefined;
    this.#rearm();
    return info.accessToken;
  };

  /**
   * Before the lock: writes tokens a store outage kept in memory, reads the store on a cold start.
   * @returns the held tokens if they can be served as they are
   */
  async #catchUp(away: string | undefined, ahead = false): Promise<TokenInfo | undefined> {
    const unwritten = this.#pending.due(this.#now());
    if (unwritten !== undefined) {
      try {
        await writeTokens(this.#store, this.#key, unwritten);
        this.#pending.done();
      } catch (err) {
        this.#pending.retryLater(this.#now());
        if (!this.#servable(this.#tokenInfo, away)) throw err;
      }
    }
    if (!this.#synced) {
      try {
        await this.#sync();
      } catch (err) {
        // The store is down: a token we hold is still good to serve.
        if (!this.#servable(this.#tokenInfo, away)) throw err;
      }
    }
    return this.#servable(this.#tokenInfo, away, ahead) ? this.#tokenInfo : undefined;
  }

  /** Whether `info` may be served (not `away`, not refused, outside the hard buffer; with `ahead`, outside the soft window too). */
  #servable(info: TokenInfo | undefined, away: string | undefined, ahead = false): info is TokenInfo {
    const now = this.#now();
    if (!this.#refusals.servable(info, now, this.#bufferMS, away)) return false;
    return !ahead || now < refreshAheadFromMS(info, this.#bufferMS, this.#aheadRatio, this.#refusals.skewMS);
  }

  /** Makes `info` the current tokens; the hot path waits for the next re-arm. */
  #hold(info: TokenInfo): void {
    this.#tokenInfo = info;
    this.#held.disarm();
  }

  /** Drops every token held in memory (the hot path's copy included). */
  #forget(): void {
    this.#tokenInfo = undefined;
    this.#seed = undefined;
    this.#pending.done();
    this.#held.clear();
  }

  /** Re-arms the hot path from the current state (see {@link HeldToken}). */
  #rearm(): void {
    const info = this.#tokenInfo;
    if (info === undefined || !this.#synced || this.#pending.tokens !== undefined || info.accessToken === this.#refusals.accessToken) {
      this.#held.disarm();
    } else {
      this.#held.arm(info, this.#bufferMS, this.#refusals.skewMS, this.#aheadRatio);
    }
  }

  /**
   * Reads the store and adopts what it holds: the store is the shared truth (other processes
   * rotate), except for tokens this session refreshed but could not write yet. An empty store
   * gets the tokens held in memory (e.g. the constructor's seed).
   */
  async #sync(): Promise<TokenInfo | undefined> {
    const stored = await readTokens(this.#store, this.#key);
    this.#synced = true;
    const mine = this.#tokenInfo;
    if (stored === undefined) {
      if (mine !== undefined && mine.refreshToken !== this.#refusals.deadRefreshToken) {
        await writeTokens(this.#store, this.#key, mine).catch(() => {
          this.#pending.hold(mine);
          this.#held.disarm();
        });
      }
      return mine;
    }
    if (this.#pending.tokens !== undefined && mine !== undefined) return mine;
    if (stored.refreshToken === undefined || stored.refreshToken !== this.#refusals.deadRefreshToken) {
      registerSecret(stored.accessToken);
      registerSecret(stored.refreshToken);
      this.#hold(stored);
    }
    return this.#tokenInfo;
  }

  /** Refreshes with `current`'s refresh token and persists the result before returning it. */
  async #refresh(current: TokenInfo | undefined, started: number, epoch: number): Promise<TokenInfo> {
    if (current === undefined) {
      throw new ExpiredTokensError(`No tokens for key "${this.#key}": the session was given no tokenInfo and the store holds none; authorize the user first`);
    }
    const dead = grantOf(current)?.dead;
    if (dead !== undefined) {
      // Found dead by a process sharing the store (this one or another): never sent again.
      const e = deadGrantError(this.#key, dead.reason);
      REFRESH_FAILURES.add(e);
      throw e;
    }
    if (current.refreshToken === undefined) {
      throw new ExpiredTokensError(`The access token for key "${this.#key}" has expired and there is no refresh token; authorize the user again`);
    }
    if (current.refreshToken === this.#refusals.deadRefreshToken) {
      const dead = new ExpiredTokensError(`The refresh token for key "${this.#key}" was already refused by the server; authorize the user again`, { error: 'invalid_grant' });
      REFRESH_FAILURES.add(dead);
      throw dead;
    }
    let parsed;
    try {
      parsed = await this.#oauth.refresh(current.refreshToken);
    } catch (err) {
      if (err instanceof ExpiredTokensError) {
        this.#refusals.deadRefreshToken = current.refreshToken;
        // Refused: perhaps because another process rotated it meanwhile (its lease lapsed, or it had no lock).
        const newer = await this.#adoptNewer(current.refreshToken, started);
        if (newer !== undefined) return this.#servable(newer, undefined) ? newer : this.#refresh(newer, started, epoch);
      }
      throw await this.#failed(current, err);
    }
    // Stamped in the server's clock (ours plus the skew learnt from refusals): the clock freshness
    // checks compare against, and the one other processes reading the store share.
    const serverNow = this.#now() + this.#refusals.skewMS;
    const deadline = parsed.refreshTokenExpiresInMS === undefined ? grantOf(current)?.expiresAtMS : serverNow + parsed.refreshTokenExpiresInMS;
    // A success resets the failures; the grant's deadline is kept, or learnt.
    const next = withGrant(tokenInfoFrom(parsed, serverNow, current), { lastRefreshedAtMS: serverNow, ...(deadline === undefined ? {} : { expiresAtMS: deadline }) });
    if (epoch !== this.#epoch) {
      // revokeTokens() ran while this refresh was on the wire: revoke what it brought, keep nothing.
      await this.#oauth.revoke(next.refreshToken ?? next.accessToken, next.refreshToken === undefined ? 'access_token' : 'refresh_token').catch(() => {});
      throw new ExpiredTokensError(`The tokens for key "${this.#key}" were revoked while a refresh was running`);
    }
    // Memory first, so that nothing is lost if the store fails; then persist before resolving.
    this.#hold(next);
    this.#seed = undefined;
    this.#refusals.accessToken = undefined;
    try {
      // Only over the refresh token that was sent: another process may have refreshed with it too.
      const won = await writeIfUnchanged(this.#store, this.#key, next, current.refreshToken);
      this.#pending.done();
      if (!won) {
        // It wrote first: its tokens are the grant's; ours are discarded (a fork the server may have made dies unused).
        const theirs = await this.#adoptNewer(undefined, started);
        if (theirs !== undefined) return theirs;
        await writeTokens(this.#store, this.#key, next);
      }
    } catch (err) {
      this.#pending.hold(next);
      this.#pending.retryLater(this.#now());
      const e = new TokenStoreError(`Writing the refreshed tokens for key "${this.#key}" failed; they are kept in memory and written when the store is back`, { cause: err, key: this.#key });
      REFRESHED_BUT_UNSTORED.add(e);
      throw e;
    }
    this.#emitRefresh(started, next, parsed.refreshToken !== undefined && parsed.refreshToken !== current.refreshToken, 'server');
    return next;
  }

  /**
   * A refresh failed at the server: the store learns it (the grant's failures and last error code; for a dead
   * grant, the dead marker, without the refresh token). Only the process whose conditional write of the dead
   * marker succeeds emits `grantDead`, so a fleet sharing the store hears of each death once.
   * @returns the error to throw (for a dead grant, an ExpiredTokensError carrying the reason)
   */
  async #failed(current: TokenInfo, err: unknown): Promise<unknown> {
    if (err !== null && typeof err === 'object') REFRESH_FAILURES.add(err);
    const atMS = this.#now();
    const { record, reason } = failureRecord(current, err, atMS);
    let won = false;
    try {
      // Best effort, and only over the refresh token that failed: a newer grant stored meanwhile is left alone. A
      // store without writeIf learns only of deaths (written under the lock), not of every failure.
      if (reason !== undefined || hasWriteIf(this.#store)) won = await writeIfUnchanged(this.#store, this.#key, record, current.refreshToken);
    } catch {
      // The store is down: the refusal is still remembered in memory (refusals).
    }
    if (reason === undefined) return err;
    if (won) {
      this.#hold(record);
      publish(this, { type: 'grantDead', key: this.#key, atMS, reason });
    }
    if (!(err instanceof ExpiredTokensError)) return err;
    const e = new ExpiredTokensError(err.message, { status: err.status, error: err.error, errorDescription: err.errorDescription, cause: err, reason });
    REFRESH_FAILURES.add(e);
    return e;
  }

  /** The grant's absolute deadline (epoch ms), when the server reported one (`refresh_token_expires_in`). */
  get grantExpiresAtMS(): number | undefined {
    return grantOf(this.#tokenInfo)?.expiresAtMS;
  }

  /** Adopts the stored tokens if their refresh token is not `refused` (see {@link newerGrant}); undefined if not. */
  async #adoptNewer(refused: string | undefined, started: number): Promise<TokenInfo | undefined> {
    if (PRIVATE_STORES.has(this.#store)) return undefined;
    const stored = await newerGrant(this.#store, this.#key, refused);
    if (stored === undefined) return undefined;
    registerSecret(stored.accessToken);
    registerSecret(stored.refreshToken);
    this.#hold(stored);
    this.#refusals.accessToken = undefined;
    this.#emitRefresh(started, stored, false, 'store');
    return stored;
  }

  #emitRefresh(started: number, info: TokenInfo, rotated: boolean, source: 'server' | 'store'): void {
    const atMS = this.#now();
    publish(this, { type: 'refresh', key: this.#key, atMS, durationMS: atMS - started, expiresAtMS: expiresAtMS(info), rotated, source });
  }

  #emitError(started: number, err: unknown): void {
    const atMS = this.#now();
    const code = err instanceof SessionError ? err.code : 'ERR_UNKNOWN';
    const status = (err as { status?: unknown }).status;
    publish(this, { type: 'refreshError', key: this.#key, atMS, durationMS: atMS - started, code, ...(typeof status === 'number' ? { status } : {}) });
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
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad `ms` or `options`
   */
  refreshIfOlderThan(ms: number, options?: RefreshIfOlderThanOptions): Promise<boolean> {
    try {
      const ageMS = checkNumber(ms, 'ms', { min: 0 });
      if (options !== undefined) checkObject(options, 'options');
      return abortable(checkSignal(options?.signal, 'options.signal'), () => this.#keepAlive(ageMS));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #keepAlive(ageMS: number): Promise<boolean> {
    // A refresh of this session already running settles first: it may well be the one needed.
    await this.#flight.current(this.#key)?.catch(() => undefined);
    const started = this.#now();
    const epoch = this.#epoch;
    const due = (info: TokenInfo | undefined): info is TokenInfo & { refreshToken: string } => info?.refreshToken !== undefined
      && lastRefreshMS(info) <= this.#now() + this.#refusals.skewMS - ageMS;
    // Unlocked first look: a recent grant costs one read and no lock; one the store marks dead, no request.
    const stored = await readTokens(this.#store, this.#key);
    const dead = grantOf(stored)?.dead;
    if (dead !== undefined) throw deadGrantError(this.#key, dead.reason);
    // An empty store gets the tokens this session holds (its seed) under the lock: judge those.
    if (!due(stored ?? this.#tokenInfo)) return false;
    try {
      const refreshed = await underLock(this.#store, `refresh:${this.#key}`, async () => {
        const current = await this.#sync();
        if (!due(current)) return false;
        await this.#refresh(current, started, epoch);
        return true;
      }, { ttlMS: this.#lockTTLMS });
      this.#rearm();
      return refreshed;
    } catch (err) {
      this.#emitError(started, err);
      throw err;
    }
  }

  /**
   * Exchanges the current access token for a narrower one (RFC 8693). The result is returned, not stored.
   *
   * @param scopes - requested scopes (joined with spaces)
   * @param resource - the target resource URI, when given
   * @param options - `actorToken` for delegation; `signal` stops this caller's wait (a request already sent completes, its result is dropped)
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
      return abortable(signal, () => this.#exchange(scope, resource, actorToken));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async #exchange(scope: string, resource: string | undefined, actorToken: string | undefined): Promise<TokenInfo> {
    const subject = await this.getAccessToken();
    const event = { key: this.#key, ...(scope ? { scope } : {}), ...(resource === undefined ? {} : { resource }) };
    try {
      const parsed = await this.#oauth.exchange(subject, { scope, ...(resource === undefined ? {} : { resource }), ...(actorToken === undefined ? {} : { actorToken }) });
      const info = tokenInfoFrom(parsed, this.#now(), { scope });
      publish(this, { type: 'exchange', atMS: this.#now(), outcome: 'ok', ...event });
      return info;
    } catch (err) {
      publish(this, { type: 'exchange', atMS: this.#now(), outcome: err instanceof SessionError ? err.code : 'ERR_UNKNOWN', ...event });
      throw err;
    }
  }

  /**
   * Revokes the tokens at the server (RFC 7009: the refresh token, which takes its access tokens
   * with it; the access token when there is no refresh token), then clears the store key and
   * memory. A refresh running meanwhile keeps nothing. Revoking tokens that are already gone succeeds.
   *
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing (nothing is cleared, so the call can be repeated)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed
   * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
   */
  async revokeTokens(): Promise<void> {
    this.#epoch++;
    // A refresh already on the wire finishes first (and, seeing the new epoch, keeps nothing).
    await this.#flight.current(this.#key)?.catch(() => undefined);
    await underLock(this.#store, `refresh:${this.#key}`, async () => {
      let info = this.#tokenInfo;
      try {
        info = (await this.#sync()) ?? info;
      } catch (err) {
        if (info === undefined) throw err;
      }
      let sent = false;
      if (info !== undefined && this.#oauth.canRevoke) {
        await this.#oauth.revoke(info.refreshToken ?? info.accessToken, info.refreshToken === undefined ? 'access_token' : 'refresh_token');
        sent = true;
      }
      this.#forget();
      await clearTokens(this.#store, this.#key);
      publish(this, { type: 'revoke', key: this.#key, atMS: this.#now(), sentToServer: sent });
    }, { ttlMS: this.#lockTTLMS });
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
    const verdict = classifyExpiry(err);
    const reason = err instanceof SessionError ? err.code : (err?.name ?? 'Error');
    const atMS = this.#now();
    if (verdict === 'none') {
      publish(this, { type: 'expired', key: this.#key, atMS, cleared: 'none', reason });
      return err;
    }
    if (verdict === 'access') {
      if (this.#refusals.refuseAccess(err, this.#tokenInfo, atMS, this.#bufferMS)) this.#held.disarm();
      publish(this, { type: 'expired', key: this.#key, atMS, cleared: 'access', reason });
      return err;
    }
    const dead = this.#refusals.deadRefreshToken ?? this.#tokenInfo?.refreshToken;
    if (dead !== undefined) this.#refusals.deadRefreshToken = dead;
    this.#forget();
    this.#synced = false;
    // Reported and forgotten: the next call reads the store again (new tokens may be there); the dead refresh token stays refused.
    this.#lastFailure = undefined;
    publish(this, { type: 'expired', key: this.#key, atMS, cleared: 'all', reason });
    try {
      await underLock(this.#store, `refresh:${this.#key}`, async () => {
        const stored = await readTokens(this.#store, this.#key).catch(() => undefined);
        // Another process (or a new authorization) may have put a live grant there: keep it.
        // The app's word: the dead grant goes, its dead marker with it (a record without a refresh token is one).
        if (stored === undefined || dead === undefined || stored.refreshToken === undefined || stored.refreshToken === dead) {
          await clearTokens(this.#store, this.#key);
        }
      }, { ttlMS: this.#lockTTLMS });
    } catch (clearErr) {
      return clearErr instanceof TokenStoreError ? clearErr : new TokenStoreError(`Clearing key "${this.#key}" failed`, { cause: clearErr, key: this.#key });
    }
    return err;
  }

  /** @internal Printed form: the key and the tokens' fingerprints, never the tokens. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PersistentSession ${JSON.stringify(this.toJSON())}`;
  }

  /** JSON form: the key and the redacted tokens. */
  toJSON(): Record<string, unknown> {
    return { key: this.#key, tokenInfo: this.#tokenInfo === undefined ? undefined : redactTokenInfo(this.#tokenInfo) };
  }
}
