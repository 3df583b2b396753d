/**
 * Keep-alive of a {@link PersistentSession}'s grant (`refreshIfOlderThan`): a refresh token that dies of
 * inactivity at the server is refreshed before it does, once per grant across the processes sharing the store.
 *
 * @module
 */
import { readTokens } from '../store/store-io.js';
import type { TokenInfo } from '../token/token-info.js';
import type { GrantKeeper } from './grant-keeper.js';
import { deadGrantError, grantOf } from './grant-store.js';
import { refreshGrant } from './refresh-request.js';
import type { SingleFlight } from './single-flight.js';
import { underLock } from './store-lock.js';

/** When a grant was last refreshed: the record's `grant.lastRefreshedAtMS` when the store keeps it, else when its tokens came. */
function lastRefreshMS(info: TokenInfo): number {
  const at = (info as { grant?: { lastRefreshedAtMS?: unknown } }).grant?.lastRefreshedAtMS;
  return typeof at === 'number' ? at : info.acquiredAtMS;
}

/**
 * @internal Refreshes `k`'s grant if its last refresh is at least `ageMS` old, deciding under the store's lock
 * on the record re-read there (see PersistentSession.refreshIfOlderThan).
 * @param flight - the session's flights: one already running settles first
 * @returns whether it refreshed
 */
export async function keepAlive(k: GrantKeeper, flight: SingleFlight<string>, ageMS: number): Promise<boolean> {
  // A refresh of this session already running settles first: it may well be the one needed.
  await flight.current(k.key)?.catch(() => undefined);
  const started = k.now();
  const epoch = k.epoch;
  const due = (info: TokenInfo | undefined): info is TokenInfo & { refreshToken: string } =>
    info?.refreshToken !== undefined && lastRefreshMS(info) <= k.now() + k.refusals.skewMS - ageMS;
  // Unlocked first look: a recent grant costs one read and no lock; one the store marks dead, no request.
  const stored = await readTokens(k.store, k.key);
  if (stored !== undefined) k.checkOwner(stored);
  const dead = grantOf(stored)?.dead;
  if (dead !== undefined) throw deadGrantError(k.key, dead.reason);
  // An empty store gets the tokens this session holds (its seed) under the lock: judge those.
  if (!due(stored ?? k.tokenInfo)) return false;
  try {
    const refreshed = await underLock(
      k.store,
      `refresh:${k.key}`,
      async () => {
        const current = await k.sync();
        if (!due(current)) return false;
        await refreshGrant(k, current, started, epoch);
        return true;
      },
      { ttlMS: k.lockTTLMS },
    );
    k.rearm();
    return refreshed;
  } catch (err) {
    k.emitError(started, err);
    throw err;
  }
}
