/**
 * TokenInfo: the one shape in which the library holds, stores and returns tokens, and the single
 * pure function that does all expiry arithmetic.
 *
 * @module
 */
import { inspect } from 'node:util';
import { InvalidTokenInfoError, describeValue } from '../errors.js';
import { fingerprint } from '../redact.js';
import { copyGrantHealth, validateGrantHealth, type GrantHealth } from './grant-health.js';

export type { GrantHealth } from './grant-health.js';

/**
 * An OAuth 2.0 token set as the library stores it.
 *
 * Objects returned by {@link validateTokenInfo} print redacted under `util.inspect` and
 * `JSON.stringify` (tokens shown as fingerprints); their fields are the real values.
 */
export interface TokenInfo {
  /** The access token; non-empty. */
  accessToken: string;
  /** The refresh token; non-empty when present. */
  refreshToken?: string;
  /** Lifetime of the access token in milliseconds; finite, > 0. */
  accessTokenTTLMS: number;
  /** Epoch milliseconds at which the token was issued or received; finite, > 0. */
  acquiredAtMS: number;
  /** Space-separated scopes, as the server returned them. */
  scope?: string;
  /** Token type, e.g. `Bearer`. */
  tokenType?: string;
  /**
   * The health of the grant behind the refresh token (failed refreshes, last error, dead marker),
   * stored in the same record so that new tokens written under the key replace it. Absent means
   * healthy (records written before it existed have none).
   */
  grant?: GrantHealth;
}

/** The redacted form of a {@link TokenInfo}, as printed and serialised. */
export interface RedactedTokenInfo {
  /** Fingerprint of the access token. */
  accessToken: string;
  /** Fingerprint of the refresh token, when there is one. */
  refreshToken?: string;
  /** Lifetime in ms. */
  accessTokenTTLMS: number;
  /** When it was acquired (epoch ms). */
  acquiredAtMS: number;
  /** When it expires (epoch ms). */
  expiresAtMS: number;
  /** Scopes. */
  scope?: string;
  /** Token type. */
  tokenType?: string;
  /** The grant's health, as stored (it holds no secret). */
  grant?: GrantHealth;
}

/**
 * Returns the redacted form of a TokenInfo (fingerprints instead of tokens).
 *
 * @param info - the token set
 * @returns a plain object safe to log
 */
export function redactTokenInfo(info: TokenInfo): RedactedTokenInfo {
  const out: RedactedTokenInfo = {
    accessToken: fingerprint(info.accessToken),
    accessTokenTTLMS: info.accessTokenTTLMS,
    acquiredAtMS: info.acquiredAtMS,
    expiresAtMS: info.acquiredAtMS + info.accessTokenTTLMS,
  };
  if (info.refreshToken !== undefined) out.refreshToken = fingerprint(info.refreshToken);
  if (info.scope !== undefined) out.scope = info.scope;
  if (info.tokenType !== undefined) out.tokenType = info.tokenType;
  if (info.grant !== undefined) out.grant = copyGrantHealth(info.grant);
  return out;
}

// Prototype of validated TokenInfo objects: printing or serialising them never shows a token.
// The members are non-enumerable, so `{ ...info }` is a plain copy with the real values.
const TOKEN_INFO_PROTOTYPE: object = Object.create(Object.prototype, {
  toJSON: {
    value(this: TokenInfo) {
      return redactTokenInfo(this);
    },
  },
  [inspect.custom]: {
    value(this: TokenInfo, _depth: number, options: object, inspectFn: typeof inspect = inspect) {
      return `TokenInfo ${inspectFn(redactTokenInfo(this), options)}`;
    },
  },
});

function fail(field: string, expected: string, value: unknown, secret = false): never {
  const got = secret ? (typeof value === 'string' ? 'an empty string' : describeValue(value)) : describeValue(value);
  throw new InvalidTokenInfoError(field, `Expected \`${field}\` to be ${expected}, got ${got}`);
}

function checkSecret(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(field, 'a non-empty string', value, true);
  if (/\s/.test(value)) throw new InvalidTokenInfoError(field, `Expected \`${field}\` to contain no whitespace`);
  return value;
}

function checkPositive(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(field, 'a finite number > 0', value);
  return value;
}

function checkOptionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(field, 'a string', value);
  return value;
}

/**
 * Validates a TokenInfo and returns a clean copy (unknown fields dropped, also inside `grant`). A
 * TokenInfo without `grant` is valid as before and stays without it: absent health means healthy.
 *
 * @param value - anything, e.g. a record read back from a store or options passed by a user
 * @returns a new TokenInfo that prints redacted
 * @throws {@link InvalidTokenInfoError} `ERR_INVALID_TOKEN_INFO`, naming the offending field and never quoting a token
 * @example
 * ```ts
 * const info = validateTokenInfo({ accessToken: 'at', refreshToken: 'rt', accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() });
 * ```
 */
export function validateTokenInfo(value: unknown): TokenInfo {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidTokenInfoError('tokenInfo', `Expected \`tokenInfo\` to be an object, got ${describeValue(value)}`);
  }
  const v = value as Record<string, unknown>;
  const info: TokenInfo = Object.create(TOKEN_INFO_PROTOTYPE);
  info.accessToken = checkSecret(v.accessToken, 'accessToken');
  if (v.refreshToken !== undefined) info.refreshToken = checkSecret(v.refreshToken, 'refreshToken');
  info.accessTokenTTLMS = checkPositive(v.accessTokenTTLMS, 'accessTokenTTLMS');
  info.acquiredAtMS = checkPositive(v.acquiredAtMS, 'acquiredAtMS');
  const scope = checkOptionalString(v.scope, 'scope');
  if (scope !== undefined) info.scope = scope;
  const tokenType = checkOptionalString(v.tokenType, 'tokenType');
  if (tokenType !== undefined) info.tokenType = tokenType;
  if (v.grant !== undefined) info.grant = validateGrantHealth(v.grant);
  return info;
}

/**
 * A plain copy of a TokenInfo with the real token values, for persistence.
 *
 * @param info - a validated TokenInfo
 * @returns an object whose JSON form holds the tokens
 */
export function toStorable(info: TokenInfo): TokenInfo {
  const out: TokenInfo = { accessToken: info.accessToken, accessTokenTTLMS: info.accessTokenTTLMS, acquiredAtMS: info.acquiredAtMS };
  if (info.refreshToken !== undefined) out.refreshToken = info.refreshToken;
  if (info.scope !== undefined) out.scope = info.scope;
  if (info.tokenType !== undefined) out.tokenType = info.tokenType;
  if (info.grant !== undefined) out.grant = copyGrantHealth(info.grant);
  return out;
}

/**
 * When a token expires (epoch ms).
 *
 * @param info - the token set
 * @returns `acquiredAtMS + accessTokenTTLMS`
 */
export function expiresAtMS(info: Pick<TokenInfo, 'acquiredAtMS' | 'accessTokenTTLMS'>): number {
  return info.acquiredAtMS + info.accessTokenTTLMS;
}

/**
 * The one place where the library decides whether a token may still be handed out.
 *
 * A token is fresh while more than the buffer is left. The buffer is capped at half the token's
 * lifetime: with a buffer longer than the lifetime every new token would already be "due", and the
 * session would refresh in a loop. `skewMS` is the offset of the server's clock from ours
 * (positive when the server is ahead), learnt from rejected tokens.
 *
 * @param info - the token set
 * @param nowMS - our clock
 * @param bufferMS - how much lifetime must be left
 * @param skewMS - server clock minus our clock
 * @returns true when the token may be handed out without a refresh
 */
export function isFresh(info: Pick<TokenInfo, 'acquiredAtMS' | 'accessTokenTTLMS'>, nowMS: number, bufferMS: number, skewMS = 0): boolean {
  return nowMS < freshUntilMS(info, bufferMS, skewMS);
}

/**
 * Until when (our clock, epoch ms) a token may be handed out without a refresh; see {@link isFresh}.
 *
 * @param info - the token set
 * @param bufferMS - how much lifetime must be left (capped at half the lifetime)
 * @param skewMS - server clock minus our clock
 * @returns `acquiredAtMS + accessTokenTTLMS - min(bufferMS, accessTokenTTLMS / 2) - skewMS`
 */
export function freshUntilMS(info: Pick<TokenInfo, 'acquiredAtMS' | 'accessTokenTTLMS'>, bufferMS: number, skewMS = 0): number {
  return info.acquiredAtMS + info.accessTokenTTLMS - Math.min(bufferMS, info.accessTokenTTLMS / 2) - skewMS;
}
