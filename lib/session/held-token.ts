/**
 * The token a session hands out on its hot path, shared by {@link PersistentSession} (one) and
 * {@link UserSession} (one per user).
 *
 * @module
 */
import { expiresAtMS, freshUntilMS, type TokenInfo } from '../token/token-info.js';

/** What arming needs of a token set. */
type Armable = Pick<TokenInfo, 'accessToken' | 'acquiredAtMS' | 'accessTokenTTLMS'>;

/**
 * @internal A held access token, as the settled promise every caller of the hot path gets (so a
 * call on a fresh token allocates nothing), and until when it may be served without any other
 * check. That deadline is the hot path's only comparison: `now() < held.freshUntilMS`. Arming and
 * disarming it happen here and nowhere else.
 *
 * The fields are plain properties, read directly by the hot path: a getter would cost a call there.
 */
export class HeldToken {
  /** Until when (the session's clock, epoch ms) {@link HeldToken.token} may be served as is; `-Infinity` while disarmed. */
  freshUntilMS = -Infinity;
  /** The access token as a settled promise; set whenever {@link HeldToken.accessToken} is. */
  token: Promise<string> | undefined = undefined;
  /** The access token last armed. */
  accessToken: string | undefined = undefined;
  /** When that access token expires (epoch ms). */
  expiresAtMS = -Infinity;

  /** A token armed from `info` (see {@link HeldToken.arm}). */
  static of(info: Armable, bufferMS: number): HeldToken {
    return new HeldToken().arm(info, bufferMS);
  }

  /**
   * Serves `info`'s access token until `bufferMS` before it expires (capped at half its lifetime),
   * by the server's clock when `skewMS` is given. The promise is made anew only for a new token.
   */
  arm(info: Armable, bufferMS: number, skewMS = 0): this {
    if (info.accessToken !== this.accessToken) {
      this.accessToken = info.accessToken;
      this.token = Promise.resolve(info.accessToken);
    }
    this.expiresAtMS = expiresAtMS(info);
    this.freshUntilMS = freshUntilMS(info, bufferMS, skewMS);
    return this;
  }

  /** Sends every caller to the slow path until the next {@link HeldToken.arm}: something the token depends on changed. */
  disarm(): void {
    this.freshUntilMS = -Infinity;
  }

  /** Disarms and drops the token. */
  clear(): void {
    this.disarm();
    this.token = undefined;
    this.accessToken = undefined;
    this.expiresAtMS = -Infinity;
  }
}
