/**
 * What `authorizedFetch` and the `sessionAuth` interceptor need from a session, and the steps
 * they share: getting a token, turning a 401 into an `ExpiredTokensError`, and reporting it.
 *
 * @module
 */
import { abortable } from '../session/abort.js';
import { ExpiredTokensError, InvalidArgumentError, describeValue } from '../errors.js';
import { markRejectedToken } from '../session/refusals.js';

/**
 * Anything that hands out access tokens and can be told that one was refused: a
 * `PersistentSession`, or the view `userSession.forUser(accountId)` of a `UserSession`.
 *
 * @example
 * ```ts
 * const session: AuthSession = new PersistentSession({ tokenStore, client });
 * const res = await authorizedFetch(session, 'https://api.example.com/me');
 * ```
 */
export interface AuthSession {
  /**
   * A token to send as `Authorization: Bearer <token>`.
   * @returns the access token
   */
  getAccessToken(): Promise<string>;
  /**
   * Told that a token was refused (a 401); the next `getAccessToken()` must not return it again.
   * @param err - an `ExpiredTokensError` with `status: 401`
   * @returns the error, or the error that handling it caused
   */
  handleExpiredTokensError(err: Error): Promise<Error>;
  /**
   * Optional: the credential header to send with a request to `url`, instead of
   * `Authorization: Bearer <getAccessToken()>`; for sessions whose credential is not a bearer
   * token (a Forge Containers egress proxy takes `forge-proxy-authorization`). Resolve
   * `undefined` to send no credential to that URL (a session bound to one origin does so for
   * every other). When present, `getAccessToken()` is not called by `authorizedFetch` or `sessionAuth`.
   * @param url - where the request goes
   * @returns the header, or undefined for none
   */
  authHeader?(url: URL): Promise<AuthHeader | undefined>;
}

/** A credential header, as {@link AuthSession.authHeader} returns it. */
export interface AuthHeader {
  /** Header name, e.g. `authorization` or `forge-proxy-authorization`. */
  name: string;
  /** Header value; it must not contain CR, LF or NUL. */
  value: string;
  /**
   * The token the value carries, if any: reported with a 401 (so that the session drops exactly
   * that one). Without it, the value itself is reported.
   */
  token?: string;
}

/**
 * Response header that says why a 401 was not retried. Its only value today is
 * {@link RETRY_SKIPPED_NOT_REPLAYABLE}: the request body was a stream, which cannot be sent twice.
 */
export const RETRY_HEADER = 'x-persistent-session-retry';

/** Value of {@link RETRY_HEADER} on a 401 that was not retried because the body could not be replayed. */
export const RETRY_SKIPPED_NOT_REPLAYABLE = 'skipped; body not replayable';

/**
 * @internal Whether a request body can be sent a second time: bodies that are re-read from their
 * source on each send (strings, bytes, URLSearchParams, FormData, Blob) can; a stream or an
 * (async) iterable is consumed by the first request and cannot.
 */
export function isReplayableBody(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string') return true;
  if (typeof body !== 'object') return false;
  if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer || body instanceof URLSearchParams) return true;
  return ['FormData', 'Blob', 'File', 'SharedArrayBuffer'].includes(Object.prototype.toString.call(body).slice(8, -1));
}

/** RFC 6750 §3.1 error codes a resource server may put in its `WWW-Authenticate` challenge. */
const BEARER_ERRORS = new Set(['invalid_request', 'invalid_token', 'insufficient_scope']);

/**
 * @internal Checks that `session` has the two methods this module calls.
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE`
 */
export function checkAuthSession(session: unknown): AuthSession {
  const s = session as Partial<AuthSession> | null | undefined;
  if (s === null || typeof s !== 'object' || typeof s.getAccessToken !== 'function' || typeof s.handleExpiredTokensError !== 'function') {
    throw new InvalidArgumentError(
      'session',
      `Expected \`session\` to have getAccessToken() and handleExpiredTokensError(err) methods, got ${describeValue(session)}`,
    );
  }
  if (s.authHeader !== undefined && typeof s.authHeader !== 'function') {
    throw new InvalidArgumentError(
      'session',
      `Expected \`session.authHeader\` to be a function when present, got ${describeValue(s.authHeader)}`,
    );
  }
  return s as AuthSession;
}

/**
 * @internal The credential for a request to `url`: the session's own header (see
 * {@link AuthSession.authHeader}), else `Authorization: Bearer <token>`. `undefined` when the
 * session sends nothing to that URL.
 */
export function credentialFor(session: AuthSession, url: string, signal?: AbortSignal | null): Promise<Required<AuthHeader> | undefined> {
  // The caller stops waiting on an abort; the refresh it waited on goes on for the others.
  return abortable(signal ?? undefined, () => credentialOf(session, url));
}

async function credentialOf(session: AuthSession, url: string): Promise<Required<AuthHeader> | undefined> {
  if (session.authHeader === undefined) {
    const token = await tokenFrom(session);
    return { name: 'authorization', value: `Bearer ${token}`, token };
  }
  const header: unknown = await session.authHeader(new URL(url));
  if (header === undefined) return undefined;
  const h = header as Partial<AuthHeader> | null;
  const badName = h === null || typeof h !== 'object' || typeof h.name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.name);
  const badValue = badName || typeof h.value !== 'string' || h.value.length === 0 || /[\r\n\0]/.test(h.value);
  if (badValue || (h.token !== undefined && typeof h.token !== 'string')) {
    throw new InvalidArgumentError(
      'session',
      'Expected `session.authHeader(url)` to resolve with { name, value } ' +
        `(a header name and a value without CR, LF or NUL) or undefined, got ${describeValue(header)}`,
    );
  }
  const valid = h as AuthHeader;
  return { name: valid.name.toLowerCase(), value: valid.value, token: valid.token ?? valid.value };
}

/**
 * @internal Asks the session for a token and checks that it is one (a session that resolves with
 * anything else would otherwise send `Authorization: Bearer undefined`).
 */
export async function tokenFrom(session: AuthSession): Promise<string> {
  const token: unknown = await session.getAccessToken();
  if (typeof token !== 'string' || token.length === 0 || /[\s\0]/.test(token)) {
    throw new InvalidArgumentError(
      'session',
      `Expected \`session.getAccessToken()\` to resolve with a non-empty token without whitespace, got ` +
        `${typeof token === 'string' ? `a string of length ${token.length}` : describeValue(token)}`,
    );
  }
  return token;
}

/** Reads `error="…"` and `error_description="…"` from a Bearer challenge (RFC 6750 §3). */
function parseChallenge(header: string | null | undefined): { error?: string; errorDescription?: string } {
  if (typeof header !== 'string' || !/^\s*Bearer\b/i.test(header)) return {};
  const param = (name: string) => new RegExp(`\\b${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,]+))`, 'i').exec(header);
  const e = param('error');
  const d = param('error_description');
  const error = e === null ? undefined : (e[1] ?? e[2]);
  return {
    ...(error !== undefined && BEARER_ERRORS.has(error) ? { error } : {}),
    ...(d === null ? {} : { errorDescription: (d[1] ?? d[2])!.slice(0, 300) }),
  };
}

/**
 * @internal The error a 401 from a resource becomes: `ExpiredTokensError` with `status: 401`
 * (which sessions read as "the access token was refused, keep the refresh token"). The message
 * names the origin and path only: a query string may carry credentials. `serverDateMS`, the
 * server's clock from its `Date` header, is a non-enumerable number that feeds the session's
 * skew guard.
 */
export function unauthorizedError(url: string, headers: { wwwAuthenticate?: string | null; date?: string | null }): ExpiredTokensError {
  let where = 'the server';
  try {
    const u = new URL(url);
    where = `${u.origin}${u.pathname}`;
  } catch {
    /* keep the generic wording */
  }
  const { error, errorDescription } = parseChallenge(headers.wwwAuthenticate);
  const detail = error === undefined ? '' : ` (${error}${errorDescription === undefined ? '' : `: ${errorDescription}`})`;
  const err = new ExpiredTokensError(`The access token was refused: 401 from ${where}${detail}`, {
    status: 401,
    ...(error === undefined ? {} : { error }),
    ...(errorDescription === undefined ? {} : { errorDescription }),
  });
  const serverDateMS = typeof headers.date === 'string' ? Date.parse(headers.date) : Number.NaN;
  if (!Number.isNaN(serverDateMS)) Object.defineProperty(err, 'serverDateMS', { value: serverDateMS, enumerable: false });
  return err;
}

/**
 * @internal Tells the session that `token` was refused. The error is marked with the token it is
 * about (kept off the error itself), so that a report arriving after the session has already
 * moved on to a newer token does not make it refresh again.
 */
export async function reportRefused(session: AuthSession, err: ExpiredTokensError, token: string): Promise<void> {
  markRejectedToken(err, token);
  await session.handleExpiredTokensError(err);
}
