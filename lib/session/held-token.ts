/**
 * The token a session hands out on its hot path, shared by {@link PersistentSession} (one) and
 * {@link UserSession} (one per user).
 *
 * @module
 */
import { expiresAtMS, freshUntilMS, type TokenInfo } from '../token/token-info.js';

/** What arming needs of a token set. */
type Armable = Pick<TokenInfo, 'accessToken' | 'acquiredAtMS' | 'accessTokenTTLMS'>;

/** The share of a token's lifetime, at its end, in which sessions refresh it ahead in the background, by default: 25%. */
export const DEFAULT_REFRESH_AHEAD_RATIO = 0.25;

/** How long sessions wait after a first failed refresh before trying again (doubling with each failure). */
export const REFRESH_BACKOFF_BASE_MS = 1_000;

/** After a failed refresh, how long sessions wait at most before the next one for the same key, by default: 30 s. */
export const DEFAULT_REFRESH_COOLDOWN_MS = 30_000;

/**
 * @internal The wait after the `failures`-th failure in a row: exponential from {@link REFRESH_BACKOFF_BASE_MS},
 * bounded by `capMS`, with jitter (50 to 100% of it) so that a fleet that failed together does not retry together.
 */
export function backoffMS(failures: number, capMS: number, random: () => number = Math.random): number {
  const exp = Math.min(capMS, REFRESH_BACKOFF_BASE_MS * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return exp * (0.5 + random() * 0.5);
}

/**
 * @internal When a token enters its soft window (our clock, epoch ms): from then on, a call starts one refresh
 * in the background and is still served the token. The soft window is the last `ratio` of the lifetime, but
 * never shorter than the hard buffer (`bufferMS` capped at half the lifetime, as in {@link freshUntilMS}); when
 * it is not longer, there is no soft window (the result is the hard deadline).
 */
export function refreshAheadFromMS(
  info: Pick<TokenInfo, 'acquiredAtMS' | 'accessTokenTTLMS'>,
  bufferMS: number,
  ratio: number,
  skewMS = 0,
): number {
  return Math.min(freshUntilMS(info, bufferMS, skewMS), expiresAtMS(info) - ratio * info.accessTokenTTLMS - skewMS);
}

/**
 * @internal A held access token, as the settled promise every caller of the hot path gets (so a
 * call on a fresh token allocates nothing), and until when it may be served without any other
 * check. That deadline is the hot path's only comparison: `now() < held.freshUntilMS`. It is the start
 * of the soft window (see {@link refreshAheadFromMS}); until {@link HeldToken.usableUntilMS}, the hard
 * deadline, the token is still served while one refresh runs in the background (the second branch).
 * Arming and disarming happen here and nowhere else.
 *
 * The fields are plain properties, read directly by the hot path: a getter would cost a call there.
 */
export class HeldToken {
  /**
   * Until when (the session's clock, epoch ms) {@link HeldToken.token} may be served with no other check: the
   * start of its soft window; `-Infinity` while disarmed.
   */
  freshUntilMS = -Infinity;
  /**
   * Until when it may be served at all without waiting for a refresh: `refreshBufferMS` before expiry (the
   * hard buffer); `-Infinity` while disarmed.
   */
  usableUntilMS = -Infinity;
  /** The access token as a settled promise; set whenever {@link HeldToken.accessToken} is. */
  token: Promise<string> | undefined = undefined;
  /** The access token last armed. */
  accessToken: string | undefined = undefined;
  /** When that access token expires (epoch ms). */
  expiresAtMS = -Infinity;
  /** Failed refreshes in a row since this token was armed afresh (see {@link HeldToken.failed}). */
  failures = 0;
  /** No refresh for this token before this time (epoch ms): the backoff after a failure. */
  retryAtMS = -Infinity;

  /** A refresh failed at `nowMS`: back off (see {@link backoffMS}) before the next one. */
  failed(nowMS: number, capMS: number): void {
    this.failures++;
    this.retryAtMS = nowMS + backoffMS(this.failures, capMS);
  }

  /** A token armed from `info` (see {@link HeldToken.arm}). */
  static of(info: Armable, bufferMS: number, aheadRatio = 0): HeldToken {
    return new HeldToken().arm(info, bufferMS, 0, aheadRatio);
  }

  /**
   * Serves `info`'s access token until `bufferMS` before it expires (capped at half its lifetime),
   * by the server's clock when `skewMS` is given; from the start of the soft window of `aheadRatio`
   * of its lifetime (0: none), callers go to the second branch. The promise is made anew only for a new token.
   */
  arm(info: Armable, bufferMS: number, skewMS = 0, aheadRatio = 0): this {
    if (info.accessToken !== this.accessToken) {
      this.accessToken = info.accessToken;
      this.token = Promise.resolve(info.accessToken);
      this.failures = 0;
      this.retryAtMS = -Infinity;
    }
    this.expiresAtMS = expiresAtMS(info);
    this.usableUntilMS = freshUntilMS(info, bufferMS, skewMS);
    this.freshUntilMS = aheadRatio > 0 ? refreshAheadFromMS(info, bufferMS, aheadRatio, skewMS) : this.usableUntilMS;
    return this;
  }

  /** Sends every caller to the slow path until the next {@link HeldToken.arm}: something the token depends on changed. */
  disarm(): void {
    this.freshUntilMS = -Infinity;
    this.usableUntilMS = -Infinity;
  }

  /** Disarms and drops the token. */
  clear(): void {
    this.disarm();
    this.token = undefined;
    this.accessToken = undefined;
    this.expiresAtMS = -Infinity;
  }
}
