/**
 * The app token an exchanger presents: resolving a {@link TokenSource}, reading a JWT's expiry
 * without trusting or verifying it, and the wording of "no usable app token" errors.
 *
 * @module
 */
import { ERR_NO_SYSTEM_TOKEN, ERR_SYSTEM_TOKEN_EXPIRED, SessionError, SystemTokenExpiredError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { markUnsent } from '../session/rate-limit-queue.js';
import type { TokenSource } from './token-exchanger.js';

/** What to do about a missing or expired Forge app system token; appended to the errors that say so. */
export const SYSTEM_TOKEN_ADVICE = 'Forge hands the app system token only to invocations of the remote (x-forge-oauth-system header) '
  + 'and offers no endpoint to refresh it: add a scheduled trigger (hourly) that invokes the remote, and remember the token it brings '
  + '(SystemTokenCache.remember), so that a fresh one always arrives before the last one expires.';

/**
 * @internal The `exp` claim of a JWT in epoch ms, without verifying it (Forge asks that the token be
 * treated as opaque; the expiry is only read to fail early).
 *
 * @returns `undefined` for a JWT without a numeric `exp`; `null` when the token is not a JWT
 */
export function jwtExpiresAtMS(token: string): number | undefined | null {
  // Every mint asks about the same system token: decode it once (a one-entry memo).
  if (token === lastDecoded.token) return lastDecoded.expiresAtMS;
  let claims: { exp?: unknown };
  let expiresAtMS: number | undefined | null;
  try {
    claims = decodeClaims(token);
    expiresAtMS = typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    expiresAtMS = null;
  }
  lastDecoded = { token, expiresAtMS };
  return expiresAtMS;
}

/** The claims of a compact JWS, unverified; throws when `token` is not one (jose stays unloaded until a signature must be checked). */
function decodeClaims(token: string): { exp?: unknown } {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === '') throw new TypeError('not a JWT');
  const claims: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new TypeError('the JWT payload is not an object');
  return claims as { exp?: unknown };
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
 * `ERR_SYSTEM_TOKEN_EXPIRED`. Any other string (an opaque token) is accepted as it is.
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
  return fromFunction(source, nowMS, label, tail).catch((err: unknown) => { throw markUnsent(err); });
}

async function fromFunction(source: () => unknown, nowMS: () => number, label: string, tail: string): Promise<string> {
  let token: unknown;
  try {
    token = await source();
  } catch (err) {
    // A SystemTokenCache already explains itself; wrap anything else so that callers see one code.
    if (err instanceof SessionError) throw err;
    throw new SystemTokenExpiredError(ERR_NO_SYSTEM_TOKEN, `The \`${label}\` function failed, so no request was sent: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return checkToken(token, 'returned', nowMS, label, tail);
}

function checkToken(token: unknown, verb: 'is' | 'returned', nowMS: () => number, label: string, tail: string): string {
  if (typeof token !== 'string' || token.length === 0) {
    throw new SystemTokenExpiredError(ERR_NO_SYSTEM_TOKEN, `No app token: \`${label}\` ${verb} ${typeof token === 'string' ? 'an empty string' : String(token === null ? 'null' : typeof token)}, so no request was sent.${tail}`);
  }
  registerSecret(token);
  const expiresAt = jwtExpiresAtMS(token);
  const now = nowMS();
  if (typeof expiresAt === 'number' && expiresAt <= now) {
    throw new SystemTokenExpiredError(ERR_SYSTEM_TOKEN_EXPIRED, `The app token in \`${label}\` expired at ${describeTime(expiresAt, now)}, so no request was sent.${tail}`);
  }
  return token;
}
