/**
 * Classifies errors handed to `handleExpiredTokensError`, and remembers which token a 401 was
 * for (without putting the token on the error object).
 *
 * @module
 */
import { ExpiredTokensError } from '../errors.js';
import { isTransientError } from '../oauth/token-request.js';

const rejected = new WeakMap<object, string>();

/**
 * @internal Notes that `err` reports the rejection of `token`, so that a session handling it can
 * tell a stale report (the token was already replaced) from a current one.
 */
export function markRejectedToken(err: object, token: string): void {
  rejected.set(err, token);
}

/** @internal The token an error reported as rejected, if known. */
export function rejectedTokenOf(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' ? rejected.get(err) : undefined;
}

/** @internal How a reported failure should be handled. */
export type ExpiryVerdict =
  /** The refresh token (grant) is dead: forget everything. */
  | 'grant'
  /** The access token was refused (401, invalid_token): drop it, keep the refresh token. */
  | 'access'
  /** A transient or unrelated failure: keep everything. */
  | 'none';

function statusOf(err: Record<string, unknown>): number | undefined {
  for (const v of [err.status, err.statusCode, (err.response as Record<string, unknown> | undefined)?.status, (err.response as Record<string, unknown> | undefined)?.statusCode]) {
    if (typeof v === 'number') return v;
  }
  return undefined;
}

/**
 * @internal Decides what a reported error means. Only positive evidence of a dead grant clears
 * the stored grant; a 5xx, 429 or network error never clears anything (Box clears on any failure,
 * logging every process out on a 503: LESSONS.md).
 */
export function classifyExpiry(err: unknown): ExpiryVerdict {
  if (err === null || typeof err !== 'object') return 'none';
  if (isTransientError(err)) return 'none';
  const e = err as Record<string, unknown>;
  const oauth = typeof e.error === 'string' ? e.error : undefined;
  if (oauth === 'invalid_grant') return 'grant';
  if (err instanceof ExpiredTokensError) return e.status === 401 && oauth !== 'invalid_grant' ? 'access' : 'grant';
  if (oauth === 'invalid_token') return 'access';
  const status = statusOf(e);
  // A known status other than 401 (403, 404, 400…) is not an expiry. An error with no status is the
  // caller's word that the token was refused: drop the access token (the grant is kept, so this
  // costs one refresh at most, never the grant).
  if (status !== undefined) return status === 401 ? 'access' : 'none';
  return 'access';
}

/**
 * @internal The offset of the server's clock from ours that a refusal of `info`'s access token
 * reveals (positive: the server is ahead), or `undefined` when it reveals none: the error carries
 * the server's `Date` (`serverDateMS`), and by that clock the token was due. Only an offset above
 * the header's 1 s resolution counts.
 */
export function skewFromRefusal(err: unknown, info: { acquiredAtMS: number; accessTokenTTLMS: number }, nowMS: number, bufferMS: number): number | undefined {
  const serverDateMS = (err as { serverDateMS?: unknown } | null)?.serverDateMS;
  if (typeof serverDateMS !== 'number') return undefined;
  const offset = serverDateMS - nowMS;
  return offset > 1_000 && serverDateMS >= info.acquiredAtMS + info.accessTokenTTLMS - bufferMS ? offset : undefined;
}
