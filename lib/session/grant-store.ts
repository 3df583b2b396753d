/**
 * What a {@link PersistentSession} writes and re-reads around a refresh, so that processes sharing a store
 * stay on one grant even when the lock fails them (a lease lapsed mid-refresh, a store without a lock) or
 * the server's reuse grace window lets several of them refresh with one refresh token: the result is
 * written with a compare-and-swap on the refresh token that was sent, and a process that lost adopts the
 * stored tokens instead of its own.
 *
 * @module
 */
import { TokenStoreError } from '../errors.js';
import { readTokens, writeTokens } from '../store/store-io.js';
import type { TokenStore } from '../store/token-store.js';
import type { TokenInfo } from '../token/token-info.js';

/** A store that may offer a conditional write (`writeIf`, a compare-and-swap on the stored refresh token). */
type MaybeConditional = TokenStore & {
  writeIf?(key: string, tokenInfo: TokenInfo, expected: { refreshToken: string | undefined }): Promise<boolean>;
};

/**
 * @internal Writes `info` under `key` if the store still holds `expectedRefreshToken` (the one the refresh
 * sent), atomically when the store has `writeIf`; a store without it is written unconditionally (the lock
 * is then the only guard).
 * @returns false when another process wrote first (this result must then be discarded)
 * @throws {@link TokenStoreError} when the store failed
 */
export async function writeIfUnchanged(store: TokenStore, key: string, info: TokenInfo, expectedRefreshToken: string | undefined): Promise<boolean> {
  const s = store as MaybeConditional;
  if (typeof s.writeIf !== 'function') {
    await writeTokens(store, key, info);
    return true;
  }
  let wrote: unknown;
  try {
    wrote = await s.writeIf(key, info, { refreshToken: expectedRefreshToken });
  } catch (err) {
    throw err instanceof TokenStoreError
      ? err
      : new TokenStoreError(`Token store conditional write failed for key "${key}": ${err instanceof Error ? err.name : typeof err}`, { cause: err, key });
  }
  if (typeof wrote !== 'boolean') throw new TokenStoreError(`Token store conditional write for key "${key}" resolved neither true nor false`, { key });
  return wrote;
}

/**
 * @internal The stored tokens if they hold another refresh token than `refused` (another process rotated,
 * or the user authorised again); undefined otherwise, and when the store cannot be read.
 */
export async function newerGrant(store: TokenStore, key: string, refused: string | undefined): Promise<TokenInfo | undefined> {
  const stored = await readTokens(store, key).catch(() => undefined);
  return stored?.refreshToken !== undefined && stored.refreshToken !== refused ? stored : undefined;
}
