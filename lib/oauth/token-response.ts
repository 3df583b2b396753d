/**
 * The shape of token answers (RFC 6749 §5.1, RFC 8693 §2.2.1): what a 2xx answer must hold to be
 * used, and what a malformed one that rotated the refresh token still carries.
 *
 * @module
 */
import { TokenRequestError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { isToken, markRotated } from './rotated-tokens.js';
import type { JsonResponse } from './token-request.js';

/** @internal A validated OAuth token answer (RFC 6749 §5.1). */
export interface TokenResponse {
  accessToken: string;
  refreshToken: string | undefined;
  expiresInMS: number | undefined;
  /** `refresh_token_expires_in` in ms: how long the grant lives at most (absent or unusable: undefined). */
  refreshTokenExpiresInMS?: number | undefined;
  scope: string | undefined;
  tokenType: string | undefined;
  issuedTokenType: string | undefined;
  serverDateMS: number | undefined;
}

/** `expires_in` in ms: a positive number of seconds, or a numeric string (`"3600"`, `"3600.0"`); undefined when unusable. */
function expiresInMS(value: unknown): number | undefined {
  // Some servers send expires_in as a numeric string, some with a fraction.
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return undefined;
  // To the ms (1.001 s is 1000.999… ms in floating point); at least 1 ms, as TokenInfo wants a lifetime > 0.
  const ms = Math.max(1, Math.round(n * 1000));
  // Seconds near Number.MAX_VALUE are no lifetime in ms.
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * @internal Checks the shape of a token answer; a malformed one is a TokenRequestError.
 *
 * A malformed answer to a refresh that carries a new refresh token (a usable one, not `sentRefreshToken`)
 * still rotated the grant at a strictly rotating server, where the old one is now dead: the error then
 * carries the new one for the caller to persist (see `rotatedRefreshTokenOf` in rotated-tokens.ts). An `expires_in` that is
 * not a positive number (`0`, `-5`, `"abc"`) makes an answer malformed: an access token with no usable
 * lifetime is never served.
 *
 * @param res - the 2xx answer
 * @param what - what the request was, for messages
 * @param sentRefreshToken - the refresh token a refresh sent (undefined for other requests)
 * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` for a malformed answer (never transient: it is not retried)
 */
export function parseTokenResponse(res: JsonResponse, what: string, sentRefreshToken?: string): TokenResponse {
  const b = res.body as Record<string, unknown> | undefined;
  if (b === undefined || b === null || typeof b !== 'object' || Array.isArray(b)) {
    throw new TokenRequestError(`${what}: malformed token response (not a JSON object)`, { status: res.status, response: res.body });
  }
  if (isToken(b.access_token)) registerSecret(b.access_token);
  if (isToken(b.refresh_token)) registerSecret(b.refresh_token);
  const rotated = sentRefreshToken !== undefined && isToken(b.refresh_token) && b.refresh_token !== sentRefreshToken;
  const bad = (why: string): TokenRequestError => {
    const e = new TokenRequestError(`${what}: malformed token response (${why})`, { status: res.status, response: res.body });
    if (rotated) markRotated(e, b.refresh_token as string);
    return e;
  };
  if (!isToken(b.access_token)) throw bad('`access_token` is missing or not a non-empty string of visible characters');
  if (b.refresh_token !== undefined && b.refresh_token !== null && !isToken(b.refresh_token))
    throw bad('`refresh_token` is not a non-empty string of visible characters');
  const expiresIn = b.expires_in === undefined || b.expires_in === null ? undefined : expiresInMS(b.expires_in);
  if (expiresIn === undefined && b.expires_in !== undefined && b.expires_in !== null) throw bad('`expires_in` is not a positive number');
  if (b.token_type !== undefined && typeof b.token_type !== 'string') throw bad('`token_type` is not a string');
  if (b.scope !== undefined && b.scope !== null && typeof b.scope !== 'string') throw bad('`scope` is not a string');
  return {
    accessToken: b.access_token,
    refreshToken: typeof b.refresh_token === 'string' ? b.refresh_token : undefined,
    expiresInMS: expiresIn,
    // Informational (the grant's deadline): a value that is not a positive number is ignored, not refused.
    refreshTokenExpiresInMS:
      typeof b.refresh_token_expires_in === 'number' && Number.isFinite(b.refresh_token_expires_in) && b.refresh_token_expires_in > 0
        ? b.refresh_token_expires_in * 1000
        : undefined,
    scope: typeof b.scope === 'string' ? b.scope : undefined,
    tokenType: typeof b.token_type === 'string' ? b.token_type : undefined,
    issuedTokenType: typeof b.issued_token_type === 'string' ? b.issued_token_type : undefined,
    serverDateMS: res.serverDateMS,
  };
}
