/**
 * GrantHealth: what a store remembers about the grant behind a record's refresh token (failed
 * refreshes, the last error, whether the server has declared it dead), kept in the record itself so
 * that writing new tokens under a key (the user authorised again) replaces it, dead marker included.
 *
 * Records without it (all those written before it existed) read as healthy: no failures, not dead.
 *
 * @module
 */
import { InvalidTokenInfoError, describeValue } from '../errors.js';

/** Why a grant is dead (the `reason` of {@link GrantHealth.dead}). */
type GrantDeathReason = NonNullable<GrantHealth['dead']>['reason'];

/** The reasons of {@link GrantDeathReason}, for validation. */
const DEATH_REASONS: readonly GrantDeathReason[] = ['invalid_grant', 'revoked', 'invalid_client'];

/**
 * The health of the grant behind a record's refresh token, stored next to the tokens. Every field
 * is optional; an absent field (or an absent `grant`) means the healthy default. It holds no secret,
 * so redacted and printed forms of a TokenInfo show it as is.
 *
 * @example
 * ```ts
 * await store.write(key, { ...tokens, grant: { failures: 2, lastErrorCode: 'ERR_TOKEN_REQUEST' } });
 * ```
 */
export interface GrantHealth {
  /** Consecutive failed refreshes since the last successful one; an integer >= 0. Absent means 0. */
  failures?: number;
  /**
   * The stable code of the last failure: a `SessionError` code such as `ERR_TOKEN_REQUEST`, or the
   * OAuth `error` the server sent. 1 to 64 printable ASCII characters without spaces, quotes or
   * backslashes, so that no message text (which might quote a credential) is ever stored here.
   */
  lastErrorCode?: string;
  /**
   * When the grant was last refreshed successfully (epoch ms, finite, > 0). When absent, a record with
   * a refresh token counts as refreshed at its `acquiredAtMS`: its tokens were written when obtained.
   */
  lastRefreshedAtMS?: number;
  /**
   * Set when the server has refused the grant for good; the refresh token must not be sent again.
   * Writing tokens without it (a new grant) clears it.
   */
  dead?: {
    /** `invalid_grant` (expired or revoked refresh token), `revoked` (revoked by this library or the user), `invalid_client`. */
    reason: 'invalid_grant' | 'revoked' | 'invalid_client';
    /** When it was found dead (epoch ms, finite, > 0). */
    atMS: number;
  };
  /** The grant's absolute deadline (epoch ms, finite, > 0), when the server reported one (e.g. `refresh_token_expires_in`). */
  expiresAtMS?: number;
  /**
   * The `client_id` of the OAuth client the grant belongs to, written by the session that stored or refreshed
   * it (1 to 2048 characters, no control characters). A session of another client refuses the record instead of
   * using it: it would hand out that client's access token and send its refresh token to its own token endpoint.
   * Absent in records written before it existed, which any session adopts (and stamps at its next refresh).
   */
  clientId?: string;
}

/** A string that may be quoted in a message: never a string's content, which might be a credential. */
function describeOpaque(value: unknown): string {
  return typeof value === 'string' ? `a string of length ${value.length}` : describeValue(value);
}

function fail(field: string, expected: string, value: unknown): never {
  throw new InvalidTokenInfoError(field, `Expected \`${field}\` to be ${expected}, got ${describeOpaque(value)}`);
}

function checkTime(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(field, 'a finite number > 0', value);
  return value;
}

const CODE = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the class names the control characters a client id must not hold
const CLIENT_ID = /^[^\x00-\x1f\x7f]{1,2048}$/;

/**
 * @internal Whether a `client_id` fits {@link GrantHealth.clientId} (1 to 2048 characters, no control characters).
 * A session whose client id does not fit records none and checks none: the id is the app's own configuration, and
 * a refresh must never fail on it after the server has rotated the refresh token.
 */
export function isRecordableClientId(id: string): boolean {
  return CLIENT_ID.test(id);
}

/**
 * @internal Validates a `grant` field and returns a clean copy: the known fields checked and copied,
 * unknown ones dropped (as validateTokenInfo drops unknown fields of a TokenInfo), so that a
 * record written by a later release that knows more fields still reads.
 * @param value - the `grant` field of a candidate TokenInfo
 * @returns the copy
 * @throws {@link InvalidTokenInfoError} `ERR_INVALID_TOKEN_INFO` naming the field, e.g. `grant.failures`
 */
export function validateGrantHealth(value: unknown): GrantHealth {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('grant', 'an object', value);
  const v = value as Record<string, unknown>;
  const out: GrantHealth = {};
  if (v.failures !== undefined) {
    if (typeof v.failures !== 'number' || !Number.isSafeInteger(v.failures) || v.failures < 0) {
      fail('grant.failures', 'an integer >= 0', v.failures);
    }
    out.failures = v.failures;
  }
  if (v.lastErrorCode !== undefined) {
    if (typeof v.lastErrorCode !== 'string' || !CODE.test(v.lastErrorCode)) {
      fail('grant.lastErrorCode', 'an error code (1 to 64 printable characters, no spaces or quotes)', v.lastErrorCode);
    }
    out.lastErrorCode = v.lastErrorCode;
  }
  if (v.lastRefreshedAtMS !== undefined) out.lastRefreshedAtMS = checkTime(v.lastRefreshedAtMS, 'grant.lastRefreshedAtMS');
  if (v.dead !== undefined) {
    const d = v.dead as Record<string, unknown> | null;
    if (d === null || typeof d !== 'object' || Array.isArray(d)) fail('grant.dead', 'an object', d);
    if (!DEATH_REASONS.includes(d.reason as GrantDeathReason)) {
      fail(
        'grant.dead.reason',
        DEATH_REASONS.map((r) => `\`${r}\``)
          .join(', ')
          .replace(/, ([^,]*)$/, ' or $1'),
        d.reason,
      );
    }
    out.dead = { reason: d.reason as GrantDeathReason, atMS: checkTime(d.atMS, 'grant.dead.atMS') };
  }
  if (v.expiresAtMS !== undefined) out.expiresAtMS = checkTime(v.expiresAtMS, 'grant.expiresAtMS');
  if (v.clientId !== undefined) {
    if (typeof v.clientId !== 'string' || !CLIENT_ID.test(v.clientId)) {
      fail('grant.clientId', 'a client id (1 to 2048 characters, no control characters)', v.clientId);
    }
    out.clientId = v.clientId;
  }
  return out;
}

/**
 * @internal A copy of a validated GrantHealth (nested objects copied too, so that the copy shares nothing).
 * @param grant - the health
 * @returns the copy
 */
export function copyGrantHealth(grant: GrantHealth): GrantHealth {
  const out: GrantHealth = { ...grant };
  if (grant.dead !== undefined) out.dead = { ...grant.dead };
  return out;
}

/** The health of a record's grant with the defaults filled in; see {@link grantHealthOf}. */
export interface EffectiveGrantHealth {
  /** Consecutive failed refreshes; 0 when the record says nothing. */
  failures: number;
  /** The code of the last failure, when there was one. */
  lastErrorCode?: string;
  /** When the grant was last refreshed: the stored value, else `acquiredAtMS` when the record has a refresh token. */
  lastRefreshedAtMS?: number;
  /** The dead marker, when the grant is dead. */
  dead?: NonNullable<GrantHealth['dead']>;
  /** The grant's absolute deadline, when the server reported one. */
  expiresAtMS?: number;
  /** The `client_id` of the OAuth client the grant belongs to, when a session recorded it. */
  clientId?: string;
}

/**
 * @internal The health of a record's grant, defaults filled in: "migrate on read". A record without
 * `grant` is healthy. `lastRefreshedAtMS` defaults to `acquiredAtMS` for a record with a refresh token
 * (tokens are written when they are obtained, so that is when the grant last worked); the default is
 * computed here rather than written into the TokenInfo by validation, so that a record reads back
 * exactly as it was written.
 * @param info - a validated TokenInfo
 * @returns the effective health
 */
export function grantHealthOf(info: { refreshToken?: string; acquiredAtMS: number; grant?: GrantHealth }): EffectiveGrantHealth {
  const g = info.grant ?? {};
  const out: EffectiveGrantHealth = { failures: g.failures ?? 0 };
  if (g.lastErrorCode !== undefined) out.lastErrorCode = g.lastErrorCode;
  const refreshed = g.lastRefreshedAtMS ?? (info.refreshToken === undefined ? undefined : info.acquiredAtMS);
  if (refreshed !== undefined) out.lastRefreshedAtMS = refreshed;
  if (g.dead !== undefined) out.dead = { ...g.dead };
  if (g.expiresAtMS !== undefined) out.expiresAtMS = g.expiresAtMS;
  if (g.clientId !== undefined) out.clientId = g.clientId;
  return out;
}
