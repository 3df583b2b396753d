/**
 * `authorizedFetch`: undici's `fetch` with the session's access token, and one retry with a fresh
 * token when the server answers 401. Its signature speaks the global fetch types (`RequestInfo`,
 * `RequestInit`, `Response`), so that callers need no undici types; inside, undici's own types are
 * used, and the two meet at the boundary (they describe the same Fetch standard objects).
 *
 * @module
 */
import {
  Headers,
  Request as UndiciRequest,
  Response as UndiciResponse,
  fetch,
  type RequestInfo as UndiciRequestInfo,
  type RequestInit as UndiciRequestInit,
} from 'undici';
import { InvalidArgumentError } from '../errors.js';
import { abortable } from '../session/abort.js';
import {
  RETRY_HEADER,
  RETRY_SKIPPED_NOT_REPLAYABLE,
  checkAuthSession,
  credentialFor,
  isReplayableBody,
  reportRefused,
  unauthorizedError,
  type AuthHeader,
  type AuthSession,
} from './auth-session.js';

export type { AuthSession, AuthHeader } from './auth-session.js';
export { RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE } from './auth-session.js';

/** A 401 body up to this size is read to the end before the retry, so its connection can be reused; a larger one is cancelled. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

const tagOf = (value: object): string => Object.prototype.toString.call(value).slice(8, -1);

/** A Request from another copy of the fetch API (Node's global one); undici's fetch only takes its own. */
function isForeignRequest(input: unknown): input is globalThis.Request {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof UndiciRequest) &&
    !(input instanceof URL) &&
    tagOf(input) === 'Request'
  );
}

/** Rebuilds a foreign Request as an undici Request (its body, if any, is carried over as a stream). */
function adoptRequest(input: unknown): UndiciRequestInfo {
  if (!isForeignRequest(input)) return input as UndiciRequestInfo;
  const init: UndiciRequestInit = { method: input.method, headers: [...input.headers], redirect: input.redirect, signal: input.signal };
  if (input.body !== null) Object.assign(init, { body: input.body as unknown as UndiciRequestInit['body'], duplex: 'half' });
  return new UndiciRequest(input.url, init);
}

function urlOf(input: UndiciRequestInfo): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

/**
 * The request's init with our credential replacing any Authorization (and any header of the
 * credential's name) the caller set. A credential in a header of its own is bound to one origin,
 * and fetch would carry such a header along a redirect to another: redirects are not followed then.
 */
function withCredential(input: UndiciRequestInfo, init: UndiciRequestInit, credential: Required<AuthHeader>): UndiciRequestInit {
  const headers = new Headers(init.headers ?? (input instanceof UndiciRequest ? input.headers : undefined));
  headers.delete('authorization');
  headers.set(credential.name, credential.value);
  const own = credential.name !== 'authorization';
  const redirect =
    own && (init.redirect ?? (input instanceof UndiciRequest ? input.redirect : 'follow')) === 'follow' ? 'manual' : init.redirect;
  return { ...init, headers, ...(redirect === undefined ? {} : { redirect }) };
}

async function credentialOf(session: AuthSession, url: string, signal: AbortSignal | null | undefined): Promise<Required<AuthHeader>> {
  const credential = await credentialFor(session, url, signal);
  if (credential === undefined) {
    let origin = 'this URL';
    try {
      origin = new URL(url).origin;
    } catch {
      /* keep the generic wording */
    }
    throw new InvalidArgumentError('input', `The session sends no credential to ${origin}: it authorizes requests to its own origin only`);
  }
  return credential;
}

/** Reads (small) or cancels (large or unknown) a body we are not going to hand out, so its socket is released. */
async function discard(res: UndiciResponse): Promise<void> {
  if (res.body === null) return;
  const length = Number(res.headers.get('content-length'));
  try {
    if (Number.isFinite(length) && length <= DRAIN_LIMIT_BYTES) await res.arrayBuffer();
    else await res.body.cancel();
  } catch {
    /* the connection is gone either way */
  }
}

/** The same 401, with a header saying why it was not retried (fetch responses have immutable headers). */
function markNotRetried(res: UndiciResponse): UndiciResponse {
  const headers = new Headers(res.headers);
  headers.set(RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE);
  const out = new UndiciResponse(res.body, { status: res.status, statusText: res.statusText, headers });
  Object.defineProperty(out, 'url', { value: res.url, enumerable: false });
  return out;
}

/**
 * Sends a request with `Authorization: Bearer <token>` from `session`, through undici's `fetch`.
 *
 * When the server answers 401, the refused token is reported to the session
 * (`handleExpiredTokensError` with an `ExpiredTokensError` of `status` 401, whose non-enumerable
 * `serverDateMS` carries the server's `Date` for the session's clock-skew guard), a fresh token is
 * fetched and the request is sent once more. A second 401 is returned as it is. Other statuses
 * (403, 5xx, …) are returned untouched: this layer retries refused tokens only.
 *
 * A body that fetch can send twice (string, `Buffer`/`Uint8Array`/`ArrayBuffer`, `URLSearchParams`,
 * `FormData`, `Blob`, none) is replayed as it was. A stream or async-iterable body — or a `Request`
 * input that carries a body — cannot be: its 401 is returned with the header
 * `x-persistent-session-retry: skipped; body not replayable` ({@link RETRY_HEADER}), and the
 * refused token is still reported, so the next request gets a fresh one (should that report fail,
 * the 401 is returned all the same).
 *
 * Any `Authorization` header the caller set is replaced. `init.dispatcher` and `init.signal` are
 * honoured for both attempts. A session with {@link AuthSession.authHeader} (a Forge Containers
 * view) sends its own header instead of `Authorization`, only to the URLs it accepts (others throw
 * `InvalidArgumentError`), and its redirects are returned rather than followed, so that the header
 * never reaches another origin.
 *
 * The types are the global fetch's: `input` is a string, `URL` or `Request`, `init` a `RequestInit`
 * (undici's own types too: see the second signature), and the result a `Response`. The
 * request is sent by the undici package's `fetch`, so the object returned is undici's `Response`:
 * it has every member of the global one, but `instanceof Response` on Node's global class is false.
 *
 * @param session - a `PersistentSession`, a `userSession.forUser(accountId)` view, or any {@link AuthSession}
 * @param input - URL or `Request` (Node's global one or undici's; a global `Request` is rebuilt for undici)
 * @param init - as for the global `fetch`
 * @returns the response: the retry's when a retry happened, else the first
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` when `session` lacks the methods, hands out a non-string token,
 *   or sends no credential to the URL
 * @throws whatever `session.getAccessToken()` rejects with (e.g. `ExpiredTokensError` `ERR_EXPIRED_TOKENS` when the grant is dead),
 *   and fetch's own `TypeError` for network failures
 * @example
 * ```ts
 * const res = await authorizedFetch(session, 'https://api.example.com/items', {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ name: 'x' }),
 * });
 * if (res.status === 401) console.warn(res.headers.get('x-persistent-session-retry') ?? 'refused after a fresh token');
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1 (401 and `invalid_token`)
 */
export function authorizedFetch(session: AuthSession, input: string | URL | Request, init?: RequestInit): Promise<Response>;
/**
 * The same, with the undici package's own types for the request: its `RequestInit`, whose
 * `dispatcher` is an `Agent`, `Pool` or `MockAgent` of that package rather than of the copy bundled
 * with Node, and its `Request`.
 *
 * @param session - a `PersistentSession`, a `userSession.forUser(accountId)` view, or any {@link AuthSession}
 * @param input - URL or `Request` (the global one or undici's)
 * @param init - as for undici's `fetch`
 * @returns the response: the retry's when a retry happened, else the first
 */
export function authorizedFetch(
  session: AuthSession,
  input: string | URL | Request | UndiciRequest,
  init?: UndiciRequestInit,
): Promise<Response>;
export async function authorizedFetch(
  session: AuthSession,
  input: string | URL | Request | UndiciRequest,
  options: object = {},
): Promise<Response> {
  // The global and undici's fetch types describe the same objects; only their declarations differ.
  const init = options as UndiciRequestInit;
  const s = checkAuthSession(session);
  const target = adoptRequest(input);
  const replayable = init.body !== undefined ? isReplayableBody(init.body) : !(target instanceof UndiciRequest && target.body !== null);
  // The caller's signal (init's, else the Request's) also ends the wait for a token.
  const signal = init.signal ?? (target instanceof UndiciRequest ? target.signal : undefined);
  let credential = await credentialOf(s, urlOf(target), signal);
  const first = await fetch(target, withCredential(target, init, credential));
  if (first.status !== 401) return first as unknown as Response;
  const err = unauthorizedError(first.url || urlOf(target), {
    wwwAuthenticate: first.headers.get('www-authenticate'),
    date: first.headers.get('date'),
  });
  if (!replayable) {
    // The caller gets the 401 (as from sessionAuth): a report that fails has nowhere else to go, and
    // sessions drop the refused token before their first await, so the next request gets a fresh one.
    await reportRefused(s, err, credential.token).catch(() => {});
    return markNotRetried(first) as unknown as Response;
  }
  await discard(first);
  // The caller's abort ends its wait for the report too; the report itself goes on.
  const report = reportRefused(s, err, credential.token);
  report.catch(() => {});
  await abortable(signal ?? undefined, () => report);
  signal?.throwIfAborted();
  credential = await credentialOf(s, urlOf(target), signal);
  return (await fetch(target, withCredential(target, init, credential))) as unknown as Response;
}
