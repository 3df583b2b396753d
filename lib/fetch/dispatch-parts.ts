/**
 * The parts of a `sessionAuth` exchange that do not depend on the session: the request's headers
 * and body made ready to be sent twice, and the controller the caller holds across both attempts.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { isReplayableBody } from './auth-session.js';

type Controller = Dispatcher.DispatchController;
type RawHeaders = Controller['rawHeaders'];

/** @internal A request body as dispatchers receive it (undici's `fetch` hands them async iterables). */
export type Body = Dispatcher.DispatchOptions['body'] | AsyncIterable<unknown> | Iterable<unknown>;

/** @internal The request headers as one object, names lower-cased, any caller-given `authorization` dropped. */
export function normalizeHeaders(headers: Dispatcher.DispatchOptions['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const add = (name: unknown, value: unknown): void => {
    if (value === undefined || value === null) return;
    const key = String(name).toLowerCase();
    if (key === 'authorization') return;
    const v = Array.isArray(value) ? value.map(String) : String(value);
    const prev = out[key];
    out[key] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])];
  };
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) for (const [k, v] of headers as unknown as Array<[unknown, unknown]>) add(k, v);
    else for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1]);
  } else if (headers !== null && headers !== undefined) {
    const iterable = typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function';
    for (const [k, v] of iterable ? (headers as Iterable<[unknown, unknown]>) : Object.entries(headers)) add(k, v);
  }
  return out;
}

/** @internal The declared `Content-Length`, when it is a usable number. */
export function contentLength(headers: Record<string, string | string[]>): number | undefined {
  const raw = headers['content-length'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

const toBuffer = (chunk: unknown): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(chunk)
    : ArrayBuffer.isView(chunk)
      ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      : Buffer.from(chunk as ArrayBuffer);

/**
 * @internal Makes a body replayable when that is cheap and bounded: a stream or iterable with a declared
 * length within `max` is read into one Buffer. Anything else is passed on as it is.
 */
export async function prepareBody(body: Body, length: number | undefined, max: number): Promise<{ body: Body; replayable: boolean }> {
  if (isReplayableBody(body)) return { body, replayable: true };
  const iterable = body as AsyncIterable<unknown> & Iterable<unknown>;
  const asyncIt = typeof iterable[Symbol.asyncIterator] === 'function';
  if (length === undefined || length > max || (!asyncIt && typeof iterable[Symbol.iterator] !== 'function'))
    return { body, replayable: false };
  const it = asyncIt ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const step = await it.next();
    if (step.done === true) return { body: Buffer.concat(chunks, size), replayable: true };
    const chunk = toBuffer(step.value);
    chunks.push(chunk);
    size += chunk.length;
    if (size > length) {
      // The body is longer than it said: send what we read and the rest as a stream, as undici would have.
      const rest = (async function* () {
        yield* chunks;
        for (let s = await it.next(); s.done !== true; s = await it.next()) yield toBuffer(s.value);
      })();
      return { body: rest, replayable: false };
    }
  }
}

/**
 * @internal The controller the downstream handler sees for the whole exchange: it forwards to the current
 * attempt's controller, and remembers an abort so that a retry is not sent after one.
 */
export class ForwardingController implements Controller {
  target: Controller | undefined;
  /** Aborted with the caller's reason when the caller aborts: ends the wait for a token. */
  readonly waiting = new AbortController();
  #abortReason: Error | undefined;
  #paused = false;

  attach(target: Controller): void {
    this.target = target;
    if (this.#abortReason !== undefined) target.abort(this.#abortReason);
    else if (this.#paused) target.pause();
  }
  get aborted(): boolean {
    return this.#abortReason !== undefined || (this.target?.aborted ?? false);
  }
  get paused(): boolean {
    return this.#paused;
  }
  get reason(): Error | null {
    return this.#abortReason ?? this.target?.reason ?? null;
  }
  /** The current attempt's raw response headers (interceptors such as undici's decompress read and rewrite them). */
  get rawHeaders(): RawHeaders {
    return this.target?.rawHeaders ?? null;
  }
  set rawHeaders(value: RawHeaders) {
    if (this.target !== undefined) this.target.rawHeaders = value;
  }
  /** The current attempt's raw trailers. */
  get rawTrailers(): RawHeaders {
    return this.target?.rawTrailers ?? null;
  }
  set rawTrailers(value: RawHeaders) {
    if (this.target !== undefined) this.target.rawTrailers = value;
  }
  abort(reason?: Error): void {
    // An abort without a reason is an abort all the same: recorded, so that nothing is sent after it.
    this.#abortReason ??= reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.waiting.abort(this.#abortReason);
    this.target?.abort(this.#abortReason);
  }
  pause(): void {
    this.#paused = true;
    this.target?.pause();
  }
  resume(): void {
    this.#paused = false;
    this.target?.resume();
  }
}
