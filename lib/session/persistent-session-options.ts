/**
 * Options of PersistentSession, their validation, and the private store it uses by default.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { OAuthClientOptions } from '../oauth/oauth-client.js';
import { checkObject, checkString } from '../util/validate.js';
import { type RetryOptions } from '../oauth/retry-options.js';
import type { TokenInfo } from '../token/token-info.js';
import type { TokenStore } from '../store/token-store.js';

/** Options of {@link PersistentSession}. */
export interface PersistentSessionOptions {
  /**
   * Tokens to start from (validated). They seed an empty store; when the store already holds
   * tokens for `key`, those win (they may have been rotated since), and these are tried only if
   * the stored grant turns out to be dead.
   */
  tokenInfo?: TokenInfo;
  /**
   * Where the tokens persist.
   * @default a store private to this session (tokens live only in this process)
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
   * Lease of the store's cross-process lock while refreshing (at least MIN_LOCK_TTL_MS).
   * @default DEFAULT_LOCK_TTL_MS
   */
  lockTTLMS?: number;
  /**
   * Clock, for tests.
   * @default Date.now
   */
  now?: () => number;
}

/** @internal */
export const KNOWN_OPTIONS = ['tokenInfo', 'tokenStore', 'key', 'client', 'expiredBufferMS', 'dispatcher', 'retry', 'lockTTLMS', 'now'] as const;

/** @internal Validates `getAccessToken` options; true when a refresh is forced. */
export function forceOption(options: unknown): boolean {
  checkObject(options, 'options');
  const force = (options as { forceRefresh?: unknown }).forceRefresh;
  if (force !== undefined && typeof force !== 'boolean') {
    throw new InvalidArgumentError('options.forceRefresh', `Expected \`options.forceRefresh\` to be a boolean, got ${describeValue(force)}`);
  }
  return force === true;
}

/** @internal Validates `exchangeToken` arguments; returns the scope string and the actor token. */
export function checkExchangeArgs(scopes: unknown, resource: unknown, options: unknown): { scope: string; actorToken: string | undefined } {
  const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
  if (typeof scope !== 'string' || (Array.isArray(scopes) && scopes.some((s) => typeof s !== 'string' || s.length === 0 || /\s/.test(s)))) {
    throw new InvalidArgumentError('scopes', `Expected \`scopes\` to be a string or an array of scope strings, got ${describeValue(scopes)}`);
  }
  if (resource !== undefined) checkString(resource, 'resource');
  if (options !== undefined) checkObject(options, 'options');
  const actorToken = (options as { actorToken?: unknown } | undefined)?.actorToken;
  if (actorToken !== undefined) checkString(actorToken, 'options.actorToken');
  return { scope, actorToken: actorToken as string | undefined };
}
