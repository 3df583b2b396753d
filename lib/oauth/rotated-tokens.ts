/**
 * What a malformed answer to a refresh carried that must not be lost. A strictly rotating server has
 * replaced the refresh token that was sent once it answers 200, whatever the rest of the answer looks
 * like: the new one is the grant now. It is kept off the error (where a logger would find it) and
 * handed to the session through this registry, as refusals.ts does for rejected access tokens.
 *
 * @module
 */

/** Errors of malformed refresh answers that rotated the refresh token, and the new one (kept off the error: it would leak). */
const rotatedBy = new WeakMap<object, string>();

/** @internal Notes that `err` reports a malformed answer that carried the new refresh token `refreshToken`. */
export function markRotated(err: object, refreshToken: string): void {
  rotatedBy.set(err, refreshToken);
}

/**
 * @internal The new refresh token that the malformed answer behind `err` carried, if it carried one: the
 * old one is dead at a strictly rotating server, so the caller must persist this one or the grant is lost.
 */
export function rotatedRefreshTokenOf(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' ? rotatedBy.get(err) : undefined;
}

/** @internal RFC 6749 §A.12/A.17: tokens are VSCHAR strings; a token with white space cannot go into a header. */
export function isToken(value: unknown): value is string {
  return typeof value === 'string' && /^[\x21-\x7e]+$/.test(value);
}

/** @internal One complete `"refresh_token": "…"` member of a text that is not JSON, without escapes; several or none: undefined. */
export function refreshTokenInText(text: string): string | undefined {
  const found = [...text.matchAll(/"refresh_token"\s*:\s*"([\x21\x23-\x5b\x5d-\x7e]+)"/g)];
  return found.length === 1 ? found[0]![1] : undefined;
}
