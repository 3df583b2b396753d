/**
 * The one request that replaces a {@link PersistentSession}'s tokens (a refresh with its refresh token) and what
 * must follow it before a caller sees the result: the new tokens persisted (or kept in memory through a store
 * outage), another process's newer grant adopted, a failure recorded in the store.
 *
 * @module
 */
import { ExpiredTokensError, InvalidArgumentError, TokenStoreError } from '../errors.js';
import { publish } from '../events.js';
import { tokenInfoFrom } from '../oauth/oauth-client.js';
import { rotatedRefreshTokenOf } from '../oauth/rotated-tokens.js';
import { writeTokens } from '../store/store-io.js';
import type { TokenInfo } from '../token/token-info.js';
import type { GrantKeeper } from './grant-keeper.js';
import { deadGrantError, failureRecord, grantOf, hasWriteIf, withGrant, writeIfUnchanged } from './grant-store.js';

/** @internal Errors of refreshes that succeeded at the server but could not be stored (the token is new, not stale). */
export const REFRESHED_BUT_UNSTORED = new WeakSet<object>();

/** @internal Errors of refreshes the server answered (or that a known-dead grant made needless): they start a cooldown. */
export const REFRESH_FAILURES = new WeakSet<object>();

/**
 * @internal Refreshes with `current`'s refresh token and persists the result before returning it.
 * @param started - when the slow path began (for the events' durations)
 * @param epoch - {@link GrantKeeper.epoch} when it began: a revocation since then makes the result void
 */
export async function refreshGrant(k: GrantKeeper, current: TokenInfo | undefined, started: number, epoch: number): Promise<TokenInfo> {
  if (current === undefined) {
    throw new ExpiredTokensError(
      `No tokens for key "${k.key}": the session was given no tokenInfo and the store holds none; authorize the user first`,
    );
  }
  const dead = grantOf(current)?.dead;
  if (dead !== undefined) {
    // Found dead by a process sharing the store (this one or another): never sent again.
    const e = deadGrantError(k.key, dead.reason);
    REFRESH_FAILURES.add(e);
    throw e;
  }
  if (current.refreshToken === undefined) {
    throw new ExpiredTokensError(`The access token for key "${k.key}" has expired and there is no refresh token; authorize the user again`);
  }
  if (current.refreshToken === k.refusals.deadRefreshToken) {
    const dead = new ExpiredTokensError(
      `The refresh token for key "${k.key}" was already refused by the server; authorize the user again`,
      { error: 'invalid_grant' },
    );
    REFRESH_FAILURES.add(dead);
    throw dead;
  }
  let parsed: Awaited<ReturnType<GrantKeeper['oauth']['refresh']>>;
  try {
    parsed = await k.oauth.refresh(current.refreshToken);
  } catch (err) {
    const rotated = rotatedRefreshTokenOf(err);
    if (rotated !== undefined) return keepRotated(k, current, rotated, err, started, epoch);
    if (err instanceof ExpiredTokensError) {
      k.refusals.deadRefreshToken = current.refreshToken;
      // Refused: perhaps because another process rotated it meanwhile (its lease lapsed, or it had no lock).
      const newer = await k.adoptNewer(current.refreshToken, started);
      if (newer !== undefined) return k.servable(newer, undefined) ? newer : refreshGrant(k, newer, started, epoch);
    }
    throw await failed(k, current, err);
  }
  // Stamped in the server's clock (ours plus the skew learnt from refusals): the clock freshness
  // checks compare against, and the one other processes reading the store share.
  const serverNow = k.now() + k.refusals.skewMS;
  const deadline =
    parsed.refreshTokenExpiresInMS === undefined ? grantOf(current)?.expiresAtMS : serverNow + parsed.refreshTokenExpiresInMS;
  // A success resets the failures; the grant's deadline is kept, or learnt.
  const next = withGrant(tokenInfoFrom(parsed, serverNow, current), {
    lastRefreshedAtMS: serverNow,
    ...(deadline === undefined ? {} : { expiresAtMS: deadline }),
    clientId: k.clientId,
  });
  if (epoch !== k.epoch) {
    // revokeTokens() ran while this refresh was on the wire: revoke what it brought, keep nothing.
    const hint = next.refreshToken === undefined ? 'access_token' : 'refresh_token';
    await k.oauth.revoke(next.refreshToken ?? next.accessToken, hint).catch(() => {});
    throw new ExpiredTokensError(`The tokens for key "${k.key}" were revoked while a refresh was running`);
  }
  // Memory first, so that nothing is lost if the store fails; then persist before resolving.
  k.hold(next);
  k.seed = undefined;
  k.refusals.accessToken = undefined;
  let theirs: TokenInfo | undefined;
  try {
    theirs = await persistRefreshed(k, next, current, started);
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw err;
    const e = new TokenStoreError(
      `Writing the refreshed tokens for key "${k.key}" failed; they are kept in memory and written when the store is back`,
      { cause: err, key: k.key },
    );
    REFRESHED_BUT_UNSTORED.add(e);
    throw e;
  }
  if (theirs !== undefined) return theirs;
  k.emitRefresh(started, next, parsed.refreshToken !== undefined && parsed.refreshToken !== current.refreshToken, 'server');
  return next;
}

/**
 * Persists `next`, the tokens a refresh of `current` obtained (held in memory already), before anyone is handed
 * them: only over `current`'s refresh token. When another process wrote first, its tokens are the grant's and are
 * adopted (a fork the server may have made with ours dies unused).
 * @returns the tokens of the process that wrote first, if another did
 * @throws {@link InvalidArgumentError} when the key holds another client's grant: not an outage, nothing to write later
 * @throws the store's error on an outage, once `next` is kept back to be written when the store is back (GrantKeeper.catchUp)
 */
async function persistRefreshed(k: GrantKeeper, next: TokenInfo, current: TokenInfo, started: number): Promise<TokenInfo | undefined> {
  try {
    const won = await writeOver(k, next, current);
    k.pending.done();
    if (won) return undefined;
    const theirs = await k.adoptNewer(undefined, started);
    if (theirs === undefined) await writeTokens(k.store, k.key, next);
    return theirs;
  } catch (err) {
    if (!(err instanceof InvalidArgumentError)) {
      k.pending.hold(next);
      k.pending.retryLater(k.now());
    }
    throw err;
  }
}

/**
 * Writes the result of a refresh of `current`: only over `current`'s refresh token (see {@link writeIfUnchanged}),
 * unless `current` never reached the store (an outage kept it back: pending-write.ts): the store then
 * holds older tokens, which `next` replaces whatever they are, as the write of `current` would have.
 * @returns false when another process wrote first
 */
async function writeOver(k: GrantKeeper, next: TokenInfo, current: TokenInfo): Promise<boolean> {
  if (k.pending.tokens !== current) return writeIfUnchanged(k.store, k.key, next, current.refreshToken);
  await writeTokens(k.store, k.key, next);
  return true;
}

/**
 * A refresh whose answer was malformed but rotated the refresh token (see `rotatedRefreshTokenOf` in
 * rotated-tokens.ts): the old refresh token is dead at a strictly rotating server, so the new one is persisted
 * like the tokens of any refresh, memory first, with a conditional write over the one sent. Nothing else of the
 * answer is used: the record keeps the access token held, with its own lifetime, so that an expired one makes
 * the next call refresh (with the new refresh token) and one still valid (a refresh ahead, a keep-alive sweep)
 * keeps serving. The caller still gets the malformed answer's error, and the key cools down as after any failed
 * refresh: an answer's access token whose lifetime is not a positive number (`expires_in` of `0`, `-5`, `"abc"`)
 * is never served, and not refreshed again at once either, which would hammer a server that keeps answering so.
 * @returns the stored tokens, when another process wrote newer usable ones first
 * @throws `err` once the new refresh token is kept (in the store, or in memory until the store is back)
 */
async function keepRotated(
  k: GrantKeeper,
  current: TokenInfo,
  refreshToken: string,
  err: unknown,
  started: number,
  epoch: number,
): Promise<TokenInfo> {
  if (epoch !== k.epoch) {
    // revokeTokens() ran while this refresh was on the wire: revoke what it brought, keep nothing.
    await k.oauth.revoke(refreshToken, 'refresh_token').catch(() => {});
    throw new ExpiredTokensError(`The tokens for key "${k.key}" were revoked while a refresh was running`);
  }
  REFRESH_FAILURES.add(err as object);
  const serverNow = k.now() + k.refusals.skewMS;
  // One more failure, and a refresh all the same: the new refresh token's idle clock starts now.
  const { record: failure } = failureRecord(current, err, serverNow);
  const next = withGrant({ ...failure, refreshToken }, { ...grantOf(failure), lastRefreshedAtMS: serverNow, clientId: k.clientId });
  k.hold(next);
  k.seed = undefined;
  try {
    const theirs = await persistRefreshed(k, next, current, started);
    if (theirs !== undefined && k.servable(theirs, undefined)) return theirs;
  } catch (storeErr) {
    // A store outage keeps `next` in memory (persistRefreshed); another client's grant under the key is reported.
    if (storeErr instanceof InvalidArgumentError) throw storeErr;
  }
  throw err;
}

/**
 * A refresh failed at the server: the store learns it (the grant's failures and last error code; for a dead
 * grant, the dead marker, without the refresh token). Only the process whose conditional write of the dead
 * marker succeeds emits `grantDead`, so a fleet sharing the store hears of each death once.
 * @returns the error to throw (for a dead grant, an ExpiredTokensError carrying the reason)
 */
async function failed(k: GrantKeeper, current: TokenInfo, err: unknown): Promise<unknown> {
  if (err !== null && typeof err === 'object') REFRESH_FAILURES.add(err);
  const atMS = k.now();
  const { record, reason } = failureRecord(k.stamp(current), err, atMS);
  let won = false;
  try {
    // Best effort, and only over the refresh token that failed: a newer grant stored meanwhile is left alone. A
    // store without writeIf learns only of deaths (written under the lock), not of every failure.
    if (reason !== undefined || hasWriteIf(k.store)) won = await writeIfUnchanged(k.store, k.key, record, current.refreshToken);
  } catch {
    // The store is down: the refusal is still remembered in memory (refusals).
  }
  if (reason === undefined) return err;
  if (won) {
    k.hold(record);
    publish(k.events, { type: 'grantDead', key: k.key, atMS, reason });
  }
  if (!(err instanceof ExpiredTokensError)) return err;
  const { status, error, errorDescription } = err;
  const e = new ExpiredTokensError(err.message, { status, error, errorDescription, cause: err, reason });
  REFRESH_FAILURES.add(e);
  return e;
}
