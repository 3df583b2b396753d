/**
 * UserSession: act as any user of one app installation, offline (user impersonation).
 * @module
 */
import { EventEmitter } from 'node:events';
import type PQueue from 'p-queue';
import { SessionError, TokenRequestError, TokenStoreError } from '../errors.js';
import { publish, type UserSessionEventMap } from '../events.js';
import type { TokenExchanger } from '../exchangers/token-exchanger.js';
import { rejectedTokenOf } from './refusals.js';
import { isTransientError } from '../oauth/token-request.js';
import { checkString } from '../util/validate.js';
import { MAX_RATE_LIMIT_REQUEUES, isUnsent, releaseSlot } from './rate-limit-queue.js';
import { registerSecret } from '../redact.js';
import { RevocationEpochs } from './revocation-epochs.js';
import { SingleFlight } from './single-flight.js';
import { clearTokens, readTokens, writeTokens } from '../store/store-io.js';
import { expiresAtMS, isFresh, validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { HeldToken, refreshAheadFromMS } from './held-token.js';
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

/** The store lock while one user's token is minted: a 30 s lease; waiters wait long, as the holder may be waiting out 429s. */
const MINT_LOCK = { ttlMS: 30_000, waitMS: 300_000 } as const;

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
  readonly #exchanger: TokenExchanger;
  readonly #store: TokenStore | undefined;
  readonly #namespace: string;
  readonly #bufferMS: number;
  readonly #aheadRatio: number;
  readonly #cooldownMS: number;
  readonly #queue: PQueue;
  readonly #now: () => number;
  readonly #flight = new SingleFlight<string>();
  /** Forced mints (mint, exchangeToken) share flights among themselves only, keyed by account as the ordinary ones. */
  readonly #forcedFlight = new SingleFlight<TokenInfo>();
  /** Per user, the token the hot path serves. */
  readonly #tokens = new Map<string, HeldToken>();
  /** Per account, the token an API refused: never taken back from the store (another caller may read it before the clear lands). */
  readonly #refused = new Map<string, string>();
  /** Revocations, so that a mint that was running when its user was revoked keeps nothing. */
  readonly #revocations = new RevocationEpochs();
  #mints = 0;
  #adoptions = 0;

  /**
   * @param options - see {@link UserSessionOptions}
   * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` for a bad `tokenStore`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for any other bad option, naming it
   */
  constructor(options: UserSessionOptions) {
    super();
    const o = resolveUserSessionOptions(options);
    this.#exchanger = o.exchanger;
    this.#store = o.store;
    this.#namespace = o.namespace;
    this.#bufferMS = o.bufferMS;
    this.#aheadRatio = o.aheadRatio;
    this.#cooldownMS = o.cooldownMS;
    this.#queue = o.queue;
    this.#now = o.now;
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
    return this.#mints;
  }
  /** User tokens adopted from the store (minted by another process or an earlier run). */
  get storeAdoptions(): number {
    return this.#adoptions;
  }
  /** Callers that joined a mint already running for the same user. */
  get singleFlightJoins(): number {
    return this.#flight.joins;
  }
  /** Users whose token this process holds. */
  get size(): number {
    return this.#tokens.size;
  }
  #key(accountId: string): string {
    return `${this.#namespace}:${accountId}`;
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
        if (now < held.usableUntilMS) return this.#ahead(accountId, held, now);
      }
      return this.#getDue(accountId, held);
    } catch (err) {
      // Never a synchronous throw (a bad accountId, a `now` option that throws, a call without its `this`).
      return Promise.reject(err);
    }
  }

  /**
   * The second branch: `held` is in its soft window. Starts one mint in the background unless one runs for the
   * user or the last one failed too recently (backoff), and serves `held` meanwhile.
   */
  #ahead(accountId: string, held: HeldToken, now: number): Promise<string> {
    if (now >= held.retryAtMS) {
      // No other caller schedules one until this one has settled; begun on the next turn of the event loop,
      // so that the callers served now do not pay for it.
      held.retryAtMS = Infinity;
      setImmediate(() => {
        const settled = (): void => {
          if (held.retryAtMS === Infinity) held.retryAtMS = -Infinity;
        };
        this.#flight
          .run(accountId, async () => {
            try {
              return (await this.#obtain(accountId, false, true)).accessToken;
            } catch (err) {
              // Reported (mintError); the held token serves until the hard buffer, the next try waits.
              held.failed(this.#now(), this.#cooldownMS);
              throw err;
            }
          })
          .then(settled, settled);
      });
    }
    return held.token!;
  }

  /** The slow path: `held` (if any) is due, as the hot path just found. */
  #getDue(accountId: string, held: HeldToken | undefined): Promise<string> {
    // Eviction on read: an expired token is of no use. One that is only due stays (it is not served) until
    // its successor replaces it, so that handleExpiredTokensError can still tell which token was refused.
    if (held !== undefined && this.#now() >= held.expiresAtMS) this.#tokens.delete(accountId);
    checkString(accountId, 'accountId');
    // Callers of one user share the flight's very promise (nothing allocated per joining caller).
    // Keyed by the account alone: the flights are this session's own (no namespace to tell apart).
    return this.#flight.run(accountId, async () => (await this.#obtain(accountId, false)).accessToken);
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
    return abortable(signal, () => this.#forcedFlight.run(accountId, () => this.#obtain(accountId, true)));
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

  #usable(info: TokenInfo | undefined, ahead = false): info is TokenInfo {
    if (info === undefined || !isFresh(info, this.#now(), this.#bufferMS)) return false;
    // A background mint takes a stored token only if it is not in its soft window too.
    return !ahead || this.#now() < refreshAheadFromMS(info, this.#bufferMS, this.#aheadRatio);
  }

  async #obtain(accountId: string, force: boolean, ahead = false): Promise<TokenInfo> {
    const key = this.#key(accountId),
      started = this.#now(),
      epoch = this.#revocations.begin();
    try {
      // Cold, or due: another process (or an earlier run) may have minted already. Read the store
      // before queueing (no rate-limit slot spent), and again inside the lock, so that one mint per
      // user happens fleet-wide.
      const store = force ? undefined : this.#store;
      const fromStore = async (from: TokenStore) => {
        // Validated: a hand-written store's bad record reads as absent (store-io), never as a token.
        const stored = await readTokens(from, key);
        return stored !== undefined && stored.accessToken === this.#refused.get(accountId) ? undefined : stored;
      };
      // (No store: no read, and no await either, so that the request goes out as early as it can.)
      const stored = store === undefined ? undefined : await fromStore(store);
      if (this.#usable(stored, ahead)) return this.#adopt(accountId, stored, started, epoch);
      for (let requeues = 0; ; requeues++) {
        try {
          return await this.#queue.add(async (slot) => {
            let sent = false;
            try {
              return await underLock(
                this.#store,
                `mint:${key}`,
                async () => {
                  const again = store === undefined ? undefined : await fromStore(store);
                  if (!this.#usable(again, ahead)) {
                    sent = true;
                    return this.#request(accountId, started, epoch, slot);
                  }
                  releaseSlot(slot); // no request sent, no rate-limit budget spent
                  return this.#adopt(accountId, again, started, epoch);
                },
                MINT_LOCK,
              );
            } catch (err) {
              // The lock or the store failed before any request: the slot goes back to the queue.
              if (!sent) releaseSlot(slot);
              throw err;
            }
          });
        } catch (err) {
          // 429s outlasted the exchanger's retries: the gateway's budget is tighter than ours. Queue up again.
          if (!(err instanceof TokenRequestError && err.status === 429 && requeues < MAX_RATE_LIMIT_REQUEUES)) throw err;
        }
      }
    } catch (err) {
      const atMS = this.#now(),
        status = (err as { status?: unknown } | null)?.status;
      const code = err instanceof SessionError ? err.code : 'ERR_UNKNOWN';
      const namespace = this.#namespace,
        durationMS = atMS - started,
        more = typeof status === 'number' ? { status } : {};
      publish(this, { type: 'mintError', key, accountId, namespace, atMS, durationMS, code, ...more });
      throw err;
    } finally {
      this.#revocations.end(epoch);
    }
  }

  #adopt(accountId: string, info: TokenInfo, started: number, epoch: number): TokenInfo {
    registerSecret(info.accessToken);
    // Read before a revocation landed: the caller who asked gets it, memory keeps nothing.
    if (!this.#revocations.revokedSince(accountId, epoch)) this.#hold(accountId, info);
    this.#adoptions++;
    return this.#emitMint(accountId, info, started, 'store');
  }

  async #request(accountId: string, started: number, epoch: number, slot: unknown): Promise<TokenInfo> {
    const info = validateTokenInfo(
      await this.#exchanger.exchange(accountId).catch((err: unknown) => {
        if (isUnsent(err)) releaseSlot(slot); // it failed before sending: no rate-limit budget spent
        throw err;
      }),
    );
    registerSecret(info.accessToken);
    this.#mints++;
    this.#refused.delete(accountId);
    // Revoked while the mint ran: the caller who asked gets the token, nothing keeps it.
    if (this.#revocations.revokedSince(accountId, epoch)) return info;
    const key = this.#key(accountId);
    // On a store outage this caller learns of it; later calls are served from memory (as PersistentSession does).
    this.#hold(accountId, this.#emitMint(accountId, info, started, 'server'));
    if (this.#store === undefined) return info;
    await writeTokens(this.#store, key, info);
    // Revoked while the write was under way: its clear may have landed before the write did (a revocation of
    // all users takes no lock). Take the token back out, unless the store already holds another one.
    if (this.#revocations.revokedSince(accountId, epoch)) {
      if (this.#tokens.get(accountId)?.accessToken === info.accessToken) this.#tokens.delete(accountId);
      if ((await readTokens(this.#store, key))?.accessToken === info.accessToken) await clearTokens(this.#store, key);
    }
    return info;
  }

  #hold(accountId: string, info: TokenInfo): void {
    this.#tokens.set(accountId, HeldToken.of(info, this.#bufferMS, this.#aheadRatio));
  }

  #emitMint(accountId: string, info: TokenInfo, started: number, source: 'server' | 'store'): TokenInfo {
    const atMS = this.#now();
    publish(this, {
      type: 'mint',
      key: this.#key(accountId),
      accountId,
      namespace: this.#namespace,
      atMS,
      durationMS: atMS - started,
      expiresAtMS: expiresAtMS(info),
      source,
    });
    return info;
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
    await Promise.all([this.#flight.settled(), this.#forcedFlight.settled()]);
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
    this.#revocations.revoke(accountId);
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
      this.#refused.delete(accountId); // re-inserted last: the oldest marks go first
      this.#refused.set(accountId, stale);
      // Bounded: a mark only keeps a refused token from being re-read from the store; once it is gone, a
      // refusal of that token (if the store still held it) would clear it again.
      if (this.#refused.size > MAX_REFUSED_MARKS) this.#refused.delete(this.#refused.keys().next().value!);
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
      mints: this.#mints,
      storeAdoptions: this.#adoptions,
      refusedMarks: this.#refused.size,
    };
  }

  /** @internal Printed form: the same as the JSON form. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `UserSession ${JSON.stringify(this.toJSON())}`;
  }
}
