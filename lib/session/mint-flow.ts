/**
 * The slow paths of {@link UserSession.getAccessToken}, as lib/session/refresh-flow.ts holds those of
 * PersistentSession: one mint per user at a time (single flight), the store read before queueing and again
 * under the lock, the mint in the background during the soft window, forced mints, and what a revocation
 * that lands while a mint runs leaves behind.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { SessionError, TokenRequestError } from '../errors.js';
import { publish, type UserSessionEventMap } from '../events.js';
import { registerSecret } from '../redact.js';
import { clearTokens, readTokens, writeTokens } from '../store/store-io.js';
import type { TokenStore } from '../store/token-store.js';
import { expiresAtMS, isFresh, validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { checkString } from '../util/validate.js';
import { HeldToken, refreshAheadFromMS } from './held-token.js';
import { MAX_RATE_LIMIT_REQUEUES, isUnsent, releaseSlot } from './rate-limit-queue.js';
import { RevocationEpochs } from './revocation-epochs.js';
import { SingleFlight } from './single-flight.js';
import { underLock } from './store-lock.js';
import type { ResolvedUserSessionOptions } from './user-session-options.js';

/** @internal The store lock while one user's token is minted: a 30 s lease; waiters wait long, as the holder may be waiting out 429s. */
export const MINT_LOCK = { ttlMS: 30_000, waitMS: 300_000 } as const;

/** @internal The mints of one UserSession and the per-user state they leave: held tokens, refused tokens, revocations. */
export class MintFlow {
  /** Ordinary mints (getAccessToken, and the background ones), keyed by account. */
  readonly flight = new SingleFlight<string>();
  /** Forced mints (mint, exchangeToken) share flights among themselves only, keyed by account as the ordinary ones. */
  readonly forcedFlight = new SingleFlight<TokenInfo>();
  /** Per user, the token the hot path serves. */
  readonly tokens = new Map<string, HeldToken>();
  /** Per account, the token an API refused: never taken back from the store (another caller may read it before the clear lands). */
  readonly refused = new Map<string, string>();
  /** Revocations, so that a mint that was running when its user was revoked keeps nothing. */
  readonly revocations = new RevocationEpochs();
  /** User tokens minted at the server. */
  mints = 0;
  /** User tokens adopted from the store. */
  adoptions = 0;
  /** The session: its events are emitted on it. */
  readonly #events: EventEmitter<UserSessionEventMap>;
  readonly #o: ResolvedUserSessionOptions;

  constructor(events: EventEmitter<UserSessionEventMap>, options: ResolvedUserSessionOptions) {
    this.#events = events;
    this.#o = options;
  }

  /** The store key of a user. */
  key(accountId: string): string {
    return `${this.#o.namespace}:${accountId}`;
  }

  /**
   * The second branch of the hot path: `held` is in its soft window. Starts one mint in the background unless
   * one runs for the user or the last one failed too recently (backoff), and serves `held` meanwhile.
   */
  ahead(accountId: string, held: HeldToken, now: number): Promise<string> {
    if (now >= held.retryAtMS) {
      // No other caller schedules one until this one has settled; begun on the next turn of the event loop,
      // so that the callers served now do not pay for it.
      held.retryAtMS = Infinity;
      setImmediate(() => {
        const settled = (): void => {
          if (held.retryAtMS === Infinity) held.retryAtMS = -Infinity;
        };
        this.flight
          .run(accountId, async () => {
            try {
              return (await this.#obtain(accountId, false, true)).accessToken;
            } catch (err) {
              // Reported (mintError); the held token serves until the hard buffer, the next try waits.
              held.failed(this.#o.now(), this.#o.cooldownMS);
              throw err;
            }
          })
          .then(settled, settled);
      });
    }
    return held.token!;
  }

  /** The slow path: `held` (if any) is due, as the hot path just found. */
  due(accountId: string, held: HeldToken | undefined): Promise<string> {
    // Eviction on read: an expired token is of no use. One that is only due stays (it is not served) until
    // its successor replaces it, so that handleExpiredTokensError can still tell which token was refused.
    if (held !== undefined && this.#o.now() >= held.expiresAtMS) this.tokens.delete(accountId);
    checkString(accountId, 'accountId');
    // Callers of one user share the flight's very promise (nothing allocated per joining caller).
    // Keyed by the account alone: the flights are this session's own (no namespace to tell apart).
    return this.flight.run(accountId, async () => (await this.#obtain(accountId, false)).accessToken);
  }

  /** A mint even when a fresh token is held (the store is not consulted); concurrent forced mints of a user share one. */
  forced(accountId: string): Promise<TokenInfo> {
    return this.forcedFlight.run(accountId, () => this.#obtain(accountId, true));
  }

  #usable(info: TokenInfo | undefined, ahead = false): info is TokenInfo {
    const o = this.#o;
    if (info === undefined || !isFresh(info, o.now(), o.bufferMS)) return false;
    // A background mint takes a stored token only if it is not in its soft window too.
    return !ahead || o.now() < refreshAheadFromMS(info, o.bufferMS, o.aheadRatio);
  }

  async #obtain(accountId: string, force: boolean, ahead = false): Promise<TokenInfo> {
    const o = this.#o,
      key = this.key(accountId),
      started = o.now(),
      epoch = this.revocations.begin();
    try {
      // Cold, or due: another process (or an earlier run) may have minted already. Read the store
      // before queueing (no rate-limit slot spent), and again inside the lock, so that one mint per
      // user happens fleet-wide.
      const store = force ? undefined : o.store;
      const fromStore = async (from: TokenStore) => {
        // Validated: a hand-written store's bad record reads as absent (store-io), never as a token.
        const stored = await readTokens(from, key);
        return stored !== undefined && stored.accessToken === this.refused.get(accountId) ? undefined : stored;
      };
      // (No store: no read, and no await either, so that the request goes out as early as it can.)
      const stored = store === undefined ? undefined : await fromStore(store);
      if (this.#usable(stored, ahead)) return this.#adopt(accountId, stored, started, epoch);
      for (let requeues = 0; ; requeues++) {
        try {
          return await o.queue.add(async (slot) => {
            let sent = false;
            try {
              return await underLock(
                o.store,
                `mint:${key}`,
                async () => {
                  const again = store === undefined ? undefined : await fromStore(store);
                  if (!this.#usable(again, ahead)) {
                    sent = true;
                    return this.#request(accountId, started, epoch, slot);
                  }
                  releaseSlot(slot); // no request sent, no rate-limit budget spent
                  return this.#adopt(accountId, again, started, epoch);
                },
                MINT_LOCK,
              );
            } catch (err) {
              // The lock or the store failed before any request: the slot goes back to the queue.
              if (!sent) releaseSlot(slot);
              throw err;
            }
          });
        } catch (err) {
          // 429s outlasted the exchanger's retries: the gateway's budget is tighter than ours. Queue up again.
          if (!(err instanceof TokenRequestError && err.status === 429 && requeues < MAX_RATE_LIMIT_REQUEUES)) throw err;
        }
      }
    } catch (err) {
      const atMS = o.now(),
        status = (err as { status?: unknown } | null)?.status;
      const code = err instanceof SessionError ? err.code : 'ERR_UNKNOWN';
      const namespace = o.namespace,
        durationMS = atMS - started,
        more = typeof status === 'number' ? { status } : {};
      publish(this.#events, { type: 'mintError', key, accountId, namespace, atMS, durationMS, code, ...more });
      throw err;
    } finally {
      this.revocations.end(epoch);
    }
  }

  #adopt(accountId: string, info: TokenInfo, started: number, epoch: number): TokenInfo {
    registerSecret(info.accessToken);
    // Read before a revocation landed: the caller who asked gets it, memory keeps nothing.
    if (!this.revocations.revokedSince(accountId, epoch)) this.#hold(accountId, info);
    this.adoptions++;
    return this.#emitMint(accountId, info, started, 'store');
  }

  async #request(accountId: string, started: number, epoch: number, slot: unknown): Promise<TokenInfo> {
    const info = validateTokenInfo(
      await this.#o.exchanger.exchange(accountId).catch((err: unknown) => {
        if (isUnsent(err)) releaseSlot(slot); // it failed before sending: no rate-limit budget spent
        throw err;
      }),
    );
    registerSecret(info.accessToken);
    this.mints++;
    this.refused.delete(accountId);
    // Revoked while the mint ran: the caller who asked gets the token, nothing keeps it.
    if (this.revocations.revokedSince(accountId, epoch)) return info;
    const key = this.key(accountId),
      store = this.#o.store;
    // On a store outage this caller learns of it; later calls are served from memory (as PersistentSession does).
    this.#hold(accountId, this.#emitMint(accountId, info, started, 'server'));
    if (store === undefined) return info;
    await writeTokens(store, key, info);
    // Revoked while the write was under way: its clear may have landed before the write did (a revocation of
    // all users takes no lock). Take the token back out, unless the store already holds another one.
    if (this.revocations.revokedSince(accountId, epoch)) {
      if (this.tokens.get(accountId)?.accessToken === info.accessToken) this.tokens.delete(accountId);
      if ((await readTokens(store, key))?.accessToken === info.accessToken) await clearTokens(store, key);
    }
    return info;
  }

  #hold(accountId: string, info: TokenInfo): void {
    this.tokens.set(accountId, HeldToken.of(info, this.#o.bufferMS, this.#o.aheadRatio));
  }

  #emitMint(accountId: string, info: TokenInfo, started: number, source: 'server' | 'store'): TokenInfo {
    const atMS = this.#o.now();
    publish(this.#events, {
      type: 'mint',
      key: this.key(accountId),
      accountId,
      namespace: this.#o.namespace,
      atMS,
      durationMS: atMS - started,
      expiresAtMS: expiresAtMS(info),
      source,
    });
    return info;
  }
}
