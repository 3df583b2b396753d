/**
 * Options of UserSession, their defaults and their validation, and the single-user view it hands out.
 *
 * @module
 */
import type PQueue from 'p-queue';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { TokenExchanger } from '../exchangers/token-exchanger.js';
import { validateTokenStore, type TokenStore } from '../store/token-store.js';
import { aliased, checkFunction, checkKnownKeys, checkNumber, checkObject, checkString } from '../util/validate.js';
import { RateLimitQueue } from './rate-limit-queue.js';
import { checkSignal } from './abort.js';
import { resolveRefreshAhead } from './persistent-session-options.js';

/** How long before expiry a {@link index!UserSession} mints a user token again, by default: 60 s. */
export const DEFAULT_REFRESH_BUFFER_SECONDS = 60;
/** The Forge per-app mint limit (since 2026-08-05), the default budget of a {@link index!UserSession}. */
export const DEFAULT_MINTS_PER_MINUTE = 1000;

/** The app's mint rate limit. */
export interface RateLimitOptions {
  /** Mints allowed in any sliding 60 s window: a positive integer (required). */
  perMinute: number;
}

/** Options of {@link UserSession}. */
export interface UserSessionOptions {
  /**
   * How user tokens are minted, e.g. {@link forgeRemoteExchanger}. Required (or its older name `exchange`).
   * @default none
   */
  exchanger?: TokenExchanger;
  /**
   * The older name of {@link UserSessionOptions.exchanger}, still accepted with a one-time
   * `DeprecationWarning` (code `PERSISTENT_SESSION_DEP_EXCHANGE`); giving both is an error.
   * @deprecated use `exchanger`
   * @default none
   */
  exchange?: TokenExchanger;
  /**
   * Where user tokens persist, shared by the app's workers.
   * @default none: tokens live in this process only
   */
  tokenStore?: TokenStore;
  /**
   * Store keys are `${namespace}:${accountId}`. Sessions of different apps sharing a store need different namespaces.
   * @default the exchanger's `describe()`; for {@link forgeRemoteExchanger}
   *   `forge:<gateway host>:<installationId>:<contextAri>` (`forge:<gateway host>:<contextAri>` without an installation)
   */
  namespace?: string;
  /**
   * A token with less than this left (in ms) is minted again (capped at half the token's lifetime).
   * The same option as PersistentSession's.
   * @default DEFAULT_REFRESH_BUFFER_SECONDS * 1000 (60_000)
   */
  refreshBufferMS?: number;
  /**
   * The same margin in seconds: the older name of {@link UserSessionOptions.refreshBufferMS}, still
   * accepted (giving both is an error).
   * @default DEFAULT_REFRESH_BUFFER_SECONDS (60)
   */
  refreshBufferSeconds?: number;
  /**
   * Mint ahead: once a user token is in the last `refreshAheadRatio` of its lifetime (its soft window), the
   * next call for that user starts one mint in the background and is still served the held token at once;
   * only inside the hard buffer ({@link UserSessionOptions.refreshBufferMS}) do callers wait. The soft window
   * is never shorter than the hard buffer (when it would be, there is none). A number in [0, 1); 0 turns it off.
   * The same option as PersistentSession's.
   * @default DEFAULT_REFRESH_AHEAD_RATIO (0.25)
   */
  refreshAheadRatio?: number;
  /**
   * After a failed background mint, how long at most before the next one for that user: the n-th failure in
   * a row waits min(refreshCooldownMS, 1 s × 2^(n−1)), 50 to 100% of it. The same option as PersistentSession's.
   * @default DEFAULT_REFRESH_COOLDOWN_MS (30_000)
   */
  refreshCooldownMS?: number;
  /**
   * A shared queue: pass one to every UserSession of the same app so that they share its rate limit.
   * @default a {@link RateLimitQueue} of `rateLimit` of this session's own
   */
  queue?: PQueue;
  /**
   * The rate limit when no `queue` is given (see {@link createRateLimitQueue}).
   * @default { perMinute: DEFAULT_MINTS_PER_MINUTE }
   */
  rateLimit?: RateLimitOptions;
  /**
   * Clock, for tests.
   * @default Date.now
   */
  now?: () => number;
}

/** A {@link UserSession} bound to one account (see {@link UserSession.forUser}): its methods, minus the account argument. */
export interface UserSessionView {
  /** The account. */
  readonly accountId: string;
  /** See {@link UserSession.getAccessToken}. */
  getAccessToken(): Promise<string>;
  /** See {@link UserSession.revokeTokens}. */
  revokeTokens(): Promise<void>;
  /** See {@link UserSession.handleExpiredTokensError}. */
  handleExpiredTokensError(err: Error): Promise<Error>;
}

/** Options of one call of {@link UserSession.getAccessToken}, {@link UserSession.mint} or {@link UserSession.exchangeToken}. */
export interface UserSessionCallOptions {
  /**
   * Stops waiting: the call rejects with `signal.reason` as soon as it aborts. A mint already running
   * goes on for the other callers that share it (and its token is cached as usual).
   * @default none
   */
  signal?: AbortSignal;
}

/** @internal Validates the options of one call; returns the abort signal. */
export function callSignal(options: unknown): AbortSignal | undefined {
  checkObject(options, 'options');
  return checkSignal((options as { signal?: unknown }).signal, 'options.signal');
}

/** @internal The options, validated and with their defaults. */
export interface ResolvedUserSessionOptions {
  exchanger: TokenExchanger;
  store: TokenStore | undefined;
  namespace: string;
  bufferMS: number;
  aheadRatio: number;
  cooldownMS: number;
  queue: PQueue;
  now: () => number;
}

const KNOWN = [
  'exchanger',
  'exchange',
  'tokenStore',
  'namespace',
  'refreshBufferMS',
  'refreshBufferSeconds',
  'refreshAheadRatio',
  'refreshCooldownMS',
  'queue',
  'rateLimit',
  'now',
];

let warnedExchange = false;

/**
 * @internal Validates the options of a UserSession and fills in the defaults.
 * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` for a bad `tokenStore`
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for any other bad option, naming it
 */
export function resolveUserSessionOptions(options: UserSessionOptions): ResolvedUserSessionOptions {
  checkObject(options, 'options');
  const o = options as unknown as Record<string, unknown>;
  checkKnownKeys(o, KNOWN, 'options');
  const given = aliased(o, 'exchanger', 'exchange');
  const ex = given.value as Partial<TokenExchanger> | undefined;
  if (ex === null || typeof ex !== 'object' || typeof ex.exchange !== 'function' || typeof ex.describe !== 'function') {
    const what = 'a TokenExchanger (an object with exchange() and describe())';
    throw new InvalidArgumentError(given.field, `Expected \`${given.field}\` to be ${what}, got ${describeValue(ex)}`);
  }
  const exchanger = ex as TokenExchanger;
  if (given.field === 'exchange' && !warnedExchange) {
    warnedExchange = true;
    process.emitWarning('The UserSession option `exchange` is now called `exchanger`', {
      type: 'DeprecationWarning',
      code: 'PERSISTENT_SESSION_DEP_EXCHANGE',
    });
  }
  const buffer = aliased(o, 'refreshBufferMS', 'refreshBufferSeconds');
  const bufferMS =
    buffer.field === 'refreshBufferMS'
      ? checkNumber(buffer.value ?? DEFAULT_REFRESH_BUFFER_SECONDS * 1000, 'refreshBufferMS', { min: 0 })
      : checkNumber(buffer.value, 'refreshBufferSeconds', { min: 0 }) * 1000;
  const { ratio: aheadRatio, cooldownMS } = resolveRefreshAhead(options);
  return {
    exchanger,
    aheadRatio,
    cooldownMS,
    store: options.tokenStore === undefined ? undefined : validateTokenStore(options.tokenStore),
    namespace:
      options.namespace === undefined
        ? checkString(exchanger.describe(), `${given.field}.describe()`)
        : checkString(options.namespace, 'namespace'),
    bufferMS,
    queue: resolveQueue(options.queue as PQueue | undefined, options.rateLimit as RateLimitOptions | undefined),
    now: options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now'),
  };
}

/**
 * @internal The queue of a UserSession from its `queue` and `rateLimit` options: the shared queue
 * when given, else a {@link RateLimitQueue} of `rateLimit.perMinute` (default {@link DEFAULT_MINTS_PER_MINUTE}).
 */
export function resolveQueue(queue: PQueue | undefined, rateLimit: RateLimitOptions | undefined): PQueue {
  if (queue !== undefined && rateLimit !== undefined) {
    throw new InvalidArgumentError('rateLimit', 'Give either `queue` or `rateLimit`, not both: a shared queue carries its own rate limit');
  }
  if (queue !== undefined) {
    checkObject(queue, 'queue');
    checkFunction(queue.add, 'queue.add');
    return queue;
  }
  if (rateLimit === undefined) return new RateLimitQueue(DEFAULT_MINTS_PER_MINUTE);
  checkObject(rateLimit, 'rateLimit');
  checkKnownKeys(rateLimit, ['perMinute'], 'rateLimit');
  // Given, it must say how many: `{}` (or a misspelt key) would silently mean the default.
  return new RateLimitQueue(checkNumber(rateLimit.perMinute, 'rateLimit.perMinute', { min: 1, integer: true }));
}
