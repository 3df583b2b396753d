/**
 * `sessionAuth`: an undici interceptor with the behaviour of `authorizedFetch`, for any dispatcher:
 * `new Agent().compose(sessionAuth(session))` works with undici's `request`, `fetch`, `stream`, ….
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { InvalidArgumentError, describeValue, type ExpiredTokensError } from '../errors.js';
import { checkKnownKeys, checkObject } from '../util/validate.js';
import {
  RETRY_HEADER,
  RETRY_SKIPPED_NOT_REPLAYABLE,
  checkAuthSession,
  credentialFor,
  reportRefused,
  unauthorizedError,
  type AuthHeader,
  type AuthSession,
} from './auth-session.js';
import { abortable } from '../session/abort.js';
import { ForwardingController, contentLength, normalizeHeaders, prepareBody, type Body } from './dispatch-parts.js';

/** Largest body of a stream or iterable with a declared `Content-Length` that is buffered so that it can be replayed. */
export const DEFAULT_MAX_REPLAY_BODY_BYTES = 1024 * 1024;

/** Options of {@link sessionAuth}. */
export interface SessionAuthOptions {
  /**
   * A body given as a stream or (async) iterable is buffered before it is sent — so that it can be
   * sent again after a 401 — when it declares a `Content-Length` of at most this many bytes.
   * undici's `fetch` hands every body (even a string) to dispatchers as an async iterable with a
   * `Content-Length`, so this is what makes fetch POSTs retryable through the interceptor. Streams
   * of unknown length are never buffered and never retried. `0` turns buffering off.
   * @default DEFAULT_MAX_REPLAY_BODY_BYTES
   */
  maxReplayBodyBytes?: number;
  /**
   * The origins (`https://api.example.com`, scheme + host + port) that may receive the token. A
   * request to any other origin passes through untouched, without an `Authorization` header, so a
   * dispatcher shared with other code (or a redirect) never hands the token to a third party.
   * @default undefined: every request through the dispatcher is authorized
   */
  origins?: readonly string[];
}

const KNOWN = ['maxReplayBodyBytes', 'origins'] as const;

/** `origins` as a set of normalised origins (`URL.origin`); only bare http(s) origins are accepted. */
function resolveOrigins(value: unknown): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value))
    throw new InvalidArgumentError('origins', `Expected \`origins\` to be an array of origins, got ${describeValue(value)}`);
  return new Set(
    value.map((entry: unknown, i) => {
      const field = `origins[${i}]`;
      let url: URL | undefined;
      try {
        url = typeof entry === 'string' ? new URL(entry) : undefined;
      } catch {
        /* reported below */
      }
      if (
        url === undefined ||
        (url.protocol !== 'https:' && url.protocol !== 'http:') ||
        url.username !== '' ||
        url.password !== '' ||
        url.pathname !== '/' ||
        url.search !== '' ||
        url.hash !== ''
      ) {
        throw new InvalidArgumentError(
          field,
          `Expected \`${field}\` to be an http(s) origin such as \`https://api.example.com\` (no path, query or credentials), got ` +
            `${describeValue(entry)}`,
        );
      }
      return url.origin;
    }),
  );
}

/** The origin a request goes to, normalised as `URL.origin`; undefined when it has none that parses. */
function originOf(origin: Dispatcher.DispatchOptions['origin']): string | undefined {
  if (origin === undefined || origin === null) return undefined;
  try {
    return new URL(String(origin)).origin;
  } catch {
    return undefined;
  }
}

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/** One request through the interceptor: token first, then dispatch; on a 401, report, renew, dispatch once more. */
class SessionAuthHandler implements Handler {
  readonly #session: AuthSession;
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #downstream: Handler;
  readonly #maxReplay: number;
  readonly #controller = new ForwardingController();
  readonly #headers: Record<string, string | string[]>;
  #body: Body;
  #replayable = false;
  #credential: Required<AuthHeader> | undefined;
  #attempt = 0;
  /** The 401 being swallowed before the retry. */
  #refusal: ExpiredTokensError | undefined;
  /** The context the downstream handler gets before the wait for a token; each attempt's own is copied into it. */
  readonly #context: Record<string, unknown> = {};

  constructor(
    session: AuthSession,
    dispatch: Dispatcher.Dispatch,
    opts: Dispatcher.DispatchOptions,
    downstream: Handler,
    maxReplay: number,
  ) {
    this.#session = session;
    this.#dispatch = dispatch;
    this.#opts = opts;
    this.#downstream = downstream;
    this.#maxReplay = maxReplay;
    this.#body = opts.body;
    this.#headers = normalizeHeaders(opts.headers);
  }

  #url(): string {
    const origin = this.#opts.origin === undefined ? '' : String(this.#opts.origin).replace(/\/$/, '');
    return `${origin}${this.#opts.path}`;
  }

  async start(): Promise<void> {
    // The caller gets its controller before the wait for a token, so that its abort (a signal)
    // ends that wait at once; the refresh other requests share goes on.
    try {
      this.#downstream.onRequestStart?.(this.#controller, this.#context);
      this.#credential = await credentialFor(this.#session, this.#url(), this.#controller.waiting.signal);
      if (this.#credential === undefined) {
        // The session sends nothing to this URL: the request goes out as the caller made it.
        this.#dispatch(this.#opts, this);
        return;
      }
      const length = contentLength(this.#headers);
      const prepared = await prepareBody(this.#body, length, this.#maxReplay);
      this.#body = prepared.body;
      this.#replayable = prepared.replayable;
      this.#send();
    } catch (err) {
      this.#fail(err);
    }
  }

  #send(): void {
    if (this.#controller.aborted) throw this.#controller.reason ?? new Error('The request was aborted');
    this.#attempt += 1;
    const { name, value } = this.#credential!;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(this.#headers)) if (k !== name) headers[k] = v;
    headers[name] = value;
    // A redirect interceptor below would carry a header of the session's own name to another origin
    // (it strips only authorization, cookie and proxy-authorization): such requests are not redirected.
    const noRedirects = name === 'authorization' ? {} : { maxRedirections: 0 };
    const opts = { ...this.#opts, body: this.#body, headers, ...noRedirects } as Dispatcher.DispatchOptions;
    this.#dispatch(opts, this);
  }

  #fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    try {
      this.#downstream.onResponseError?.(this.#controller, error);
    } catch {
      // The handler failed to take the failure: nobody is left to tell, and start() runs detached.
    }
  }

  async #retry(refusal: ExpiredTokensError): Promise<void> {
    try {
      // The caller's abort ends its wait for the report and the fresh token; the report goes on.
      const signal = this.#controller.waiting.signal;
      const report = reportRefused(this.#session, refusal, this.#credential!.token);
      report.catch(() => {});
      await abortable(signal, () => report);
      this.#credential = await credentialFor(this.#session, this.#url(), signal);
      if (this.#credential === undefined) {
        throw new InvalidArgumentError('session', 'The session stopped sending a credential to this URL between two attempts');
      }
      this.#send();
    } catch (err) {
      this.#fail(err);
    }
  }

  onRequestStart(controller: Controller, context: unknown): void {
    // The caller already holds the forwarding controller and the context object (see start()).
    this.#controller.attach(controller);
    if (context !== null && typeof context === 'object') Object.assign(this.#context, context);
  }

  onRequestUpgrade(
    _controller: Controller,
    statusCode: number,
    headers: IncomingHttpHeaders,
    socket: Parameters<NonNullable<Handler['onRequestUpgrade']>>[3],
  ): void {
    this.#downstream.onRequestUpgrade?.(this.#controller, statusCode, headers, socket);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    let out = headers;
    if (statusCode === 401 && this.#attempt === 1) {
      const challenge = { wwwAuthenticate: headerValue(headers['www-authenticate']), date: headerValue(headers.date) };
      const refusal = unauthorizedError(this.#url(), challenge);
      if (this.#replayable) {
        // Swallow this answer; onResponseEnd sends the retry once its body has been read.
        this.#refusal = refusal;
        return;
      }
      out = { ...headers, [RETRY_HEADER]: RETRY_SKIPPED_NOT_REPLAYABLE };
      // Sessions drop a refused token before their first await, so the caller's next request
      // already gets a fresh one; a failure here has nowhere to go (the caller has the 401).
      reportRefused(this.#session, refusal, this.#credential!.token).catch(() => {});
    }
    this.#downstream.onResponseStart?.(this.#controller, statusCode, out, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.#refusal !== undefined) return;
    this.#downstream.onResponseData?.(this.#controller, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: IncomingHttpHeaders): void {
    const refusal = this.#refusal;
    if (refusal !== undefined) {
      this.#refusal = undefined;
      void this.#retry(refusal);
      return;
    }
    this.#downstream.onResponseEnd?.(this.#controller, trailers);
  }

  onResponseError(_controller: Controller, err: Error): void {
    this.#refusal = undefined;
    this.#downstream.onResponseError?.(this.#controller, err);
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * An undici interceptor that authorizes every request with `session`'s access token and, on a
 * 401, reports the refused token (`handleExpiredTokensError`), takes a fresh one and sends the
 * request once more; a second 401 reaches the caller as it is. 403, 5xx and every other status
 * pass through untouched. With `origins`, only requests to those origins are authorized; a session with
 * {@link AuthSession.authHeader} (a Forge Containers view) sends its own header instead of
 * `Authorization`, and only to the URLs it accepts (others pass through untouched); its requests are
 * dispatched with `maxRedirections: 0`, so that a redirect interceptor below returns a 3xx rather than
 * follow it with that header.
 * A body that cannot be sent twice (a stream of unknown length) is not
 * retried: its 401 carries `x-persistent-session-retry: skipped; body not replayable`.
 *
 * The token is fetched before the request is dispatched, so the interceptor dispatches
 * asynchronously; an abort signal is honoured while it waits (for the first token, and for the
 * report and the fresh token after a 401). Tokens are never logged. The downstream handler's
 * `onRequestStart` runs once, before that wait, so that it can abort it; its `context` is one object
 * for the whole exchange, into which the properties of each attempt's context (such as a redirect
 * interceptor's `history`) are copied when that attempt starts.
 *
 * @param session - a `PersistentSession`, a `userSession.forUser(accountId)` view, or any {@link AuthSession}
 * @param options - see {@link SessionAuthOptions}
 * @returns an interceptor for `Dispatcher.compose`
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a session without the two methods or a bad option.
 * Requests fail with whatever `session.getAccessToken()` rejects with (e.g. `ExpiredTokensError` `ERR_EXPIRED_TOKENS`).
 * @example
 * ```ts
 * import { Agent, request } from 'undici';
 * const dispatcher = new Agent().compose(sessionAuth(session, { origins: ['https://api.example.com'] }));
 * const { statusCode, body } = await request('https://api.example.com/me', { dispatcher });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function sessionAuth(session: AuthSession, options: SessionAuthOptions = {}): Dispatcher.DispatcherComposeInterceptor {
  const s = checkAuthSession(session);
  checkObject(options, 'options');
  checkKnownKeys(options, KNOWN, 'options');
  const origins = resolveOrigins(options.origins);
  const max = options.maxReplayBodyBytes ?? DEFAULT_MAX_REPLAY_BODY_BYTES;
  if (typeof max !== 'number' || !Number.isFinite(max) || max < 0) {
    throw new InvalidArgumentError(
      'maxReplayBodyBytes',
      `Expected \`maxReplayBodyBytes\` to be a finite number >= 0, got ${describeValue(max)}`,
    );
  }
  return (dispatch) =>
    function sessionAuthDispatch(opts, handler) {
      if (origins !== undefined) {
        const origin = originOf(opts.origin);
        if (origin === undefined || !origins.has(origin)) return dispatch(opts, handler);
      }
      // start() reports every failure to the handler; nothing it does may become an unhandled rejection.
      new SessionAuthHandler(s, dispatch, opts, handler, max).start().catch(() => {});
      return true;
    };
}
