/**
 * Token-endpoint requests: client authentication, retries with backoff, `Retry-After`, timeouts,
 * and the single place where undici and JSON failures become the library's own errors, so that
 * every caller sees one error policy and the foreign error survives, redacted, as `cause`.
 *
 * @module
 */
import { request, type Dispatcher } from 'undici';
import { ExpiredTokensError, TokenRequestError } from '../errors.js';
import type { ResolvedRetryOptions } from './retry-options.js';
import { registerSecret } from '../redact.js';
import { markRotated, refreshTokenInText, rotatedRefreshTokenOf } from './rotated-tokens.js';
import { sleep } from '../util/sleep.js';

/** How a client authenticates at the token endpoint (RFC 6749 §2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** @internal A parsed JSON answer. */
export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** The server's clock from its `Date` header, when it sent one. */
  serverDateMS: number | undefined;
}

/** @internal What a request needs besides its URL and body. */
export interface RequestContext {
  dispatcher: Dispatcher | undefined;
  retry: ResolvedRetryOptions;
  /** Called before each retry, for events and counters. */
  onRetry?: (info: { attempt: number; delayMS: number; reason: string; status?: number }) => void;
  /** What the request is, for messages: e.g. `Token refresh`. */
  what: string;
  /**
   * The refresh token a refresh sends. A 200 that is not JSON but visibly carries another one (the server
   * rotated) is then not retried: the retry would send a refresh token the server has already replaced.
   */
  sentRefreshToken?: string | undefined;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_TIMEOUT',
]);

/** @internal True for failures worth retrying: network errors, timeouts, 5xx and 429. */
export function isTransientError(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { transient?: unknown; status?: unknown; code?: unknown; cause?: unknown };
  if (e.transient === true) return true;
  if (err instanceof ExpiredTokensError) return false;
  if (typeof e.status === 'number') return e.status >= 500 || e.status === 429 || e.status === 408;
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== err && isTransientError(e.cause);
}

const UNSENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** True when a failure proves the request never reached the server (it could not connect). */
function isUnsentFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNSENT_CODES.has(code)) return true;
  }
  return false;
}

/** @internal Parses `Retry-After` (delta-seconds or HTTP-date, RFC 9110 §10.2.3) into ms from now. */
export function parseRetryAfter(value: string | string[] | undefined, nowMS: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.max(0, Math.ceil(Number(v) * 1000));
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMS);
}

/** @internal Backoff for retry `attempt` (1-based): 50 to 100% of an exponential ceiling (jitter, with a floor). */
export function backoffDelay(attempt: number, retry: ResolvedRetryOptions): number {
  const ceiling = Math.min(retry.maxDelayMS, retry.baseDelayMS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * @internal Adds client authentication to a token-endpoint request (RFC 6749 §2.3.1: the id and
 * secret are form-urlencoded before they are joined for Basic).
 */
export function applyClientAuth(
  params: URLSearchParams,
  headers: Record<string, string>,
  client: { clientId: string; clientSecret?: string | undefined; authMethod: ClientAuthMethod },
): void {
  if (client.authMethod === 'client_secret_basic') {
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret ?? '')}`).toString('base64')}`;
  } else {
    params.set('client_id', client.clientId);
    if (client.authMethod === 'client_secret_post' && client.clientSecret !== undefined) params.set('client_secret', client.clientSecret);
  }
}

async function attempt(
  url: string,
  init: { method: 'POST' | 'GET'; headers: Record<string, string>; body?: string },
  ctx: RequestContext,
): Promise<JsonResponse> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(Object.assign(new Error(`${ctx.what} timed out after ${ctx.retry.timeoutMS} ms`), { code: 'ERR_TIMEOUT' })),
    ctx.retry.timeoutMS,
  );
  try {
    const res = await request(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      dispatcher: ctx.dispatcher,
      signal: controller.signal,
      // Never followed, even by a redirect interceptor in the caller's dispatcher: a 307/308 would
      // send the body (refresh token, client secret) again, possibly to another origin.
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
    const text = await res.body.text();
    const dateHeader = res.headers.date;
    const serverDate = typeof dateHeader === 'string' ? Date.parse(dateHeader) : Number.NaN;
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        // A body that is not JSON: keep it out of the error (it may hold a token), say what it was.
        if (res.statusCode < 300) {
          const rotated = ctx.sentRefreshToken === undefined ? undefined : refreshTokenInText(text);
          if (rotated !== undefined && rotated !== ctx.sentRefreshToken) {
            registerSecret(rotated);
            // Not retried: the server rotated, and a retry would send the refresh token it replaced.
            const e = new TokenRequestError(
              `${ctx.what}: the server answered ${res.statusCode} with a body that is not valid JSON (${text.length} bytes) ` +
                'but carries a new refresh token; not retried, which would send the replaced one',
              { status: res.statusCode, cause: err },
            );
            markRotated(e, rotated);
            throw e;
          }
          throw new TokenRequestError(
            `${ctx.what}: the server answered ${res.statusCode} with a body that is not valid JSON (${text.length} bytes)`,
            { status: res.statusCode, transient: true, cause: err },
          );
        }
        body = undefined;
      }
    }
    return { status: res.statusCode, headers: res.headers, body, serverDateMS: Number.isNaN(serverDate) ? undefined : serverDate };
  } catch (err) {
    if (err instanceof TokenRequestError) throw err;
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    const code = (reason as { code?: unknown })?.code;
    throw new TokenRequestError(
      `${ctx.what} failed: ${reason instanceof Error ? reason.message : String(reason)}` +
        `${typeof code === 'string' && !(reason instanceof Error && reason.message.includes(code)) ? ` (${code})` : ''}`,
      { transient: true, cause: reason },
    );
  } finally {
    clearTimeout(timer);
  }
}

function oauthError(body: unknown): { error?: string; errorDescription?: string } {
  if (body === null || typeof body !== 'object') return {};
  const b = body as { error?: unknown; error_description?: unknown };
  return {
    error: typeof b.error === 'string' ? b.error : undefined,
    errorDescription: typeof b.error_description === 'string' ? b.error_description : undefined,
  };
}

/**
 * @internal Sends a request with retries and returns the first 2xx JSON answer.
 * Throws ExpiredTokensError for `invalid_grant`, TokenRequestError for everything else.
 */
export async function sendWithRetries(
  url: string,
  init: { method: 'POST' | 'GET'; headers: Record<string, string>; body?: string },
  ctx: RequestContext,
): Promise<JsonResponse> {
  // Whether an earlier attempt may have reached the server without us seeing its answer.
  let ambiguous = false;
  for (let n = 1; ; n++) {
    let res: JsonResponse | undefined;
    let failure: TokenRequestError | ExpiredTokensError;
    try {
      res = await attempt(url, init, ctx);
    } catch (err) {
      if (rotatedRefreshTokenOf(err) !== undefined) throw err;
      failure = err as TokenRequestError;
    }
    if (res !== undefined) {
      if (res.status >= 200 && res.status < 300) return res;
      const { error, errorDescription } = oauthError(res.body);
      const detail =
        `${res.status}${error === undefined ? '' : ` ${error}`}` + `${errorDescription === undefined ? '' : `: ${errorDescription}`}`;
      if (error === 'invalid_grant') {
        // After a lost answer the server may have rotated the refresh token already; a server with
        // reuse detection then refuses the retry. Retrying is still the best chance: servers with a
        // reuse grace window (Okta, Auth0) answer the retry with the rotated tokens.
        const hint = ambiguous
          ? ' An earlier attempt got no usable answer (timeout, reset or 5xx); the server may have rotated the refresh token then.'
          : '';
        throw new ExpiredTokensError(
          `${ctx.what} was refused: ${detail}. The grant is expired or revoked; the user has to authorize again.${hint}`,
          { status: res.status, error, errorDescription, response: res.body },
        );
      }
      const transient = res.status >= 500 || res.status === 429 || res.status === 408;
      failure = new TokenRequestError(`${ctx.what} failed: ${detail}`, {
        status: res.status,
        error,
        errorDescription,
        response: res.body,
        transient,
      });
      if (!transient) throw failure;
    }
    failure = failure!;
    if (res === undefined || res.status !== 429) ambiguous = ambiguous || !isUnsentFailure(failure);
    if (n >= ctx.retry.maxAttempts) {
      throw new TokenRequestError(`${failure.message} (gave up after ${n} attempt${n === 1 ? '' : 's'})`, {
        status: (failure as TokenRequestError).status,
        error: (failure as TokenRequestError).error,
        errorDescription: (failure as TokenRequestError).errorDescription,
        response: (failure as TokenRequestError).response,
        transient: true,
        cause: failure.cause ?? failure,
      });
    }
    let delayMS = backoffDelay(n, ctx.retry);
    const retryAfter = res === undefined ? undefined : parseRetryAfter(res.headers['retry-after'], res.serverDateMS ?? Date.now());
    if (retryAfter !== undefined) {
      if (retryAfter > ctx.retry.maxRetryAfterMS) {
        throw new TokenRequestError(
          `${failure.message}; the server asked to retry after ${Math.ceil(retryAfter / 1000)} s, longer than maxRetryAfterMS ` +
            `(${ctx.retry.maxRetryAfterMS} ms)`,
          {
            status: res?.status,
            response: res?.body,
            transient: true,
          },
        );
      }
      delayMS = retryAfter;
    }
    ctx.onRetry?.({ attempt: n, delayMS, reason: failure.message, status: res?.status });
    await sleep(delayMS);
  }
}
