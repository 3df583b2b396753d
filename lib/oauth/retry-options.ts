/**
 * How token requests are retried: the options, their defaults (each a named constant) and their
 * validation.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { checkNumber, checkObject } from '../util/validate.js';

/** Attempts per token request, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 4;
/** First backoff step; doubles per attempt; each wait is 50 to 100% of the step (jitter). */
export const DEFAULT_BASE_DELAY_MS = 250;
/** Largest backoff step. */
export const DEFAULT_MAX_DELAY_MS = 8_000;
/** Per-attempt timeout of a token request (headers and body). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** Longest `Retry-After` the library waits for; a longer one surfaces at once. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 120_000;
/** Lifetime assumed when a token answer has no `expires_in` (RFC 6749 §5.1 only recommends it). */
export const DEFAULT_TOKEN_TTL_MS = 3_600_000;

/**
 * How token requests are retried. Transient failures only: network errors, timeouts, 5xx, 429, and a 2xx
 * whose body is not JSON, unless it visibly carries a new refresh token (the server rotated, and a retry
 * would send the refresh token it replaced). A JSON answer of the wrong shape is never retried.
 */
export interface RetryOptions {
  /**
   * Attempts in all, the first included.
   * @default DEFAULT_MAX_ATTEMPTS
   */
  maxAttempts?: number;
  /**
   * First backoff step in ms; each retry doubles it, up to `maxDelayMS`, and waits 50 to 100% of it (jitter).
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
    throw new InvalidArgumentError(
      `${field}.maxDelayMS`,
      `Expected \`${field}.maxDelayMS\` (${out.maxDelayMS}) to be >= \`${field}.baseDelayMS\` (${out.baseDelayMS})`,
    );
  }
  return out;
}
