/**
 * Option types, their defaults (each a named constant) and the validation helpers every
 * constructor uses, so that bad options fail at construction with a message naming the field.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { InvalidArgumentError, describeValue } from '../errors.js';

/** Refresh this long before expiry (PersistentSession). */
export const DEFAULT_EXPIRED_BUFFER_MS = 180_000;
/** Re-mint a user token with less than this left (UserSession). */
export const DEFAULT_REFRESH_BUFFER_SECONDS = 60;
/** The Forge per-app mint limit (since 2026-08-05). */
export const DEFAULT_MINTS_PER_MINUTE = 1000;
/** Attempts per token request, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 4;
/** First backoff step; doubles per attempt, with full jitter. */
export const DEFAULT_BASE_DELAY_MS = 250;
/** Largest backoff step. */
export const DEFAULT_MAX_DELAY_MS = 8_000;
/** Per-attempt timeout of a token request (headers and body). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Longest `Retry-After` the library waits for; a longer one surfaces at once. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 120_000;
/** Lifetime assumed when a token answer has no `expires_in` (RFC 6749 §5.1 only recommends it). */
export const DEFAULT_TOKEN_TTL_MS = 3_600_000;

/** How token requests are retried. Transient failures only: network errors, timeouts, 5xx, 429, malformed answers. */
export interface RetryOptions {
  /**
   * Attempts in all, the first included.
   * @default DEFAULT_MAX_ATTEMPTS
   */
  maxAttempts?: number;
  /**
   * First backoff step in ms; each retry doubles it (full jitter), up to `maxDelayMS`.
   * @default DEFAULT_BASE_DELAY_MS
   */
  baseDelayMS?: number;
  /**
   * Largest backoff step in ms.
   * @default DEFAULT_MAX_DELAY_MS
   */
  maxDelayMS?: number;
  /**
   * Timeout of one attempt in ms; a server that hangs fails with `TokenRequestError` after it.
   * @default DEFAULT_REQUEST_TIMEOUT_MS
   */
  timeoutMS?: number;
  /**
   * Longest `Retry-After` honoured in ms; a server asking for more fails at once.
   * @default DEFAULT_MAX_RETRY_AFTER_MS
   */
  maxRetryAfterMS?: number;
}

/** @internal RetryOptions with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

/** @internal Validates and completes retry options. */
export function resolveRetryOptions(value: RetryOptions | undefined, field = 'retry'): ResolvedRetryOptions {
  if (value !== undefined) checkObject(value, field);
  const v = value ?? {};
  const out: ResolvedRetryOptions = {
    maxAttempts: checkNumber(v.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, `${field}.maxAttempts`, { min: 1, integer: true }),
    baseDelayMS: checkNumber(v.baseDelayMS ?? DEFAULT_BASE_DELAY_MS, `${field}.baseDelayMS`, { min: 0 }),
    maxDelayMS: checkNumber(v.maxDelayMS ?? DEFAULT_MAX_DELAY_MS, `${field}.maxDelayMS`, { min: 0 }),
    timeoutMS: checkNumber(v.timeoutMS ?? DEFAULT_REQUEST_TIMEOUT_MS, `${field}.timeoutMS`, { min: 1 }),
    maxRetryAfterMS: checkNumber(v.maxRetryAfterMS ?? DEFAULT_MAX_RETRY_AFTER_MS, `${field}.maxRetryAfterMS`, { min: 0 }),
  };
  if (out.maxDelayMS < out.baseDelayMS) {
    throw new InvalidArgumentError(`${field}.maxDelayMS`, `Expected \`${field}.maxDelayMS\` (${out.maxDelayMS}) to be >= \`${field}.baseDelayMS\` (${out.baseDelayMS})`);
  }
  return out;
}

/** @internal */
export function checkObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an object, got ${describeValue(value)}`);
  }
}

/** @internal */
export function checkNumber(value: unknown, field: string, { min = -Infinity, integer = false } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    const what = `a finite ${integer ? 'integer' : 'number'}${min === -Infinity ? '' : ` >= ${min}`}`;
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be ${what}, got ${describeValue(value)}`);
  }
  return value;
}

/** @internal */
export function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** @internal Absolute http(s) URL. */
export function checkUrl(value: unknown, field: string): string {
  const s = checkString(value, field);
  let url: URL;
  try { url = new URL(s); } catch {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an absolute URL, got ${describeValue(s)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an http(s) URL, got protocol "${url.protocol}"`);
  }
  return s;
}

/** @internal */
export function checkFunction<T>(value: unknown, field: string): T {
  if (typeof value !== 'function') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be a function, got ${describeValue(value)}`);
  }
  return value as T;
}

/** @internal */
export function checkDispatcher(value: unknown, field = 'dispatcher'): Dispatcher | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || typeof (value as { dispatch?: unknown }).dispatch !== 'function') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an undici Dispatcher, got ${describeValue(value)}`);
  }
  return value as Dispatcher;
}

/** @internal Rejects option names the constructor does not know (catches typos such as `expiredBufferMs`). */
export function checkKnownKeys(value: Record<string, unknown>, known: readonly string[], field: string): void {
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) {
      throw new InvalidArgumentError(`${field}.${k}`, `Unknown option \`${field}.${k}\`; expected one of ${known.map((x) => `\`${x}\``).join(', ')}`);
    }
  }
}
