/**
 * What a {@link PersistentSession} writes and re-reads around a refresh, so that processes sharing a store
 * stay on one grant even when the lock fails them (a lease lapsed mid-refresh, a store without a lock) or
 * the server's reuse grace window lets several of them refresh with one refresh token: the result is
 * written with a compare-and-swap on the refresh token that was sent, and a process that lost adopts the
 * stored tokens instead of its own.
 *
 * @module
 */
import { ExpiredTokensError, SessionError, type GrantDeathReason } from '../errors.js';
import { readTokens, writeTokens, writeTokensIf } from '../store/store-io.js';
import type { TokenStore } from '../store/token-store.js';
import { validateTokenInfo, type GrantHealth, type TokenInfo } from '../token/token-info.js';

/** @internal Whether `store` offers a conditional write. */
export function hasWriteIf(store: TokenStore): store is TokenStore & Required<Pick<TokenStore, 'writeIf'>> {
  return typeof store.writeIf === 'function';
}

/**
 * @internal Writes `info` under `key` if the store still holds `expectedRefreshToken` (the one the refresh
 * sent), atomically when the store has `writeIf`; a store without it is written unconditionally (the lock
 * is then the only guard).
 * @returns false when another process wrote first (this result must then be discarded)
 * @throws {@link TokenStoreError} when the store failed
 */
export async function writeIfUnchanged(
  store: TokenStore,
  key: string,
  info: TokenInfo,
  expectedRefreshToken: string | undefined,
): Promise<boolean> {
  if (hasWriteIf(store)) return writeTokensIf(store, key, info, { refreshToken: expectedRefreshToken });
  await writeTokens(store, key, info);
  return true;
}

/**
 * @internal The stored tokens if they hold another refresh token than `refused` (another process rotated,
 * or the user authorised again); undefined otherwise, and when the store cannot be read.
 */
export async function newerGrant(store: TokenStore, key: string, refused: string | undefined): Promise<TokenInfo | undefined> {
  const stored = await readTokens(store, key).catch(() => undefined);
  return stored?.refreshToken !== undefined && stored.refreshToken !== refused ? stored : undefined;
}

/** @internal The grant health of a record, if it has any. */
export function grantOf(info: TokenInfo | undefined): GrantHealth | undefined {
  return info?.grant;
}

/** @internal `info` with `grant` as its grant health (validated: it prints redacted). */
export function withGrant(info: TokenInfo, grant: GrantHealth | undefined, dropRefreshToken = false): TokenInfo {
  const out: Record<string, unknown> = {
    accessToken: info.accessToken,
    accessTokenTTLMS: info.accessTokenTTLMS,
    acquiredAtMS: info.acquiredAtMS,
  };
  if (!dropRefreshToken && info.refreshToken !== undefined) out.refreshToken = info.refreshToken;
  if (info.scope !== undefined) out.scope = info.scope;
  if (info.tokenType !== undefined) out.tokenType = info.tokenType;
  if (grant !== undefined && Object.keys(grant).length > 0) out.grant = grant;
  return validateTokenInfo(out);
}

/**
 * @internal Why a failed refresh means the grant is dead for good, or undefined when it does not:
 * `invalid_grant` (the server refused the refresh token). An `invalid_client` refusal is not a death:
 * it is the app's configuration (a rotated secret, a deleted client), shared by every grant of the
 * client, and once it is fixed the grants work again; marking each one dead would make every user
 * authorize again. It counts as a failure (`grant.lastErrorCode`), with the per-key backoff.
 */
export function deathOf(err: unknown): GrantDeathReason | undefined {
  if (err instanceof ExpiredTokensError) return err.reason ?? 'invalid_grant';
  return undefined;
}

/** @internal The stable code of a failure, for `grant.lastErrorCode`: the OAuth error if any, else the library's code. */
export function failureCode(err: unknown): string {
  const oauth = (err as { error?: unknown } | null)?.error;
  if (typeof oauth === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(oauth)) return oauth;
  return err instanceof SessionError ? err.code : 'ERR_UNKNOWN';
}

/**
 * @internal The record to store after a failed refresh of `current`: one more failure and the error's code;
 * for a dead grant (see {@link deathOf}) also the dead marker, without the refresh token, so that no process
 * sends it again and a second conditional write of the marker (expecting that refresh token) loses.
 */
export function failureRecord(current: TokenInfo, err: unknown, atMS: number): { record: TokenInfo; reason: GrantDeathReason | undefined } {
  const grant = grantOf(current) ?? {};
  const reason = deathOf(err);
  const health: GrantHealth = { ...grant, failures: (grant.failures ?? 0) + 1, lastErrorCode: failureCode(err) };
  if (reason !== undefined) health.dead = { reason, atMS };
  return { record: withGrant(current, health, reason !== undefined), reason };
}

/** @internal The error callers get for a grant the store marks dead. */
export function deadGrantError(key: string, reason: GrantDeathReason): ExpiredTokensError {
  return new ExpiredTokensError(
    `The grant for key "${key}" is dead (${reason}); authorize the user again (new tokens written for the key clear this)`,
    { error: reason, reason },
  );
}
