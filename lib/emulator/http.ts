/**
 * Small HTTP helpers shared by the emulator's handlers: parsed requests, reply descriptions,
 * body parsing and token generation.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** Largest request body the emulator reads, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request as the handlers see it, its body already read and parsed. */
export interface IncomingCall {
  /** HTTP method, upper case. */
  method: string;
  /** Request target (path and query). */
  target: string;
  /** Path without the query. */
  pathname: string;
  /** Request headers. */
  headers: IncomingHttpHeaders;
  /** Media type of the body, lower case, without parameters ('' when absent). */
  mediaType: string;
  /** The raw body. */
  rawBody: string;
  /** Form parameters when the body is `application/x-www-form-urlencoded`. */
  form: URLSearchParams | undefined;
  /** Parsed JSON when the body is JSON and parses; `undefined` otherwise. */
  json: unknown;
  /** Body for the request log: form fields (repeated ones as arrays) or a JSON object. */
  logBody: Record<string, unknown>;
}

/** What a handler wants sent back. */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** JSON body (serialised by the emulator). */
  body?: unknown;
  /** Raw body, sent as is instead of `body` (for malformed answers). */
  raw?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** The emulator's clock: epoch milliseconds, offset by `clockOffsetMS`. */
export type Clock = () => number;

/**
 * A JSON reply.
 * @param status - HTTP status.
 * @param body - JSON body.
 * @param headers - extra headers.
 */
export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, body, headers } : { status, body };
}

/**
 * Reads a request body up to {@link MAX_BODY_BYTES}.
 * @returns the body, or `undefined` when it is too large.
 */
export function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  // Events rather than `for await`: an async iterator per request costs more than the rest of a small request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume(); // drain the rest unread, so that the 413 can still be sent
      resolve(undefined);
    };
    req.on('data', onData);
    req.once('end', () => {
      resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks));
    });
    req.once('error', reject);
  });
}

function formToRecord(form: URLSearchParams): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const key of new Set(form.keys())) {
    const values = form.getAll(key);
    record[key] = values.length === 1 ? values[0] : values;
  }
  return record;
}

/**
 * Builds an {@link IncomingCall} from a request and its body.
 * @param req - the Node request.
 * @param raw - its body.
 */
export function toCall(req: IncomingMessage, raw: Buffer): IncomingCall {
  const target = req.url ?? '/';
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const rawBody = raw.toString('utf8');
  let form: URLSearchParams | undefined;
  let parsed: unknown;
  let logBody: Record<string, unknown> = {};
  if (mediaType === 'application/x-www-form-urlencoded') {
    form = new URLSearchParams(rawBody);
    logBody = formToRecord(form);
  } else if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      parsed = JSON.parse(rawBody);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) logBody = { ...(parsed as object) };
    } catch {
      parsed = undefined;
    }
  }
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    target,
    pathname: target.split('?')[0]!,
    headers: req.headers,
    mediaType,
    rawBody,
    form,
    json: parsed,
    logBody,
  };
}

/**
 * The token of an `Authorization: Bearer` header (scheme case-insensitive).
 * @returns the token, or `undefined` when there is no Bearer credential.
 * @see https://datatracker.ietf.org/doc/html/rfc6750#section-2.1
 */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/**
 * A new opaque token: `prefix` + base64url of 24 random bytes.
 * @param prefix - e.g. `at_`.
 */
export function randomToken(prefix: string): string {
  return prefix + randomSlice(24).toString('base64url');
}

/** Random bytes drawn from the system CSPRNG in 4 KiB batches (one call per token costs more than the token). */
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/**
 * `n` fresh random bytes (a view of the pool: copy it to keep it).
 * @param n - at most 4,096.
 */
export function randomSlice(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 4096) throw new RangeError(`randomSlice: expected 0 to 4096 bytes, got ${n}`);
  if (randomOffset + n > randomPool.length) {
    randomPool = randomBytes(4096);
    randomOffset = 0;
  }
  const slice = randomPool.subarray(randomOffset, randomOffset + n);
  randomOffset += n;
  return slice;
}

/** Copies headers for the request log, so later mutation of the request cannot change it. */
export function copyHeaders(headers: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const copy: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) copy[name] = Array.isArray(value) ? [...value] : value;
  return copy;
}
