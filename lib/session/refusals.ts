/**
 * What a server refused: the classification of errors handed to `handleExpiredTokensError`, which
 * token a 401 was for (without putting the token on the error object), and what a
 * {@link PersistentSession} remembers of refusals ({@link Refusals}).
 *
 * @module
 */
import { ExpiredTokensError } from '../errors.js';
import { isTransientError } from '../oauth/token-request.js';
import { isFresh, type TokenInfo } from '../token/token-info.js';

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
  for (const v of [
    err.status,
    err.statusCode,
    (err.response as Record<string, unknown> | undefined)?.status,
    (err.response as Record<string, unknown> | undefined)?.statusCode,
  ]) {
    if (typeof v === 'number') return v;
  }
  return undefined;
}

/**
 * @internal Decides what a reported error means. Only positive evidence of a dead grant clears
 * the stored grant; a 5xx, 429 or network error never clears anything (clearing on any failure
 * would log every process out on one 503).
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
export function skewFromRefusal(
  err: unknown,
  info: { acquiredAtMS: number; accessTokenTTLMS: number },
  nowMS: number,
  bufferMS: number,
): number | undefined {
  const serverDateMS = (err as { serverDateMS?: unknown } | null)?.serverDateMS;
  if (typeof serverDateMS !== 'number') return undefined;
  const offset = serverDateMS - nowMS;
  return offset > 1_000 && serverDateMS >= info.acquiredAtMS + info.accessTokenTTLMS - bufferMS ? offset : undefined;
}

/**
 * @internal What a {@link PersistentSession} learnt from refusals: an access token the server
 * refused is not served again (even while it looks fresh), a refresh token it refused (a dead
 * grant) is not sent again, and the clock skew a refusal revealed moves every freshness check to
 * the server's clock.
 */
export class Refusals {
  /** An access token the server refused; the next call refreshes even if it looks fresh. */
  accessToken: string | undefined;
  /** A refresh token the server refused; not sent again. */
  deadRefreshToken: string | undefined;
  /** Server clock minus ours (ms), learnt from the `Date` header of refused requests. */
  skewMS = 0;

  /**
   * Whether `info` may be handed out at `nowMS`: present, not `away`, not refused, and with more
   * than `bufferMS` left by the server's clock.
   */
  servable(info: TokenInfo | undefined, nowMS: number, bufferMS: number, away?: string): info is TokenInfo {
    return (
      info !== undefined &&
      info.accessToken !== away &&
      info.accessToken !== this.accessToken &&
      isFresh(info, nowMS, bufferMS, this.skewMS)
    );
  }

  /**
   * Notes that an API refused an access token (reported by `err`): learns the server's clock if it
   * refused a token that looks fresh by ours, and marks `held`'s access token refused if it is the
   * one reported (a report about a token already replaced changes nothing).
   *
   * @returns whether anything changed (the hot path must then be disarmed)
   */
  refuseAccess(err: Error, held: TokenInfo | undefined, nowMS: number, bufferMS: number): boolean {
    const refused = rejectedTokenOf(err) ?? held?.accessToken;
    const skew = held === undefined ? undefined : skewFromRefusal(err, held, nowMS, bufferMS);
    if (skew !== undefined) this.skewMS = skew;
    const mine = refused !== undefined && refused === held?.accessToken;
    if (mine) this.accessToken = refused;
    return mine || skew !== undefined;
  }
}
