/**
 * The slow paths of {@link PersistentSession.getAccessToken}: one flight at a time per session (single flight),
 * the store caught up with before the lock and re-read under it, the refresh ahead in the background during the
 * soft window, forced refreshes, and the cooldown after a failed refresh.
 *
 * @module
 */
import { ExpiredTokensError, TokenStoreError } from '../errors.js';
import { writeTokens } from '../store/store-io.js';
import type { TokenInfo } from '../token/token-info.js';
import type { GrantKeeper } from './grant-keeper.js';
import type { HeldToken } from './held-token.js';
import { refreshGrant, REFRESH_FAILURES, REFRESHED_BUT_UNSTORED } from './refresh-request.js';
import { SingleFlight } from './single-flight.js';
import { underLock } from './store-lock.js';

/** @internal The flights that obtain a session's tokens when its hot path cannot serve them. */
export class RefreshFlow {
  /** The running flight, if any: joined by every caller that needs a token meanwhile. */
  readonly flight = new SingleFlight<string>();
  /** The error of the last failed refresh, handed to callers during the cooldown that follows it; undefined once one succeeds. */
  lastFailure: unknown;
  readonly #k: GrantKeeper;
  /** The bound of the backoff after failed refreshes. */
  readonly #cooldownMS: number;
  /** While a forced refresh waits: the access token it replaces (see {@link RefreshFlow.#obtain}). */
  #replacing: string | undefined;

  constructor(keeper: GrantKeeper, cooldownMS: number) {
    this.#k = keeper;
    this.#cooldownMS = cooldownMS;
  }

  /**
   * The slow path. After a failed refresh the key cools down (see `refreshCooldownMS`): until then callers get
   * the held token while it has not expired, else the last error, and no request is sent.
   */
  due(now: number): Promise<string> {
    const k = this.#k;
    const held = k.held;
    const failure = this.lastFailure;
    if (failure !== undefined && now < held.retryAtMS && held.retryAtMS !== Infinity && !this.flight.has(k.key)) {
      const info = k.tokenInfo;
      if (!k.refusals.servable(info, now, 0)) return Promise.reject(failure);
      return held.accessToken === info.accessToken ? held.token! : Promise.resolve(info.accessToken);
    }
    // Callers share the flight's very promise (nothing allocated per joining caller).
    return this.flight.run(k.key, this.#obtain);
  }

  /**
   * The second branch: `held` is in its soft window. Starts one refresh in the background unless one runs
   * or the last one failed too recently (backoff), and serves `held` meanwhile.
   */
  ahead(now: number, held: HeldToken): Promise<string> {
    if (now >= held.retryAtMS) {
      // No other caller schedules one until this one has settled (a failure sets the backoff, a new token
      // resets it). Begun on the next turn of the event loop, so that the callers served now do not pay for it.
      held.retryAtMS = Infinity;
      setImmediate(this.#startAhead);
    }
    return held.token!;
  }

  /** The background refresh (or the flight already running, joined); a failure is reported (refreshError) and backed off in it. */
  readonly #startAhead = (): void => {
    const held = this.#k.held;
    const settled = (): void => {
      if (held.retryAtMS === Infinity) held.retryAtMS = -Infinity;
    };
    this.flight.run(this.#k.key, this.#obtainAhead).then(settled, settled);
  };

  readonly #obtainAhead = (): Promise<string> => this.#obtain(undefined, true);

  /** A refresh even of a fresh token: the token current once any running flight has settled is replaced. */
  async forced(): Promise<string> {
    const key = this.#k.key;
    // A forced refresh replaces the token that is current once any running flight has settled
    // (and, on a cold start, once the store has been read).
    await (this.flight.current(key) ?? (this.#k.synced ? undefined : this.flight.run(key, this.#obtain)))?.catch(() => undefined);
    const away = this.#k.tokenInfo?.accessToken ?? '';
    const replace = (): Promise<string> => this.#obtain(away);
    this.#replacing = away;
    try {
      const next = await this.flight.run(key, replace);
      // It joined an ordinary flight that started before it said what to replace: go again (that once suffices).
      return next === away ? await this.flight.run(key, replace) : next;
    } finally {
      if (this.#replacing === away) this.#replacing = undefined;
    }
  }

  /**
   * The slow path, run as a flight: catch up with the store, else refresh under the lock; re-arm
   * the hot path; hand out the access token. The token obtained is never `away`, which is by default
   * the token a waiting forced refresh replaces: ordinary flights then replace it too, so that the
   * forced call cannot keep joining ordinary flights that hand the old token back.
   */
  readonly #obtain = async (away: string | undefined = this.#replacing, ahead = false): Promise<string> => {
    const k = this.#k;
    const started = k.now();
    const epoch = k.epoch;
    let info: TokenInfo;
    try {
      info =
        (await k.catchUp(away, ahead)) ??
        (await underLock(
          k.store,
          `refresh:${k.key}`,
          async () => {
            // Inside the lock: another process may have refreshed while we waited. A private store has no
            // other writer: what this session holds is what it holds.
            const before = k.tokenInfo;
            const current = k.privateStore && k.synced ? before : await k.sync();
            const grant = current?.refreshToken;
            if (k.servable(current, away, ahead)) {
              if (current !== before) k.emitRefresh(started, current, false, 'store');
              return current;
            }
            try {
              return await refreshGrant(k, current, started, epoch);
            } catch (err) {
              // The stored grant is dead and the constructor's seed is another grant: try the seed once.
              const seed = k.seed;
              if (!(err instanceof ExpiredTokensError) || seed === undefined || seed.refreshToken === grant) throw err;
              k.seed = undefined;
              k.hold(seed);
              if (!k.servable(seed, undefined)) return await refreshGrant(k, seed, started, epoch);
              await writeTokens(k.store, k.key, seed);
              return seed;
            }
          },
          { ttlMS: k.lockTTLMS },
        ));
    } catch (err) {
      k.emitError(started, err);
      if (err !== null && typeof err === 'object' && REFRESH_FAILURES.has(err)) {
        // The next refresh of this key waits (backoff, bounded by the cooldown) so that a failing server or
        // a dead grant sees no storm; meanwhile a valid held token keeps serving.
        this.lastFailure = err;
        if (ahead) k.rearm();
        k.held.failed(k.now(), this.#cooldownMS);
      } else if (ahead) {
        // Not the server (the store, say): the held token keeps serving, and the next background try waits too.
        k.rearm();
        k.held.failed(k.now(), this.#cooldownMS);
      }
      if (ahead) throw err;
      const held = k.tokenInfo;
      // Store outage before any refresh: the token in memory has not expired yet; keep serving it.
      const outage = err instanceof TokenStoreError && !REFRESHED_BUT_UNSTORED.has(err) && away === undefined;
      if (!outage || !k.refusals.servable(held, k.now(), 0)) throw err;
      info = held;
    }
    this.lastFailure = undefined;
    k.rearm();
    return info.accessToken;
  };
}
