/**
 * Options of PersistentSession, their defaults and their validation.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type PQueue from 'p-queue';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { OAuthClientOptions } from '../oauth/oauth-client.js';
import { aliased, checkNumber, checkObject, checkString } from '../util/validate.js';
import { checkSignal } from './abort.js';
import type { RetryOptions } from '../oauth/retry-options.js';
import type { TokenInfo } from '../token/token-info.js';
import type { TokenStore } from '../store/token-store.js';
import { DEFAULT_REFRESH_AHEAD_RATIO, DEFAULT_REFRESH_COOLDOWN_MS } from './held-token.js';

/** How long before expiry a {@link index!PersistentSession} refreshes, by default: 3 minutes. */
export const DEFAULT_EXPIRED_BUFFER_MS = 180_000;

/** Options of {@link PersistentSession}. */
export interface PersistentSessionOptions {
  /**
   * Tokens to start from (validated). They seed an empty store; when the store already holds
   * tokens for `key`, those win (they may have been rotated since), and these are tried only if
   * the stored grant turns out to be dead.
   * @default none: the first call reads the tokens from the store
   */
  tokenInfo?: TokenInfo;
  /**
   * Where the tokens persist.
   * @default a store private to this session (tokens live only in this process)
   */
  tokenStore?: TokenStore;
  /**
   * Key in the store: one grant per key. Sessions that share a store must each have their own key
   * unless they are the same grant (the same client and user), because a session adopts whatever the
   * store holds under its key: two clients left on the default key hand out each other's access
   * tokens and send each other's refresh tokens to their own token endpoints.
   * @default DEFAULT_SESSION_KEY (`'default'`)
   */
  key?: string;
  /** The OAuth client (required). */
  client: OAuthClientOptions;
  /**
   * Refresh this long before expiry (capped at half the token's lifetime), in ms. The same option
   * as UserSession's.
   * @default DEFAULT_EXPIRED_BUFFER_MS (180_000)
   */
  refreshBufferMS?: number;
  /**
   * The older name of {@link PersistentSessionOptions.refreshBufferMS}, still accepted (giving both is an error).
   * @default DEFAULT_EXPIRED_BUFFER_MS (180_000)
   */
  expiredBufferMS?: number;
  /**
   * Refresh ahead: once a token is in the last `refreshAheadRatio` of its lifetime (its soft window), the
   * next call starts one refresh in the background and is still served the held token at once; only inside
   * the hard buffer ({@link PersistentSessionOptions.refreshBufferMS}) do callers wait for a refresh. The soft
   * window is never shorter than the hard buffer: when `refreshAheadRatio × lifetime` is not longer than the
   * hard buffer, there is no soft window. A number in [0, 1); 0 turns refresh ahead off.
   * @default DEFAULT_REFRESH_AHEAD_RATIO (0.25)
   */
  refreshAheadRatio?: number;
  /**
   * After a failed refresh, how long at most the session waits before it sends the next one for this key:
   * the n-th failure in a row waits min(refreshCooldownMS, 1 s × 2^(n−1)), 50 to 100% of it (jitter).
   * Meanwhile callers get the still-valid token, or else the last error at once. 0 turns it off.
   * @default DEFAULT_REFRESH_COOLDOWN_MS (30_000)
   */
  refreshCooldownMS?: number;
  /**
   * undici dispatcher for every request the session makes (proxies, mTLS, tests).
   * @default undici's global dispatcher
   */
  dispatcher?: Dispatcher;
  /**
   * Retry policy of token requests.
   * @default the defaults of each {@link RetryOptions} field
   */
  retry?: RetryOptions;
  /**
   * Lease of the store's cross-process lock while refreshing (at least MIN_LOCK_TTL_MS).
   * @default DEFAULT_LOCK_TTL_MS
   */
  lockTTLMS?: number;
  /**
   * Clock, for tests.
   * @default Date.now
   */
  now?: () => number;
  /**
   * A queue every token-endpoint refresh of this session waits in (`queue.add(...)`). Give many
   * sessions one queue to cap their refreshes together: a `PQueue({ concurrency })`, or a
   * RateLimitQueue for a rate (see `createRateLimitQueue`). A {@link SessionPool} passes its own.
   * @default none: refreshes are sent at once
   */
  refreshQueue?: PQueue;
}

/** Options of {@link PersistentSession.refreshIfOlderThan}. */
export interface RefreshIfOlderThanOptions {
  /**
   * Stops waiting: the call rejects with `signal.reason` as soon as it aborts (a refresh already
   * sent completes and is stored).
   * @default none
   */
  signal?: AbortSignal;
}

/** @internal */
export const KNOWN_OPTIONS = [
  'tokenInfo',
  'tokenStore',
  'key',
  'client',
  'refreshBufferMS',
  'expiredBufferMS',
  'refreshAheadRatio',
  'refreshCooldownMS',
  'dispatcher',
  'retry',
  'lockTTLMS',
  'now',
  'refreshQueue',
] as const;

/** @internal The refresh-ahead ratio and the cooldown bound, validated, with their defaults. */
export function resolveRefreshAhead(options: { refreshAheadRatio?: number; refreshCooldownMS?: number }): {
  ratio: number;
  cooldownMS: number;
} {
  const ratio = checkNumber(options.refreshAheadRatio ?? DEFAULT_REFRESH_AHEAD_RATIO, 'refreshAheadRatio', { min: 0 });
  if (ratio >= 1)
    throw new InvalidArgumentError(
      'refreshAheadRatio',
      `Expected \`refreshAheadRatio\` to be a number in [0, 1), got ${describeValue(ratio)}`,
    );
  return { ratio, cooldownMS: checkNumber(options.refreshCooldownMS ?? DEFAULT_REFRESH_COOLDOWN_MS, 'refreshCooldownMS', { min: 0 }) };
}

/** @internal Validates `refreshQueue`: anything with p-queue's `add`. */
export function checkRefreshQueue(value: unknown): PQueue | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || typeof (value as { add?: unknown }).add !== 'function') {
    const got = describeValue(value);
    throw new InvalidArgumentError('refreshQueue', `Expected \`refreshQueue\` to be a p-queue (an object with an add method), got ${got}`);
  }
  return value as PQueue;
}

/** @internal The refresh margin in ms, from `refreshBufferMS` or its alias `expiredBufferMS`. */
export function resolveRefreshBufferMS(options: PersistentSessionOptions): number {
  const { value, field } = aliased(options as unknown as Record<string, unknown>, 'refreshBufferMS', 'expiredBufferMS');
  return checkNumber(value ?? DEFAULT_EXPIRED_BUFFER_MS, field, { min: 0 });
}

/** Options of {@link PersistentSession.getAccessToken}. */
export interface GetAccessTokenOptions {
  /**
   * Refresh even if the held token is fresh.
   * @default false
   */
  forceRefresh?: boolean;
  /**
   * Stops waiting: the call rejects with `signal.reason` as soon as it aborts. A refresh already
   * running goes on for the other callers that share it.
   * @default none
   */
  signal?: AbortSignal;
}

/** Options of {@link PersistentSession.exchangeToken}. */
export interface ExchangeTokenOptions {
  /**
   * An actor token, for delegation (RFC 8693 `actor_token`).
   * @default none
   */
  actorToken?: string;
  /**
   * Stops waiting: the call rejects with `signal.reason` as soon as it aborts.
   * @default none
   */
  signal?: AbortSignal;
}

/** @internal Validates `getAccessToken` options: whether a refresh is forced, and the abort signal. */
export function callOptions(options: unknown): { force: boolean; signal: AbortSignal | undefined } {
  checkObject(options, 'options');
  const force = (options as { forceRefresh?: unknown }).forceRefresh;
  if (force !== undefined && typeof force !== 'boolean') {
    throw new InvalidArgumentError(
      'options.forceRefresh',
      `Expected \`options.forceRefresh\` to be a boolean, got ${describeValue(force)}`,
    );
  }
  return { force: force === true, signal: checkSignal((options as { signal?: unknown }).signal, 'options.signal') };
}

/** @internal Validates `exchangeToken` arguments; returns the scope string, the actor token and the abort signal. */
export function checkExchangeArgs(
  scopes: unknown,
  resource: unknown,
  options: unknown,
): { scope: string; actorToken: string | undefined; signal: AbortSignal | undefined } {
  const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
  if (typeof scope !== 'string' || (Array.isArray(scopes) && scopes.some((s) => typeof s !== 'string' || s.length === 0 || /\s/.test(s)))) {
    throw new InvalidArgumentError(
      'scopes',
      `Expected \`scopes\` to be a string or an array of scope strings, got ${describeValue(scopes)}`,
    );
  }
  if (resource !== undefined) checkString(resource, 'resource');
  if (options !== undefined) checkObject(options, 'options');
  const actorToken = (options as { actorToken?: unknown } | undefined)?.actorToken;
  if (actorToken !== undefined) checkString(actorToken, 'options.actorToken');
  const signal = checkSignal((options as { signal?: unknown } | undefined)?.signal, 'options.signal');
  return { scope, actorToken: actorToken as string | undefined, signal };
}
