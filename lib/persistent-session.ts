/**
 * PersistentSession: one OAuth 2.0 credential that lives as long as the worker. Modelled on Box's
 * `PersistentSession`, without its failure modes (LESSONS.md): single flight, rotated refresh
 * tokens persisted before the caller gets the token, no store wipe on transient failures, a
 * cross-process lock when the store has one.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import { ExpiredTokensError, InvalidArgumentError, SessionError, TokenStoreError, describeValue } from './errors.js';
import { publish, type SessionEventMap } from './events.js';
import { classifyExpiry, rejectedTokenOf } from './expiry.js';
import { applyClientAuth, parseTokenResponse, sendWithRetries, type ClientAuthMethod, type RequestContext } from './http.js';
import {
  DEFAULT_EXPIRED_BUFFER_MS, DEFAULT_TOKEN_TTL_MS, checkDispatcher, checkFunction, checkKnownKeys, checkNumber, checkObject,
  checkString, checkUrl, resolveRetryOptions, type ResolvedRetryOptions, type RetryOptions,
} from './options.js';
import { registerSecret } from './redact.js';
import { SingleFlight } from './single-flight.js';
import { expiresAtMS, isFresh, validateTokenInfo, type TokenInfo } from './token-info.js';
import { validateTokenStore, type TokenStore } from './token-store.js';

/** The key a PersistentSession uses in its store when none is given. */
export const DEFAULT_SESSION_KEY = 'default';
/** Grant type of RFC 8693 token exchange. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 token type of an access token. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** How often a session retries writing tokens that a store outage kept in memory. */
export const PERSIST_RETRY_INTERVAL_MS = 1_000;

/** Errors of refreshes that succeeded at the server but could not be stored (the token is new, not stale). */
const REFRESHED_BUT_UNSTORED = new WeakSet<object>();

/** The OAuth client a session authenticates as. */
export interface OAuthClientOptions {
  /** RFC 6749 token endpoint. */
  tokenEndpoint: string;
  /** RFC 7009 revocation endpoint; without it `revokeTokens()` only forgets the tokens locally. */
  revocationEndpoint?: string;
  /** The client id. */
  clientId: string;
  /** The client secret (confidential clients). */
  clientSecret?: string;
  /**
   * How the client authenticates.
   * @default 'client_secret_basic'
   */
  authMethod?: ClientAuthMethod;
}

/** Options of {@link PersistentSession}. */
export interface PersistentSessionOptions {
  /** Initial tokens; validated. Without them the first call reads the store. */
  tokenInfo?: TokenInfo;
  /**
   * Where the tokens persist.
   * @default an in-memory KeyvTokenStore-less store (tokens live only in this process)
   */
  tokenStore?: TokenStore;
  /**
   * Key in the store.
   * @default DEFAULT_SESSION_KEY
   */
  key?: string;
  /** The OAuth client. */
  client: OAuthClientOptions;
  /**
   * Refresh this long before expiry (capped at half the token's lifetime).
   * @default DEFAULT_EXPIRED_BUFFER_MS
   */
  expiredBufferMS?: number;
  /** undici dispatcher for every request the session makes (proxies, mTLS, tests). */
  dispatcher?: Dispatcher;
  /** Retry policy of token requests. */
  retry?: RetryOptions;
  /**
   * Lease of the store's cross-process lock while refreshing.
   * @default 30000
   */
  lockTTLMS?: number;
  /**
   * Clock, for tests.
   * @default Date.now
   */
  now?: () => number;
}

const KNOWN_OPTIONS = ['tokenInfo', 'tokenStore', 'key', 'client', 'expiredBufferMS', 'dispatcher', 'retry', 'lockTTLMS', 'now'] as const;
const KNOWN_CLIENT = ['tokenEndpoint', 'revocationEndpoint', 'clientId', 'clientSecret', 'authMethod'] as const;

/** A store that keeps tokens in this process only (the default). */
class ProcessMemoryStore implements TokenStore {
  readonly #map = new Map<string, TokenInfo>();
  async read(key: string) { return this.#map.get(key); }
  async write(key: string, info: TokenInfo) { this.#map.set(key, info); }
  async clear(key: string) { this.#map.delete(key); }
}

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
export class PersistentSession extends EventEmitter<SessionEventMap> {
  readonly #store: TokenStore;
  readonly #key: string;
  readonly #client: Required<Pick<OAuthClientOptions, 'tokenEndpoint' | 'clientId' | 'authMethod'>> & Pick<OAuthClientOptions, 'clientSecret' | 'revocationEndpoint'>;
  readonly #bufferMS: number;
  readonly #lockTTLMS: number;
  readonly #now: () => number;
  readonly #ctx: Omit<RequestContext, 'what'>;
  readonly #flight = new SingleFlight<TokenInfo>();
  #tokenInfo: TokenInfo | undefined;
  /** Whether the store has been consulted since construction (cold start). */
  #synced = false;
  /** New tokens that could not be persisted yet (store outage); written as soon as it is back. */
  #unpersisted = false;
  /** When to try writing unpersisted tokens again. */
  #nextPersistAttemptMS = 0;
  /** An access token the server refused; the next call refreshes even if it looks fresh. */
  #refusedAccessToken: string | undefined;
  /** A refresh token the server refused; not sent again. */
  #deadRefreshToken: string | undefined;
  /** Server clock minus ours, learnt from the Date header of refused requests (skew guard). */
  #skewMS = 0;

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
    checkObject(options.client, 'client');
    checkKnownKeys(options.client as unknown as Record<string, unknown>, KNOWN_CLIENT, 'client');
    const c = options.client;
    const authMethod = c.authMethod ?? 'client_secret_basic';
    if (!['client_secret_basic', 'client_secret_post', 'none'].includes(authMethod)) {
      throw new InvalidArgumentError('client.authMethod', `Expected \`client.authMethod\` to be 'client_secret_basic', 'client_secret_post' or 'none', got ${describeValue(authMethod)}`);
    }
    if (c.clientSecret !== undefined) checkString(c.clientSecret, 'client.clientSecret');
    if (authMethod !== 'none' && c.clientSecret === undefined) {
      throw new InvalidArgumentError('client.clientSecret', `\`client.clientSecret\` is required with authMethod '${authMethod}'; use authMethod 'none' for a public client`);
    }
    registerSecret(c.clientSecret);
    this.#client = {
      tokenEndpoint: checkUrl(c.tokenEndpoint, 'client.tokenEndpoint'),
      revocationEndpoint: c.revocationEndpoint === undefined ? undefined : checkUrl(c.revocationEndpoint, 'client.revocationEndpoint'),
      clientId: checkString(c.clientId, 'client.clientId'),
      clientSecret: c.clientSecret,
      authMethod,
    };
    this.#tokenInfo = options.tokenInfo === undefined ? undefined : validateTokenInfo(options.tokenInfo);
    registerSecret(this.#tokenInfo?.accessToken);
    registerSecret(this.#tokenInfo?.refreshToken);
    this.#store = options.tokenStore === undefined ? new ProcessMemoryStore() : validateTokenStore(options.tokenStore);
    this.#key = options.key === undefined ? DEFAULT_SESSION_KEY : checkString(options.key, 'key');
    this.#bufferMS = checkNumber(options.expiredBufferMS ?? DEFAULT_EXPIRED_BUFFER_MS, 'expiredBufferMS', { min: 0 });
    this.#lockTTLMS = checkNumber(options.lockTTLMS ?? 30_000, 'lockTTLMS', { min: 1 });
    this.#now = options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now');
    const retry: ResolvedRetryOptions = resolveRetryOptions(options.retry);
    this.#ctx = { dispatcher: checkDispatcher(options.dispatcher), retry };
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
   * Returns an access token valid for at least `expiredBufferMS` (capped at half its lifetime),
   * refreshing first when needed. Concurrent callers share one refresh. A rotated refresh token is
   * written to the store before this resolves.
   *
   * @param options - `forceRefresh` refreshes even a fresh token
   * @returns the access token; never anything else
   * @throws {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` when there are no tokens or the grant is dead
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed (new tokens are kept in memory)
   */
  async getAccessToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    const info = this.#tokenInfo;
    // Hot path: a fresh token in memory costs no store read and no allocation beyond the promise.
    if (info !== undefined && this.#synced && !this.#unpersisted && options.forceRefresh !== true
      && info.accessToken !== this.#refusedAccessToken && isFresh(info, this.#now(), this.#bufferMS, this.#skewMS)) {
      return info.accessToken;
    }
    const next = await this.#flight.run(this.#key, () => this.#obtain(options.forceRefresh === true ? info?.accessToken ?? '' : undefined));
    return next.accessToken;
  }

  /**
   * Reads the store and keeps whichever of it and memory is newer.
   * @returns the tokens now held, and whether the store is behind memory
   */
  async #adoptNewest(): Promise<{ info: TokenInfo | undefined; storeBehind: boolean }> {
    const stored = await this.#store.read(this.#key);
    const mine = this.#tokenInfo;
    this.#synced = true;
    if (stored === undefined) return { info: mine, storeBehind: mine !== undefined };
    if (mine === undefined || stored.acquiredAtMS > mine.acquiredAtMS
      || (stored.acquiredAtMS === mine.acquiredAtMS && stored.accessToken !== mine.accessToken && !this.#unpersisted)) {
      registerSecret(stored.accessToken);
      registerSecret(stored.refreshToken);
      this.#tokenInfo = stored;
      this.#unpersisted = false;
      return { info: stored, storeBehind: false };
    }
    return { info: mine, storeBehind: stored.accessToken !== mine.accessToken };
  }

  #usable(info: TokenInfo | undefined, forceAwayFrom: string | undefined): boolean {
    return info !== undefined && info.accessToken !== forceAwayFrom && info.accessToken !== this.#refusedAccessToken
      && isFresh(info, this.#now(), this.#bufferMS, this.#skewMS);
  }

  /** The slow path, inside the single flight: sync, maybe lock, re-read, refresh, persist. */
  async #obtain(forceAwayFrom: string | undefined): Promise<TokenInfo> {
    const started = this.#now();
    try {
      if (this.#unpersisted && this.#now() >= this.#nextPersistAttemptMS) {
        // Tokens refreshed during a store outage: write them as soon as the store is back.
        try {
          await this.#persistPending();
        } catch (err) {
          this.#nextPersistAttemptMS = this.#now() + PERSIST_RETRY_INTERVAL_MS;
          if (!this.#usable(this.#tokenInfo, forceAwayFrom)) throw err;
        }
      }
      if (!this.#synced) {
        // Cold start: the store may hold newer tokens (another process, a previous run).
        let storeBehind = false;
        try {
          storeBehind = (await this.#adoptNewest()).storeBehind;
        } catch (err) {
          // The store is down: a token we hold is still good to serve.
          if (!this.#usable(this.#tokenInfo, forceAwayFrom)) throw err;
        }
        if (storeBehind && this.#usable(this.#tokenInfo, forceAwayFrom)) {
          // The tokens given to the constructor are newer: share them with other processes.
          await this.#store.write(this.#key, this.#tokenInfo!).catch(() => { this.#unpersisted = true; });
        }
      }
      if (this.#usable(this.#tokenInfo, forceAwayFrom)) return this.#tokenInfo!;
      const refresh = async (): Promise<TokenInfo> => {
        // Inside the lock: another process may have refreshed while we waited (STYLE 6).
        const before = this.#tokenInfo;
        const { info } = await this.#adoptNewest();
        if (info !== undefined && this.#usable(info, forceAwayFrom)) {
          if (info !== before) this.#emitRefresh(started, info, false, 'store');
          return info;
        }
        return this.#refresh(info, started);
      };
      return await this.#locked(refresh);
    } catch (err) {
      this.#emitError(started, err);
      const held = this.#tokenInfo;
      if (err instanceof TokenStoreError && !REFRESHED_BUT_UNSTORED.has(err) && forceAwayFrom === undefined && held !== undefined
        && held.accessToken !== this.#refusedAccessToken && isFresh(held, this.#now(), 0, this.#skewMS)) {
        // Store outage before any refresh: the token in memory has not expired yet; keep serving it.
        return held;
      }
      throw err;
    }
  }

  /** Runs `fn` under the store's cross-process lock for this key, when the store has one. */
  #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#store.withLock === undefined ? fn() : this.#store.withLock(`refresh:${this.#key}`, fn, { ttlMS: this.#lockTTLMS });
  }

  async #persistPending(): Promise<void> {
    const info = this.#tokenInfo;
    if (info === undefined) return;
    await this.#store.write(this.#key, info);
    this.#unpersisted = false;
    this.#synced = true;
  }

  async #refresh(current: TokenInfo | undefined, started: number): Promise<TokenInfo> {
    if (current === undefined) {
      throw new ExpiredTokensError(`No tokens for key "${this.#key}": the session was given no tokenInfo and the store holds none; authorize the user first`);
    }
    if (current.refreshToken === undefined) {
      throw new ExpiredTokensError(`The access token for key "${this.#key}" has expired and there is no refresh token; authorize the user again`);
    }
    if (current.refreshToken === this.#deadRefreshToken) {
      throw new ExpiredTokensError(`The refresh token for key "${this.#key}" was already refused by the server; authorize the user again`, { error: 'invalid_grant' });
    }
    const params = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current.refreshToken });
    let res;
    try {
      res = await this.#post(this.#client.tokenEndpoint, params, 'Token refresh');
    } catch (err) {
      if (err instanceof ExpiredTokensError) this.#deadRefreshToken = current.refreshToken;
      throw err;
    }
    const parsed = parseTokenResponse(res, 'Token refresh');
    // Stamped in the server's clock (ours plus the skew learnt from refusals): the clock isFresh()
    // compares against, and the one other processes reading the store share.
    const acquiredAtMS = this.#now() + this.#skewMS;
    const next = validateTokenInfo({
      accessToken: parsed.accessToken,
      // RFC 6749 §6: the server may keep the refresh token; keep ours then (simple-oauth2 loses it).
      refreshToken: parsed.refreshToken ?? current.refreshToken,
      accessTokenTTLMS: parsed.expiresInMS ?? DEFAULT_TOKEN_TTL_MS,
      acquiredAtMS,
      scope: parsed.scope ?? current.scope,
      tokenType: parsed.tokenType ?? current.tokenType,
    });
    // Memory first, so that nothing is lost if the store fails; then persist before resolving.
    this.#tokenInfo = next;
    this.#refusedAccessToken = undefined;
    try {
      await this.#store.write(this.#key, next);
      this.#unpersisted = false;
    } catch (err) {
      this.#unpersisted = true;
      const e = err instanceof TokenStoreError ? err : new TokenStoreError(`Writing the refreshed tokens for key "${this.#key}" failed; they are kept in memory and written when the store is back`, { cause: err, key: this.#key });
      REFRESHED_BUT_UNSTORED.add(e);
      this.#nextPersistAttemptMS = this.#now() + PERSIST_RETRY_INTERVAL_MS;
      throw e;
    }
    this.#emitRefresh(started, next, parsed.refreshToken !== undefined && parsed.refreshToken !== current.refreshToken, 'server');
    return next;
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

  async #post(url: string, params: URLSearchParams, what: string) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    applyClientAuth(params, headers, this.#client);
    return sendWithRetries(url, { method: 'POST', headers, body: params.toString() }, { ...this.#ctx, what });
  }

  /**
   * Exchanges the current access token for a narrower one (RFC 8693). The result is returned, not stored.
   *
   * @param scopes - requested scopes (joined with spaces)
   * @param resource - the target resource URI, when given
   * @param options - `actorToken` for delegation
   * @returns the new token's TokenInfo
   * @throws {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` when the subject token is refused as invalid
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` for other failures
   * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
   */
  async exchangeToken(scopes: string | string[], resource?: string, options: { actorToken?: string } = {}): Promise<TokenInfo> {
    const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
    if (typeof scope !== 'string' || (Array.isArray(scopes) && scopes.some((s) => typeof s !== 'string' || s.length === 0 || /\s/.test(s)))) {
      throw new InvalidArgumentError('scopes', `Expected \`scopes\` to be a string or an array of scope strings, got ${describeValue(scopes)}`);
    }
    if (resource !== undefined) checkString(resource, 'resource');
    if (options.actorToken !== undefined) checkString(options.actorToken, 'actorToken');
    registerSecret(options.actorToken);
    const started = this.#now();
    const subject = await this.getAccessToken();
    const params = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE });
    if (scope.length > 0) params.set('scope', scope);
    if (resource !== undefined) params.set('resource', resource);
    if (options.actorToken !== undefined) {
      params.set('actor_token', options.actorToken);
      params.set('actor_token_type', ACCESS_TOKEN_TYPE);
    }
    try {
      const res = await this.#post(this.#client.tokenEndpoint, params, 'Token exchange');
      const parsed = parseTokenResponse(res, 'Token exchange');
      const info = validateTokenInfo({
        accessToken: parsed.accessToken,
        ...(parsed.refreshToken === undefined ? {} : { refreshToken: parsed.refreshToken }),
        accessTokenTTLMS: parsed.expiresInMS ?? DEFAULT_TOKEN_TTL_MS,
        acquiredAtMS: this.#now(),
        ...(parsed.scope ?? (scope || undefined)) === undefined ? {} : { scope: parsed.scope ?? scope },
        tokenType: parsed.tokenType ?? 'Bearer',
      });
      publish(this, { type: 'exchange', key: this.#key, atMS: this.#now(), outcome: 'ok', ...(scope ? { scope } : {}), ...(resource === undefined ? {} : { resource }) });
      return info;
    } catch (err) {
      publish(this, { type: 'exchange', key: this.#key, atMS: this.#now(), outcome: err instanceof SessionError ? err.code : 'ERR_UNKNOWN', ...(scope ? { scope } : {}), ...(resource === undefined ? {} : { resource }) });
      void started;
      throw err;
    }
  }

  /**
   * Revokes the tokens at the server (RFC 7009: the refresh token, which takes its access tokens
   * with it; the access token when there is no refresh token), then clears the store key and
   * memory. Revoking tokens that are already gone succeeds.
   *
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing (nothing is cleared, so the call can be repeated)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed
   * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
   */
  async revokeTokens(): Promise<void> {
    const run = async () => {
      let info = this.#tokenInfo;
      try {
        info = (await this.#adoptNewest()).info ?? info;
      } catch (err) {
        if (info === undefined) throw err;
      }
      let sent = false;
      if (info !== undefined && this.#client.revocationEndpoint !== undefined) {
        const token = info.refreshToken ?? info.accessToken;
        const params = new URLSearchParams({ token, token_type_hint: info.refreshToken === undefined ? 'access_token' : 'refresh_token' });
        await this.#post(this.#client.revocationEndpoint, params, 'Token revocation');
        sent = true;
      }
      this.#tokenInfo = undefined;
      this.#unpersisted = false;
      await this.#store.clear(this.#key);
      publish(this, { type: 'revoke', key: this.#key, atMS: this.#now(), sentToServer: sent });
    };
    await this.#locked(run);
  }

  /**
   * Call this when a token was rejected as expired or revoked. A refused access token (a 401 from
   * an API) is dropped and the next call refreshes; a dead grant (`invalid_grant`) clears the store
   * key and memory. Transient failures (network, 5xx, 429) clear nothing.
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
      const refused = rejectedTokenOf(err) ?? this.#tokenInfo?.accessToken;
      // Learn the server's clock: if it refused a token we think is fresh, our clock may be behind.
      this.#learnSkew(err);
      if (refused !== undefined && refused === this.#tokenInfo?.accessToken) this.#refusedAccessToken = refused;
      publish(this, { type: 'expired', key: this.#key, atMS, cleared: 'access', reason });
      return err;
    }
    this.#tokenInfo = undefined;
    this.#unpersisted = false;
    this.#synced = false;
    publish(this, { type: 'expired', key: this.#key, atMS, cleared: 'all', reason });
    try {
      await this.#store.clear(this.#key);
    } catch (clearErr) {
      return clearErr instanceof TokenStoreError ? clearErr : new TokenStoreError(`Clearing key "${this.#key}" failed`, { cause: clearErr, key: this.#key });
    }
    return err;
  }

  #learnSkew(err: Error): void {
    const serverDateMS = (err as { serverDateMS?: unknown }).serverDateMS;
    const info = this.#tokenInfo;
    if (typeof serverDateMS !== 'number' || info === undefined) return;
    const offset = serverDateMS - this.#now();
    // Only a server clock ahead of ours by more than the Date header's 1 s resolution explains a refusal.
    if (offset > 1_000 && serverDateMS >= expiresAtMS(info) - this.#bufferMS) this.#skewMS = offset;
  }

  /** @internal Printed form: the key and the token's fingerprint, never the token. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const info = this.#tokenInfo;
    return `PersistentSession { key: ${JSON.stringify(this.#key)}, tokenInfo: ${info === undefined ? 'undefined' : JSON.stringify(info)} }`;
  }

  /** JSON form: the key and the redacted tokens. */
  toJSON(): Record<string, unknown> {
    return { key: this.#key, tokenInfo: this.#tokenInfo === undefined ? undefined : (this.#tokenInfo as unknown as { toJSON(): unknown }).toJSON() };
  }
}

