/**
 * UserSession: act as any user of one app installation, offline (user impersonation).
 * @module
 */
import { EventEmitter } from 'node:events';
import type PQueue from 'p-queue';
import { SessionError, TokenStoreError } from '../errors.js';
import { publish, type UserSessionEventMap } from '../events.js';
import { rejectedTokenOf } from './refusals.js';
import { isTransientError } from '../oauth/token-request.js';
import { checkString } from '../util/validate.js';
import { clearTokens, readTokens } from '../store/store-io.js';
import type { TokenInfo } from '../token/token-info.js';
import type { HeldToken } from './held-token.js';
import { MINT_LOCK, MintFlow } from './mint-flow.js';
import { underLock } from './store-lock.js';
import type { TokenStore } from '../store/token-store.js';
import {
  callSignal,
  resolveUserSessionOptions,
  type UserSessionCallOptions,
  type UserSessionOptions,
  type UserSessionView,
} from './user-session-options.js';
import { abortable } from './abort.js';

export {
  DEFAULT_MINTS_PER_MINUTE,
  DEFAULT_REFRESH_BUFFER_SECONDS,
  type RateLimitOptions,
  type UserSessionCallOptions,
  type UserSessionOptions,
  type UserSessionView,
} from './user-session-options.js';

/** How many refused tokens a UserSession remembers (per account, the latest), oldest forgotten first. */
const MAX_REFUSED_MARKS = 10_000;

/**
 * Every user of one app installation, offline: user tokens minted on demand, cached per user, minted again
 * `refreshBufferMS` before they expire. A fresh token costs one Map lookup (no store read, no queue task).
 * Concurrent calls for one user share one mint (single flight; across processes, the store's lock); mints go
 * through a p-queue that enforces the rate limit, and a mint refused with 429 queues up again.
 *
 * Memory: the session holds one token per user it served (about 180 bytes beyond the strings). A token
 * found expired when its user is asked for again is dropped from memory (eviction on read; there is no
 * timer), so a user who is never asked for again keeps one expired entry until {@link UserSession.revokeTokens}.
 *
 * @example
 * ```ts
 * const users = new UserSession({
 *   exchanger: forgeRemoteExchanger({ systemToken: cache.source(installationId), contextAri: `ari:cloud:jira::site/${cloudId}` }),
 *   tokenStore: createTokenStore('sqlite://./tokens.sqlite'),
 * });
 * const token = await users.getAccessToken(accountId);
 * const res = await authorizedFetch(users.forUser(accountId), `${apiBaseUrl}/rest/api/3/myself`);
 * ```
 */
export class UserSession extends EventEmitter<UserSessionEventMap> {
  readonly #store: TokenStore | undefined;
  readonly #namespace: string;
  readonly #queue: PQueue;
  readonly #now: () => number;
  /** The mints and the per-user state they leave (lib/session/mint-flow.ts). */
  readonly #flow: MintFlow;
  /** Per user, the token the hot path serves: the flow's map, held here too so that the hot path reads one field. */
  readonly #tokens: Map<string, HeldToken>;

  /**
   * @param options - see {@link UserSessionOptions}
   * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` for a bad `tokenStore`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for any other bad option, naming it
   */
  constructor(options: UserSessionOptions) {
    super();
    const o = resolveUserSessionOptions(options);
    this.#store = o.store;
    this.#namespace = o.namespace;
    this.#queue = o.queue;
    this.#now = o.now;
    this.#flow = new MintFlow(this, o);
    this.#tokens = this.#flow.tokens;
  }

  /** The store namespace: keys are `${namespace}:${accountId}`. */
  get namespace(): string {
    return this.#namespace;
  }
  /** The queue mints go through; pass it to other UserSessions of the same app to share the rate limit. */
  get queue(): PQueue {
    return this.#queue;
  }
  /** User tokens minted by this session (at the server). */
  get mints(): number {
    return this.#flow.mints;
  }
  /** User tokens adopted from the store (minted by another process or an earlier run). */
  get storeAdoptions(): number {
    return this.#flow.adoptions;
  }
  /** Callers that joined a mint already running for the same user. */
  get singleFlightJoins(): number {
    return this.#flow.flight.joins;
  }
  /** Users whose token this process holds. */
  get size(): number {
    return this.#tokens.size;
  }
  #key(accountId: string): string {
    return this.#flow.key(accountId);
  }

  /**
   * The user's token, minted when absent or within `refreshBufferMS` of expiry. Concurrent calls for one
   * user share one mint. Never throws: every failure (a bad `accountId` included) is a rejection.
   * @param accountId - the account to act as
   * @param options - `signal` stops this caller's wait (see {@link UserSessionCallOptions})
   * @returns the user token. The promise itself may be shared with other callers (a fresh token is handed out
   *   as one settled promise), so treat it as read-only.
   * @throws `signal.reason` when `signal` aborted before the token came
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad `accountId`
   * @throws {@link ImpersonationError} `ERR_IMPERSONATION` when the gateway refuses (nothing is cached; the next call tries again)
   * @throws {@link SystemTokenExpiredError} `ERR_SYSTEM_TOKEN_EXPIRED` / `ERR_NO_SYSTEM_TOKEN` when the app has no usable system token
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the server kept failing (429s are retried after `Retry-After`)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed (a minted token is kept in memory)
   */
  getAccessToken(accountId: string, options?: UserSessionCallOptions): Promise<string> {
    try {
      if (options !== undefined) return abortable(callSignal(options), () => this.getAccessToken(accountId));
      // Hot path: one Map lookup, one clock read and one comparison; every caller gets the same settled promise.
      const held = this.#tokens.get(accountId);
      if (held !== undefined) {
        const now = this.#now();
        if (now < held.freshUntilMS) return held.token!;
        // Soft window: served at once, while one mint runs in the background.
        if (now < held.usableUntilMS) return this.#flow.ahead(accountId, held, now);
      }
      return this.#flow.due(accountId, held);
    } catch (err) {
      // Never a synchronous throw (a bad accountId, a `now` option that throws, a call without its `this`).
      return Promise.reject(err);
    }
  }

  /**
   * Mints a token for the user now (even if a fresh one is held; the store is not consulted), stores it and
   * returns it. Concurrent calls for one user share one mint.
   * @param accountId - the account to act as
   * @param options - `signal` stops this caller's wait (see {@link UserSessionCallOptions})
   * @returns the new token
   * @throws as {@link UserSession.getAccessToken}
   */
  async mint(accountId: string, options?: UserSessionCallOptions): Promise<TokenInfo> {
    checkString(accountId, 'accountId');
    const signal = options === undefined ? undefined : callSignal(options);
    return abortable(signal, () => this.#flow.forced(accountId));
  }

  /**
   * The forced mint, under the name the API contract gives it: the same as {@link UserSession.mint}. (This is
   * not an RFC 8693 exchange, whatever the exchanger does underneath.)
   * @param accountId - the account to act as
   * @param options - as {@link UserSession.mint}
   * @returns the new token
   * @throws as {@link UserSession.getAccessToken}
   */
  exchangeToken(accountId: string, options?: UserSessionCallOptions): Promise<TokenInfo> {
    return this.mint(accountId, options);
  }

  /**
   * Lets the session's work end: waits for the mints that are running (background ones too). The store
   * was given by the caller, so it stays open; the session holds no timer or socket that keeps a process
   * alive, so a process whose work is done exits without this call. `await using users = new
   * UserSession(…)` calls it when the block ends.
   */
  async close(): Promise<void> {
    // A background mint starts on the next turn of the event loop: let it register first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.all([this.#flow.flight.settled(), this.#flow.forcedFlight.settled()]);
  }

  /** As {@link UserSession.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Forgets one user's tokens, or, without an account, those of every user of this session's namespace, in memory
   * and in the store (all keys under `${namespace}:` if the store can list keys; else the users this process knows).
   * @param accountId - the user; omit for all users of this session
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed (memory is cleared anyway)
   */
  async revokeTokens(accountId?: string): Promise<void> {
    if (accountId !== undefined) checkString(accountId, 'accountId');
    this.#flow.revocations.revoke(accountId);
    const accounts = accountId !== undefined ? [accountId] : [...this.#tokens.keys()];
    for (const a of accounts) this.#tokens.delete(a);
    const keys = new Set(accounts.map((a) => this.#key(a)));
    if (this.#store !== undefined) {
      const store = this.#store;
      const listed =
        accountId === undefined && store.keys !== undefined
          ? await store.keys(`${this.#namespace}:`).catch((err: unknown) => {
              throw err instanceof TokenStoreError
                ? err
                : new TokenStoreError(`Listing the keys under "${this.#namespace}:" failed`, { cause: err });
            })
          : [];
      for (const k of listed) keys.add(k);
      // One user: under the mint lock, so a mint in another process cannot write after the clear. All users:
      // no locks (one per key would be costly); a mint of this process that lands after the clear takes its
      // token back out itself (see #request).
      await Promise.all(
        [...keys].map((k) =>
          accountId === undefined ? clearTokens(store, k) : underLock(store, `mint:${k}`, () => clearTokens(store, k), MINT_LOCK),
        ),
      );
    }
    const atMS = this.#now();
    for (const key of keys) publish(this, { type: 'revoke', key, atMS, sentToServer: false });
  }

  /**
   * Call when an API refused a user's token: forgets it (in memory, and in the store if it still holds it), so that the
   * next call mints again. Transient failures (network, 5xx, 429) and reports about a replaced token forget nothing.
   * @param err - the error the API call failed with
   * @param accountId - the user whose token was refused
   * @returns the same error, or a `TokenStoreError` when clearing the store failed
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad `accountId`
   */
  async handleExpiredTokensError(err: Error, accountId: string): Promise<Error> {
    checkString(accountId, 'accountId');
    const key = this.#key(accountId),
      refused = rejectedTokenOf(err),
      mine = this.#tokens.get(accountId);
    const reason = err instanceof SessionError ? err.code : (err?.name ?? 'Error');
    if (isTransientError(err) || (refused !== undefined && mine !== undefined && refused !== mine.accessToken)) {
      publish(this, { type: 'expired', key, atMS: this.#now(), cleared: 'none', reason });
      return err;
    }
    this.#tokens.delete(accountId);
    const stale = refused ?? mine?.accessToken;
    if (stale !== undefined) {
      const refusedMarks = this.#flow.refused;
      refusedMarks.delete(accountId); // re-inserted last: the oldest marks go first
      refusedMarks.set(accountId, stale);
      // Bounded: a mark only keeps a refused token from being re-read from the store; once it is gone, a
      // refusal of that token (if the store still held it) would clear it again.
      if (refusedMarks.size > MAX_REFUSED_MARKS) refusedMarks.delete(refusedMarks.keys().next().value!);
    }
    publish(this, { type: 'expired', key, atMS: this.#now(), cleared: 'all', reason });
    try {
      // Clear the store only if it still holds the refused token (another process may have minted a new one).
      const stored = this.#store === undefined ? undefined : await readTokens(this.#store, key);
      if (stored !== undefined && (stale === undefined || stored.accessToken === stale)) await clearTokens(this.#store!, key);
    } catch (clearErr) {
      return clearErr instanceof TokenStoreError ? clearErr : new TokenStoreError(`Clearing key "${key}" failed`, { cause: clearErr, key });
    }
    return err;
  }

  /**
   * A view of this session bound to one user, for code that expects a single-user session (e.g. `authorizedFetch`).
   * @param accountId - the user
   * @returns the view
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad `accountId`
   */
  forUser(accountId: string): UserSessionView {
    checkString(accountId, 'accountId');
    return Object.freeze({
      accountId,
      getAccessToken: () => this.getAccessToken(accountId),
      revokeTokens: () => this.revokeTokens(accountId),
      handleExpiredTokensError: (err: Error) => this.handleExpiredTokensError(err, accountId),
    });
  }

  /** JSON form: the namespace and counters, never a token. */
  toJSON(): Record<string, unknown> {
    return {
      namespace: this.#namespace,
      users: this.#tokens.size,
      mints: this.#flow.mints,
      storeAdoptions: this.#flow.adoptions,
      refusedMarks: this.#flow.refused.size,
    };
  }

  /** @internal Printed form: the same as the JSON form. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `UserSession ${JSON.stringify(this.toJSON())}`;
  }
}
