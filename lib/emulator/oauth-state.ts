/**
 * The authorization server's memory: token families, refresh-token rotation, reuse detection,
 * access and exchanged tokens.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_SCOPE, assertNumber, type ResolvedEmulatorOptions } from './options.js';
import { randomToken, type Clock } from './http.js';
import type { IssuedTokens, IssueTokensOptions, TokenFamily, TokenState } from './types.js';

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

interface FamilyRecord {
  id: string;
  clientId: string;
  scope: string[];
  subject: string;
  revoked: boolean;
  reuseDetected: boolean;
  currentRefreshToken: string | undefined;
  refreshCount: number;
  accessTokens: Set<string>;
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
}

/** Splits a space-separated scope into its distinct tokens. */
export function parseScope(scope: string): string[] {
  return [...new Set(scope.split(' ').filter((part) => part.length > 0))];
}

/** Whether every token of `requested` is in `granted`. */
export function isSubset(requested: string[], granted: string[]): boolean {
  return requested.every((token) => granted.includes(token));
}

/** Token families and tokens of the emulated authorization server. */
export class OAuthState {
  readonly #options: ResolvedEmulatorOptions;
  readonly #now: Clock;
  readonly #families = new Map<string, FamilyRecord>();
  readonly #refresh = new Map<string, { familyId: string; rotated: boolean }>();
  readonly #access = new Map<string, AccessRecord>();

  /**
   * @param options - resolved emulator options.
   * @param now - the emulator clock.
   */
  constructor(options: ResolvedEmulatorOptions, now: Clock) {
    this.#options = options;
    this.#now = now;
  }

  /** Seeds a new family as if an authorization-code grant had happened. */
  issue(options: IssueTokensOptions = {}): IssuedTokens {
    const clientId = options.clientId ?? this.#options.clients[0]!.clientId;
    if (!this.#options.clients.some((client) => client.clientId === clientId)) {
      throw new TypeError(`Unknown client \`${clientId}\`; register it in the \`clients\` option`);
    }
    const ttl = assertNumber('ttlSeconds', options.ttlSeconds ?? this.#options.accessTokenTTLSeconds, 0);
    const scope = parseScope(options.scope ?? DEFAULT_SCOPE);
    const subject = options.subject ?? this.#options.users?.[0] ?? 'emulator-user';
    const family: FamilyRecord = {
      id: `fam_${randomUUID()}`,
      clientId,
      scope,
      subject,
      revoked: false,
      reuseDetected: false,
      currentRefreshToken: randomToken('rt_'),
      refreshCount: 0,
      accessTokens: new Set(),
    };
    this.#families.set(family.id, family);
    this.#refresh.set(family.currentRefreshToken!, { familyId: family.id, rotated: false });
    const acquiredAtMS = this.#now();
    const accessToken = this.#mintAccess(family, scope, ttl);
    return { accessToken, refreshToken: family.currentRefreshToken!, expiresIn: ttl, scope: scope.join(' '), familyId: family.id, acquiredAtMS };
  }

  #mintAccess(family: FamilyRecord, scope: string[], ttlSeconds: number): string {
    const token = randomToken('at_');
    this.#access.set(token, {
      kind: 'access',
      clientId: family.clientId,
      scope,
      subject: family.subject,
      familyId: family.id,
      expiresAtMS: this.#now() + ttlSeconds * 1000,
      revoked: false,
    });
    family.accessTokens.add(token);
    return token;
  }

  /**
   * The refresh_token grant, with rotation and reuse detection.
   * @see https://datatracker.ietf.org/doc/html/rfc6749#section-6
   */
  refresh(clientId: string, refreshToken: string, requestedScope: string[] | undefined): RefreshResult | GrantError {
    const record = this.#refresh.get(refreshToken);
    const family = record && this.#families.get(record.familyId);
    if (!record || !family) return { error: 'invalid_grant', description: 'The refresh token is unknown' };
    if (family.clientId !== clientId) return { error: 'invalid_grant', description: 'The refresh token was issued to another client' };
    if (family.revoked) return { error: 'invalid_grant', description: 'The refresh token has been revoked' };
    if (record.rotated) {
      // RFC 9700 §4.14.2: a replayed rotated-out token means it leaked; kill the whole grant.
      if (this.#options.reuseDetection) {
        family.reuseDetected = true;
        this.revokeFamily(family.id);
      }
      return { error: 'invalid_grant', description: 'The refresh token has already been used' };
    }
    if (requestedScope && !isSubset(requestedScope, family.scope)) {
      return { error: 'invalid_scope', description: 'The requested scope exceeds the scope originally granted' };
    }
    const scope = requestedScope ?? family.scope;
    const ttl = this.#options.accessTokenTTLSeconds;
    const accessToken = this.#mintAccess(family, scope, ttl);
    family.refreshCount += 1;
    let nextRefresh: string | undefined = refreshToken;
    if (this.#options.omitRefreshToken) {
      nextRefresh = undefined;
    } else if (this.#options.rotateRefreshTokens) {
      nextRefresh = randomToken('rt_');
      record.rotated = true;
      this.#refresh.set(nextRefresh, { familyId: family.id, rotated: false });
      family.currentRefreshToken = nextRefresh;
    }
    return { accessToken, refreshToken: nextRefresh, expiresIn: ttl, scope: scope.join(' ') };
  }

  /** Issues an exchanged token (`xt_…`) for a validated token-exchange request. */
  exchange(clientId: string, subject: string, scope: string[]): { token: string; expiresIn: number } {
    const token = randomToken('xt_');
    const ttl = this.#options.accessTokenTTLSeconds;
    this.#access.set(token, {
      kind: 'exchanged',
      clientId,
      scope,
      subject,
      familyId: undefined,
      expiresAtMS: this.#now() + ttl * 1000,
      revoked: false,
    });
    return { token, expiresIn: ttl };
  }

  /** The record of an access or exchanged token when it is active now. */
  activeAccess(token: string): AccessRecord | undefined {
    const record = this.#access.get(token);
    if (!record || record.revoked || this.#now() >= record.expiresAtMS) return undefined;
    return record;
  }

  /** Revokes a family, its refresh tokens and all its access tokens. */
  revokeFamily(familyId: string): void {
    const family = this.#families.get(familyId);
    if (!family) return;
    family.revoked = true;
    family.currentRefreshToken = undefined;
    for (const token of family.accessTokens) this.#access.get(token)!.revoked = true;
  }

  /**
   * Revokes a token as RFC 7009 §2.1 describes: a refresh token takes its family along,
   * an access token goes alone.
   * @returns whether the token was known.
   */
  revoke(token: string, clientId?: string): boolean {
    const refresh = this.#refresh.get(token);
    if (refresh) {
      const family = this.#families.get(refresh.familyId)!;
      // A token of another client is left alone; the endpoint still answers 200 so as not to
      // confirm that the token exists (RFC 7009 §2.2).
      if (clientId === undefined || family.clientId === clientId) this.revokeFamily(family.id);
      return true;
    }
    const access = this.#access.get(token);
    if (access) {
      if (clientId === undefined || access.clientId === clientId) access.revoked = true;
      return true;
    }
    return false;
  }

  /**
   * Makes an access or exchanged token expired now.
   * @throws Error when the token is unknown.
   */
  expire(token: string): void {
    const record = this.#access.get(token);
    if (!record) throw new Error('expireAccessToken: unknown access token');
    record.expiresAtMS = Math.min(record.expiresAtMS, this.#now());
  }

  /** Whether the emulator issued this access, exchanged or refresh token. */
  knows(token: string): boolean {
    return this.#access.has(token) || this.#refresh.has(token);
  }

  /** The state of any token issued by the authorization server. */
  state(token: string): TokenState {
    const access = this.#access.get(token);
    if (access) {
      if (access.revoked) return 'revoked';
      return this.#now() >= access.expiresAtMS ? 'expired' : 'active';
    }
    const refresh = this.#refresh.get(token);
    if (refresh) {
      if (this.#families.get(refresh.familyId)!.revoked) return 'revoked';
      return refresh.rotated ? 'rotated' : 'active';
    }
    return 'unknown';
  }

  /** A snapshot of the family with this id, or of the family a token belongs to. */
  family(tokenOrFamilyId: string): TokenFamily | undefined {
    const id = this.#families.has(tokenOrFamilyId)
      ? tokenOrFamilyId
      : (this.#refresh.get(tokenOrFamilyId)?.familyId ?? this.#access.get(tokenOrFamilyId)?.familyId);
    const family = id === undefined ? undefined : this.#families.get(id);
    return family && snapshot(family);
  }

  /** A JSON-serialisable copy of every family and token. */
  snapshot(): unknown {
    return {
      families: [...this.#families.values()].map((f) => ({ ...f, scope: [...f.scope], accessTokens: [...f.accessTokens] })),
      refresh: [...this.#refresh.entries()].map(([token, r]) => [token, { ...r }]),
      access: [...this.#access.entries()].map(([token, a]) => [token, { ...a, scope: [...a.scope] }]),
    };
  }

  /** Adds the families and tokens of a {@link OAuthState.snapshot}. */
  restore(snapshot: unknown): void {
    const s = snapshot as { families: Array<Omit<FamilyRecord, 'accessTokens'> & { accessTokens: string[] }>; refresh: Array<[string, { familyId: string; rotated: boolean }]>; access: Array<[string, AccessRecord]> };
    for (const f of s.families) this.#families.set(f.id, { ...f, accessTokens: new Set(f.accessTokens) });
    for (const [token, r] of s.refresh) this.#refresh.set(token, { ...r });
    for (const [token, a] of s.access) this.#access.set(token, { ...a });
  }

  /** Snapshots of every family, oldest first. */
  families(): TokenFamily[] {
    return [...this.#families.values()].map(snapshot);
  }
}

function snapshot(family: FamilyRecord): TokenFamily {
  const { id, clientId, revoked, reuseDetected, currentRefreshToken, refreshCount } = family;
  return { id, clientId, revoked, reuseDetected, currentRefreshToken, refreshCount };
}
