/**
 * The app token an exchanger presents: resolving a {@link TokenSource}, reading a JWT's expiry
 * without trusting or verifying it, and the wording of "no usable app token" errors.
 *
 * The expiry is read by hand (a base64url and JSON decode of the payload) rather than with a JOSE
 * library: nothing is verified here, and importing the package root must not load one.
 *
 * @module
 */
import {
  ERR_NO_SYSTEM_TOKEN,
  ERR_SYSTEM_TOKEN_EXPIRED,
  ERR_SYSTEM_TOKEN_MALFORMED,
  SessionError,
  SystemTokenExpiredError,
} from '../errors.js';
import { registerSecret } from '../redact.js';
import { markUnsent } from '../session/rate-limit-queue.js';
import type { TokenSource } from './token-exchanger.js';

/** What to do about a missing or expired Forge app system token; appended to the errors that say so. */
export const SYSTEM_TOKEN_ADVICE =
  'Forge hands the app system token only to invocations of the remote (x-forge-oauth-system header) ' +
  'and offers no endpoint to refresh it: add a scheduled trigger (hourly) that invokes the remote, and remember the token it brings ' +
  '(SystemTokenCache.remember), so that a fresh one always arrives before the last one expires.';

/** Refuses invalid UTF-8 instead of replacing it: such a payload is damaged, not a JWT. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @internal The claims of a compact JWS (`header.payload.signature`), decoded without verifying
 * anything; `undefined` when the token is not one (a JWE's five parts, bad base64url, a payload that
 * is not a JSON object).
 */
export function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const payload = parts[1]!;
  // Buffer's decoder skips characters outside the alphabet; a JWT has none, and no 4n+1 length.
  if (!/^[A-Za-z0-9_-]+$/.test(payload) || payload.length % 4 === 1) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(Buffer.from(payload, 'base64url')));
  } catch {
    return undefined;
  }
  return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
}

/**
 * @internal The `exp` claim of a JWT in epoch ms, without verifying it (Forge asks that the token be
 * treated as opaque; the expiry is only read to fail early).
 *
 * @returns `undefined` for a JWT without a numeric `exp`; `null` when the token is not a JWT
 */
export function jwtExpiresAtMS(token: string): number | undefined | null {
  // Every mint asks about the same system token: decode it once (a one-entry memo).
  if (token === lastDecoded.token) return lastDecoded.expiresAtMS;
  const claims = unverifiedClaims(token);
  const expiresAtMS =
    claims === undefined ? null : typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  lastDecoded = { token, expiresAtMS };
  return expiresAtMS;
}

/** The base64url of `{"`, with which every JWT (its JSON header) begins. */
const JWT_PREFIX = 'eyJ';

/**
 * @internal Throws `ERR_SYSTEM_TOKEN_MALFORMED` unless `token` is a JWT. For callers that know the
 * token must be one (the CLI's `--system-token`: Forge app system tokens are JWTs).
 *
 * @param token - the token
 * @param label - what the token is called in the message, e.g. `--system-token`
 * @throws {@link SystemTokenExpiredError} `ERR_SYSTEM_TOKEN_MALFORMED`
 */
export function requireJwt(token: string, label: string): void {
  if (jwtExpiresAtMS(token) === null) throw malformedToken(label, token, '');
}

function malformedToken(label: string, token: string, tail: string): SystemTokenExpiredError {
  const parts = token.split('.').length;
  const shape = `${parts} part${parts === 1 ? '' : 's'}, ${token.length} characters`;
  return new SystemTokenExpiredError(
    ERR_SYSTEM_TOKEN_MALFORMED,
    `The app token in \`${label}\` is not a well-formed JWT ` +
      '(three base64url parts separated by dots, ' +
      `the middle one a JSON object; got ${shape}), so no request was sent: it was cut short or mangled when it was copied.${tail}`,
  );
}

let lastDecoded: { token: string | undefined; expiresAtMS: number | undefined | null } = { token: undefined, expiresAtMS: undefined };

/** @internal `2026-08-05T10:00:00.000Z (1 h 5 min ago)` / `(in 3 min)`. */
export function describeTime(atMS: number, nowMS: number): string {
  const diff = nowMS - atMS;
  const abs = Math.abs(diff);
  let span: string;
  if (abs < 60_000) span = `${Math.round(abs / 1000)} s`;
  else if (abs < 3_600_000) span = `${Math.floor(abs / 60_000)} min`;
  else if (abs < 86_400_000) span = `${Math.floor(abs / 3_600_000)} h ${Math.floor((abs % 3_600_000) / 60_000)} min`;
  else span = `${Math.floor(abs / 86_400_000)} d ${Math.floor((abs % 86_400_000) / 3_600_000)} h`;
  return `${new Date(atMS).toISOString()} (${diff >= 0 ? `${span} ago` : `in ${span}`})`;
}

/**
 * @internal Obtains the app token from its source and checks it before any request is sent: a
 * missing or empty token is `ERR_NO_SYSTEM_TOKEN`, a JWT whose `exp` has passed is
 * `ERR_SYSTEM_TOKEN_EXPIRED`, a string that begins like a JWT (`eyJ`) but does not decode as one is
 * `ERR_SYSTEM_TOKEN_MALFORMED`. Any other string (an opaque token) is accepted as it is.
 *
 * @param source - the string or function
 * @param nowMS - the current time
 * @param label - what the token is called in messages, e.g. `systemToken`
 * @param advice - what to do about it, appended to the messages
 * @returns the token: at once for a string source (whose failures throw), else a promise
 */
export function resolveTokenSource(source: TokenSource, nowMS: () => number, label: string, advice = ''): Promise<string> | string {
  const tail = advice === '' ? '' : ` ${advice}`;
  // Whatever fails here failed before any request: it cost no rate-limit budget.
  if (typeof source !== 'function') {
    // A token given as such is checked at once (no await: the request can go out in the same turn).
    try {
      return checkToken(source, 'is', nowMS, label, tail);
    } catch (err) {
      throw markUnsent(err);
    }
  }
  return fromFunction(source, nowMS, label, tail).catch((err: unknown) => {
    throw markUnsent(err);
  });
}

async function fromFunction(source: () => unknown, nowMS: () => number, label: string, tail: string): Promise<string> {
  let token: unknown;
  try {
    token = await source();
  } catch (err) {
    // A SystemTokenCache already explains itself; wrap anything else so that callers see one code.
    if (err instanceof SessionError) throw err;
    throw new SystemTokenExpiredError(
      ERR_NO_SYSTEM_TOKEN,
      `The \`${label}\` function failed, so no request was sent: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return checkToken(token, 'returned', nowMS, label, tail);
}

function checkToken(token: unknown, verb: 'is' | 'returned', nowMS: () => number, label: string, tail: string): string {
  if (typeof token !== 'string' || token.length === 0) {
    throw new SystemTokenExpiredError(
      ERR_NO_SYSTEM_TOKEN,
      `No app token: \`${label}\` ${verb} ` +
        `${typeof token === 'string' ? 'an empty string' : String(token === null ? 'null' : typeof token)}, so no request was sent.${tail}`,
    );
  }
  registerSecret(token);
  const expiresAt = jwtExpiresAtMS(token);
  // Other strings are opaque tokens and are sent as they are; one that begins like a JWT but does
  // not decode is a damaged JWT, which the server would refuse as if it had expired.
  if (expiresAt === null && token.startsWith(JWT_PREFIX)) throw malformedToken(label, token, tail);
  const now = nowMS();
  if (typeof expiresAt === 'number' && expiresAt <= now) {
    throw new SystemTokenExpiredError(
      ERR_SYSTEM_TOKEN_EXPIRED,
      `The app token in \`${label}\` expired at ${describeTime(expiresAt, now)}, so no request was sent.${tail}`,
    );
  }
  return token;
}
