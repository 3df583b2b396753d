/**
 * The state a {@link PersistentSession} keeps about its one grant (the tokens in memory, the hot path's copy,
 * the refusals, the tokens a store outage kept back) and the moves that keep memory, hot path and store
 * consistent. The refresh itself is in refresh-request.ts, the flights that run it in refresh-flow.ts.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { InvalidArgumentError, SessionError } from '../errors.js';
import { publish, type PersistentSessionEventMap } from '../events.js';
import type { OAuthClient } from '../oauth/oauth-client.js';
import { registerSecret } from '../redact.js';
import { readTokens, writeTokens } from '../store/store-io.js';
import type { TokenStore } from '../store/token-store.js';
import { expiresAtMS, type TokenInfo } from '../token/token-info.js';
import { isRecordableClientId, type GrantHealth } from '../token/grant-health.js';
import { newerGrant, withGrant } from './grant-store.js';
import { HeldToken, refreshAheadFromMS } from './held-token.js';
import { PendingWrite } from './pending-write.js';
import { Refusals } from './refusals.js';

/** @internal What a {@link GrantKeeper} is made of: the session's resolved options. */
export interface GrantKeeperParts {
  /** The session: events are emitted on it. */
  readonly events: EventEmitter<PersistentSessionEventMap>;
  /** Where the grant is kept, shared with the processes that use the same key. */
  readonly store: TokenStore;
  /** Whether the session made `store` for itself: no other writer, so it is never re-read under the lock. */
  readonly privateStore: boolean;
  /** The grant's key in {@link GrantKeeper.store}. */
  readonly key: string;
  /** Sends the token requests (refresh, exchange, revocation). */
  readonly oauth: OAuthClient;
  /** The hard buffer: how long before expiry a token stops being served (`refreshBufferMS`). */
  readonly bufferMS: number;
  /** The soft window's share of a token's lifetime (0: no refresh ahead). */
  readonly aheadRatio: number;
  /** The lease of the store's lock around a refresh. */
  readonly lockTTLMS: number;
  /** The session's clock (the `now` option). */
  readonly now: () => number;
  /** The constructor's tokens, if any. */
  readonly seed: TokenInfo | undefined;
  /** The `client_id` of the session's OAuth client: stamped on the records it writes, checked on those it reads. */
  readonly clientId: string;
}

/**
 * @internal One grant's state, shared by the session (whose hot path reads {@link GrantKeeper.held} directly),
 * its refresh flow and its keep-alive. The fields are plain properties: the modules that drive a refresh are
 * the only users of this class, and each move that changes what the hot path serves lives here.
 */
export class GrantKeeper {
  /** The session: events are emitted on it. */
  readonly events: EventEmitter<PersistentSessionEventMap>;
  /** Where the grant is kept, shared with the processes that use the same key. */
  readonly store: TokenStore;
  /** Whether the session made {@link GrantKeeper.store} for itself (see {@link GrantKeeperParts.privateStore}). */
  readonly privateStore: boolean;
  /** The grant's key in {@link GrantKeeper.store}. */
  readonly key: string;
  /** Sends the token requests (refresh, exchange, revocation). */
  readonly oauth: OAuthClient;
  /** The hard buffer: how long before expiry a token stops being served (`refreshBufferMS`). */
  readonly bufferMS: number;
  /** The soft window's share of a token's lifetime (0: no refresh ahead). */
  readonly aheadRatio: number;
  /** The lease of the store's lock around a refresh. */
  readonly lockTTLMS: number;
  /** The session's clock (the `now` option). */
  readonly now: () => number;
  /**
   * The `client_id` of the session's OAuth client (see {@link GrantHealth.clientId}); undefined when it does not
   * fit a record (then nothing is stamped or checked).
   */
  readonly clientId: string | undefined;
  /** What the hot path serves: armed when a slow path completes, disarmed by every change of what it depends on. */
  readonly held = new HeldToken();
  /** What the server refused (an access token, the grant) and the clock skew its refusals revealed. */
  readonly refusals = new Refusals();
  /** Tokens refreshed during a store outage: written as soon as the store is back. */
  readonly pending = new PendingWrite();
  /** The current tokens (which the hot path serves only while {@link GrantKeeper.held} is armed). */
  tokenInfo: TokenInfo | undefined;
  /** The constructor's tokens: written to an empty store, or tried once if the stored grant is dead. */
  seed: TokenInfo | undefined;
  /** Whether the store has been consulted since construction (cold start) or since the grant died. */
  synced = false;
  /** Bumped by revokeTokens(): a refresh that started before it keeps nothing. */
  epoch = 0;

  constructor(parts: GrantKeeperParts) {
    ({ events: this.events, store: this.store, privateStore: this.privateStore, key: this.key, oauth: this.oauth } = parts);
    ({ bufferMS: this.bufferMS, aheadRatio: this.aheadRatio, lockTTLMS: this.lockTTLMS, now: this.now } = parts);
    this.clientId = isRecordableClientId(parts.clientId) ? parts.clientId : undefined;
    // The constructor's tokens were given to this client: its records say so.
    const seed = parts.seed === undefined ? undefined : this.stamp(parts.seed);
    this.seed = seed;
    this.tokenInfo = seed;
  }

  /** `info` marked as this client's grant (see {@link GrantHealth.clientId}). */
  stamp(info: TokenInfo): TokenInfo {
    const clientId = this.clientId;
    return clientId === undefined || info.grant?.clientId === clientId ? info : withGrant(info, { ...info.grant, clientId });
  }

  /**
   * Refuses a stored record of another OAuth client: adopting it would hand out that client's access token and
   * send its refresh token to this client's token endpoint.
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` naming the `key` option
   */
  checkOwner(stored: TokenInfo): void {
    const owner = stored.grant?.clientId;
    if (owner === undefined || this.clientId === undefined || owner === this.clientId) return;
    throw new InvalidArgumentError(
      'key',
      `Key "${this.key}" of the token store holds the grant of another OAuth client (a different client_id): ` +
        'give each client its own key (the `key` option), or a store of its own',
    );
  }

  /** Whether `info` may be served (not `away`, not refused, outside the hard buffer; with `ahead`, outside the soft window too). */
  servable(info: TokenInfo | undefined, away: string | undefined, ahead = false): info is TokenInfo {
    const now = this.now();
    if (!this.refusals.servable(info, now, this.bufferMS, away)) return false;
    return !ahead || now < refreshAheadFromMS(info, this.bufferMS, this.aheadRatio, this.refusals.skewMS);
  }

  /** Makes `info` the current tokens; the hot path waits for the next re-arm. */
  hold(info: TokenInfo): void {
    this.tokenInfo = info;
    this.held.disarm();
  }

  /** Drops every token held in memory (the hot path's copy included). */
  forget(): void {
    this.tokenInfo = undefined;
    this.seed = undefined;
    this.pending.done();
    this.held.clear();
  }

  /** Re-arms the hot path from the current state (see {@link HeldToken}). */
  rearm(): void {
    const info = this.tokenInfo;
    if (info === undefined || !this.synced || this.pending.tokens !== undefined || info.accessToken === this.refusals.accessToken) {
      this.held.disarm();
    } else {
      this.held.arm(info, this.bufferMS, this.refusals.skewMS, this.aheadRatio);
    }
  }

  /**
   * Writes tokens a store outage kept in memory. They stop waiting once written, unless newer ones
   * took their place meanwhile; a failed write sets the time of the next try and rejects.
   */
  async writePending(unwritten: TokenInfo): Promise<void> {
    try {
      // Unconditional, so first make sure the key has not been taken by another client meanwhile.
      const stored = await readTokens(this.store, this.key);
      if (stored !== undefined) this.checkOwner(stored);
      await writeTokens(this.store, this.key, unwritten);
    } catch (err) {
      this.pending.retryLater(this.now());
      throw err;
    }
    if (this.pending.tokens === unwritten) this.pending.done();
  }

  /**
   * Before the lock: writes tokens a store outage kept in memory, reads the store on a cold start.
   * @returns the held tokens if they can be served as they are
   */
  async catchUp(away: string | undefined, ahead = false): Promise<TokenInfo | undefined> {
    const unwritten = this.pending.due(this.now());
    if (unwritten !== undefined) {
      try {
        await this.writePending(unwritten);
      } catch (err) {
        if (!this.servable(this.tokenInfo, away)) throw err;
      }
    }
    if (!this.synced) {
      try {
        await this.sync();
      } catch (err) {
        // The store is down: a token we hold is still good to serve. Not so when the key holds another client's grant.
        if (err instanceof InvalidArgumentError || !this.servable(this.tokenInfo, away)) throw err;
      }
    }
    return this.servable(this.tokenInfo, away, ahead) ? this.tokenInfo : undefined;
  }

  /**
   * Reads the store and adopts what it holds: the store is the shared truth (other processes
   * rotate), except for tokens this session refreshed but could not write yet. An empty store
   * gets the tokens held in memory (e.g. the constructor's seed).
   */
  async sync(): Promise<TokenInfo | undefined> {
    const stored = await readTokens(this.store, this.key);
    if (stored !== undefined) this.checkOwner(stored);
    this.synced = true;
    const mine = this.tokenInfo;
    if (stored === undefined) {
      if (mine !== undefined && mine.refreshToken !== this.refusals.deadRefreshToken) {
        await writeTokens(this.store, this.key, this.stamp(mine)).catch(() => {
          this.pending.hold(mine);
          this.held.disarm();
        });
      }
      return mine;
    }
    if (this.pending.tokens !== undefined && mine !== undefined) return mine;
    if (stored.refreshToken === undefined || stored.refreshToken !== this.refusals.deadRefreshToken) {
      registerSecret(stored.accessToken);
      registerSecret(stored.refreshToken);
      this.hold(stored);
    }
    return this.tokenInfo;
  }

  /** Adopts the stored tokens if their refresh token is not `refused` (see {@link newerGrant}); undefined if not. */
  async adoptNewer(refused: string | undefined, started: number): Promise<TokenInfo | undefined> {
    if (this.privateStore) return undefined;
    const stored = await newerGrant(this.store, this.key, refused);
    if (stored === undefined) return undefined;
    this.checkOwner(stored);
    registerSecret(stored.accessToken);
    registerSecret(stored.refreshToken);
    this.hold(stored);
    this.refusals.accessToken = undefined;
    this.emitRefresh(started, stored, false, 'store');
    return stored;
  }

  /** Emits `refresh` for `info`, obtained since `started` from the server or found in the store. */
  emitRefresh(started: number, info: TokenInfo, rotated: boolean, source: 'server' | 'store'): void {
    const atMS = this.now();
    publish(this.events, {
      type: 'refresh',
      key: this.key,
      atMS,
      durationMS: atMS - started,
      expiresAtMS: expiresAtMS(info),
      rotated,
      source,
    });
  }

  /** Emits `refreshError` for a slow path begun at `started` that failed with `err`. */
  emitError(started: number, err: unknown): void {
    const atMS = this.now();
    const code = err instanceof SessionError ? err.code : 'ERR_UNKNOWN';
    const status = (err as { status?: unknown }).status;
    publish(this.events, {
      type: 'refreshError',
      key: this.key,
      atMS,
      durationMS: atMS - started,
      code,
      ...(typeof status === 'number' ? { status } : {}),
    });
  }
}
