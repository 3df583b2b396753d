/**
 * The records the authorization server keeps (families, refresh and access tokens), the outcomes of
 * its grants, and their JSON form for `exportState`.
 * @module
 */
import type { TokenFamily } from './types.js';

/** An access token (`at_…`) or an exchanged one (`xt_…`). */
export interface AccessRecord {
  /** `access` for grants and refreshes, `exchanged` for token exchange. */
  kind: 'access' | 'exchanged';
  /** Client it was issued to. */
  clientId: string;
  /** Granted scope tokens. */
  scope: string[];
  /** Account it acts for. */
  subject: string;
  /** Family it belongs to (access tokens only). */
  familyId: string | undefined;
  /** Emulator-clock expiry, epoch milliseconds. */
  expiresAtMS: number;
  /** Revoked explicitly or with its family. */
  revoked: boolean;
}

/** One grant: the refresh tokens rotated from one authorization and their access tokens. */
export interface FamilyRecord {
  /** Family id. */
  id: string;
  /** Client the grant belongs to. */
  clientId: string;
  /** Granted scope tokens. */
  scope: string[];
  /** Account it acts for. */
  subject: string;
  /** Revoked, by revocation or reuse detection. */
  revoked: boolean;
  /** A rotated-out token was replayed past the grace window. */
  reuseDetected: boolean;
  /** The newest refresh token handed out that was not rotated out. */
  currentRefreshToken: string | undefined;
  /** Successful refreshes. */
  refreshCount: number;
  /** Access tokens issued in the family. */
  accessTokens: Set<string>;
  /** Branches: refresh tokens never rotated out (one, unless grace-window reuses forked the family). */
  heads: Set<string>;
  /** Refreshes answered to a rotated-out token inside the grace window. */
  graceReuses: number;
  /** Branches added by `'fork'` reuses. */
  forks: number;
  /** End of the absolute grant lifetime, epoch milliseconds; undefined without one. */
  expiresAtMS: number | undefined;
}

/** A refresh token (`rt_…`). */
export interface RefreshRecord {
  /** Family it belongs to. */
  familyId: string;
  /** Rotated out: a successor was handed out for it. */
  rotated: boolean;
  /** Last issue or successful use, epoch milliseconds: the start of its inactivity clock. */
  activeAtMS: number;
  /** When it was rotated out, epoch milliseconds: the start of its grace window. */
  rotatedAtMS?: number;
  /** The successor its first use handed out, which `'same'` grace reuses hand out again. */
  successor?: string;
}

/** An OAuth error outcome. */
export interface GrantError {
  /** RFC 6749 §5.2 error code. */
  error: string;
  /** Human-readable description. */
  description: string;
}

/** A successful refresh. */
export interface RefreshResult {
  /** The new access token. */
  accessToken: string;
  /** The refresh token to send back, if any. */
  refreshToken: string | undefined;
  /** Lifetime in seconds. */
  expiresIn: number;
  /** Granted scope. */
  scope: string;
  /** Seconds left of the grant's absolute lifetime, when it has one. */
  refreshTokenExpiresIn: number | undefined;
}

/** The JSON form of a family; snapshots saved before forks and inactivity were tracked lack some fields. */
type SavedFamily = Omit<FamilyRecord, 'accessTokens' | 'heads' | 'graceReuses' | 'forks'> & {
  accessTokens: string[];
  heads?: string[];
  graceReuses?: number;
  forks?: number;
};

/** The JSON form of the authorization server's memory. */
export interface OAuthSnapshot {
  /** Families, with their sets as arrays. */
  families: Array<SavedFamily>;
  /** Refresh tokens and their records. */
  refresh: Array<[string, Omit<RefreshRecord, 'activeAtMS'> & { activeAtMS?: number }]>;
  /** Access and exchanged tokens and their records. */
  access: Array<[string, AccessRecord]>;
}

/** Splits a space-separated scope into its distinct tokens. */
export function parseScope(scope: string): string[] {
  return [...new Set(scope.split(' ').filter((part) => part.length > 0))];
}

/** Whether every token of `requested` is in `granted`. */
export function isSubset(requested: string[], granted: string[]): boolean {
  return requested.every((token) => granted.includes(token));
}

/** A JSON-serialisable copy of the records. */
export function toSnapshot(
  families: Iterable<FamilyRecord>,
  refresh: Iterable<[string, RefreshRecord]>,
  access: Iterable<[string, AccessRecord]>,
): OAuthSnapshot {
  return {
    families: [...families].map((f) => ({ ...f, scope: [...f.scope], accessTokens: [...f.accessTokens], heads: [...f.heads] })),
    refresh: [...refresh].map(([token, r]) => [token, { ...r }]),
    access: [...access].map(([token, a]) => [token, { ...a, scope: [...a.scope] }]),
  };
}

/**
 * Records from a {@link toSnapshot} copy. A snapshot saved before inactivity and forks were
 * tracked gets a family's current token as its only branch, and inactivity clocks starting now.
 */
export function fromSnapshot(
  snapshot: unknown,
  nowMS: number,
): {
  families: FamilyRecord[];
  refresh: Array<[string, RefreshRecord]>;
  access: Array<[string, AccessRecord]>;
} {
  const s = snapshot as OAuthSnapshot;
  return {
    families: s.families.map((f) => ({
      ...f,
      graceReuses: f.graceReuses ?? 0,
      forks: f.forks ?? 0,
      expiresAtMS: f.expiresAtMS,
      accessTokens: new Set(f.accessTokens),
      heads: new Set(f.heads ?? (f.currentRefreshToken === undefined ? [] : [f.currentRefreshToken])),
    })),
    refresh: s.refresh.map(([token, r]) => [token, { ...r, activeAtMS: r.activeAtMS ?? nowMS }]),
    access: s.access.map(([token, a]) => [token, { ...a }]),
  };
}

/** Whether the grant's absolute lifetime is over. */
export function pastLifetime(family: FamilyRecord, nowMS: number): boolean {
  return family.expiresAtMS !== undefined && nowMS >= family.expiresAtMS;
}

/** Whole seconds left of the grant's absolute lifetime (rounded down, so a deadline built on it is never late). */
export function secondsLeft(family: FamilyRecord, nowMS: number): number | undefined {
  return family.expiresAtMS === undefined ? undefined : Math.max(0, Math.floor((family.expiresAtMS - nowMS) / 1000));
}

/**
 * The public snapshot of a family.
 * @param live - its refresh tokens that are valid now, oldest first.
 */
export function familyView(family: FamilyRecord, live: string[], nowMS: number): TokenFamily {
  const { id, clientId, revoked, reuseDetected, refreshCount, graceReuses, forks, expiresAtMS } = family;
  // The newest branch handed out, when it still lives; else the newest live one.
  const current =
    family.currentRefreshToken !== undefined && live.includes(family.currentRefreshToken) ? family.currentRefreshToken : live.at(-1);
  const lost = !revoked && !pastLifetime(family, nowMS) && live.length === 0;
  return {
    id,
    clientId,
    revoked,
    reuseDetected,
    currentRefreshToken: current,
    refreshCount,
    liveRefreshTokens: live.length,
    graceReuses,
    forks,
    expiresAtMS,
    lost,
  };
}
