/**
 * Session events: a closed, typed set, emitted on each session (EventEmitter) and published on
 * `node:diagnostics_channel` so that tracing tools can subscribe without touching the code.
 * Payloads carry keys, times and outcomes, never tokens. Each session class has its own event map
 * ({@link PersistentSessionEventMap}, {@link UserSessionEventMap}): listening for an event the
 * class never emits does not type-check.
 *
 * @module
 */
import { channel, type Channel } from 'node:diagnostics_channel';
import type { EventEmitter } from 'node:events';

/** Fields every event has. */
export interface SessionEventBase {
  /** Store key of the session (for UserSession: `${namespace}:${accountId}`). */
  key: string;
  /** When it happened (the session's clock, epoch ms). */
  atMS: number;
}

/** A refresh (PersistentSession) or a re-read that adopted another process's refresh. */
export interface RefreshEvent extends SessionEventBase {
  /** `refresh`. */
  type: 'refresh';
  /** How long the refresh took. */
  durationMS: number;
  /** Expiry of the new access token. */
  expiresAtMS: number;
  /** Whether the server rotated the refresh token. */
  rotated: boolean;
  /** `server` when this process refreshed; `store` when it adopted tokens another process had just written. */
  source: 'server' | 'store';
}

/** A refresh that failed (PersistentSession). */
export interface RefreshErrorEvent extends SessionEventBase {
  /** `refreshError`. */
  type: 'refreshError';
  /** The error's stable code. */
  code: string;
  /** HTTP status, when there was one. */
  status?: number;
  /** How long it took to fail. */
  durationMS: number;
}

/**
 * The grant of a key died (PersistentSession): the server refused it for good, and this process wrote the
 * dead marker into the store (a conditional write), so the fleet sharing the store emits this once per death.
 * Nothing sends its refresh token again until new tokens are written for the key (authorize again).
 */
export interface GrantDeadEvent extends SessionEventBase {
  /** `grantDead`. */
  type: 'grantDead';
  /** Why: `invalid_grant` (expired or revoked refresh token), `revoked`, `invalid_client`. */
  reason: 'invalid_grant' | 'revoked' | 'invalid_client';
}

/** An RFC 8693 token exchange. */
export interface ExchangeEvent extends SessionEventBase {
  /** `exchange`. */
  type: 'exchange';
  /** Requested scopes. */
  scope?: string;
  /** Requested resource. */
  resource?: string;
  /** `ok` or the error code. */
  outcome: string;
}

/** Tokens revoked and forgotten. */
export interface RevokeEvent extends SessionEventBase {
  /** `revoke`. */
  type: 'revoke';
  /** Whether a revocation request was sent to the server. */
  sentToServer: boolean;
}

/** Tokens reported as expired or revoked through `handleExpiredTokensError`. */
export interface ExpiredEvent extends SessionEventBase {
  /** `expired`. */
  type: 'expired';
  /** What was dropped: `access` (the refresh token is kept), `all`, or `none` (a transient failure). */
  cleared: 'access' | 'all' | 'none';
  /** The reported error's code or name. */
  reason: string;
}

/** A user token minted (UserSession). */
export interface MintEvent extends SessionEventBase {
  /** `mint`. */
  type: 'mint';
  /** The impersonated account. */
  accountId: string;
  /** The session's namespace. */
  namespace: string;
  /** How long the mint took, queueing included. */
  durationMS: number;
  /** Expiry of the new token. */
  expiresAtMS: number;
  /** `server` when minted here; `store` when another process's token was adopted. */
  source: 'server' | 'store';
}

/** A user token mint that failed (UserSession); nothing is cached, the next call tries again. */
export interface MintErrorEvent extends SessionEventBase {
  /** `mintError`. */
  type: 'mintError';
  /** The impersonated account. */
  accountId: string;
  /** The session's namespace. */
  namespace: string;
  /** The error's stable code. */
  code: string;
  /** HTTP status, when there was one. */
  status?: number;
  /** How long it took to fail, queueing included. */
  durationMS: number;
}

/** Every event a {@link PersistentSession} emits. */
export type PersistentSessionEvent = RefreshEvent | RefreshErrorEvent | GrantDeadEvent | ExchangeEvent | RevokeEvent | ExpiredEvent;

/** Every event a {@link UserSession} emits. */
export type UserSessionEvent = MintEvent | MintErrorEvent | RevokeEvent | ExpiredEvent;

/** Every event either session emits. */
export type SessionEvent = PersistentSessionEvent | UserSessionEvent;

/** The event names. */
export type SessionEventName = SessionEvent['type'];

/** The listener map of a {@link PersistentSession}'s EventEmitter. */
export type PersistentSessionEventMap = { [E in PersistentSessionEvent as E['type']]: [E] };

/** The listener map of a {@link UserSession}'s EventEmitter. */
export type UserSessionEventMap = { [E in UserSessionEvent as E['type']]: [E] };

/** The listener map of every event of either session (each session's own map is narrower). */
export type SessionEventMap = { [E in SessionEvent as E['type']]: [E] };

/** The names, in a fixed order. */
export const SESSION_EVENT_NAMES: readonly SessionEventName[] = [
  'refresh',
  'refreshError',
  'grantDead',
  'exchange',
  'revoke',
  'expired',
  'mint',
  'mintError',
];

/** The names of the events a {@link PersistentSession} emits. */
export const PERSISTENT_SESSION_EVENT_NAMES: readonly PersistentSessionEvent['type'][] = [
  'refresh',
  'refreshError',
  'grantDead',
  'exchange',
  'revoke',
  'expired',
];

/** The names of the events a {@link UserSession} emits. */
export const USER_SESSION_EVENT_NAMES: readonly UserSessionEvent['type'][] = ['mint', 'mintError', 'revoke', 'expired'];

/** Prefix of the diagnostics channels: `persistent-session:refresh`, `persistent-session:mint`, … */
export const DIAGNOSTICS_CHANNEL_PREFIX = 'persistent-session:';

const channels = new Map<SessionEventName, Channel>(
  SESSION_EVENT_NAMES.map((name) => [name, channel(`${DIAGNOSTICS_CHANNEL_PREFIX}${name}`)]),
);

/**
 * The diagnostics channel of an event type.
 *
 * @param name - the event name
 * @returns the channel `persistent-session:<name>`
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('persistent-session:refresh', (event) => console.log(event));
 * ```
 */
export function diagnosticsChannel(name: SessionEventName): Channel {
  return channels.get(name)!;
}

/** The events of a listener map. */
type EventOf<M> = { [K in keyof M]: M[K] extends [infer E] ? E : never }[keyof M];

/** @internal Emits on the emitter and publishes on the channel; only events of the emitter's own map type-check. */
export function publish<M extends Record<keyof M, [SessionEvent]>>(emitter: EventEmitter<M>, event: EventOf<M> & SessionEvent): void {
  const ch = channels.get(event.type)!;
  if (ch.hasSubscribers) ch.publish(event);
  (emitter as EventEmitter).emit(event.type, event);
}
