/**
 * The authorization server's memory: token families, refresh-token rotation, reuse detection and
 * its grace window, forks, inactivity and grant lifetime, access and exchanged tokens.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_SCOPE, assertNumber, type ResolvedEmulatorOptions } from './options.js';
import { randomToken, type Clock } from './http.js';
import {
  familyView,
  fromSnapshot,
  isSubset,
  parseScope,
  pastLifetime,
  secondsLeft,
  toSnapshot,
  type AccessRecord,
  type FamilyRecord,
  type GrantError,
  type RefreshRecord,
  type RefreshResult,
} from './oauth-records.js';
import type { GrantStats, IssuedTokens, IssueTokensOptions, TokenFamily, TokenState } from './types.js';

/** Token families and tokens of the emulated authorization server. */
export class OAuthState {
  readonly #options: ResolvedEmulatorOptions;
  readonly #now: Clock;
  readonly #families = new Map<string, FamilyRecord>();
  readonly #refresh = new Map<string, RefreshRecord>();
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
    const acquiredAtMS = this.#now();
    const lifetimeMS = this.#options.grantLifetimeMS;
    const family: FamilyRecord = {
      id: `fam_${randomUUID()}`,
      clientId,
      scope,
      subject,
      revoked: false,
      reuseDetected: false,
      currentRefreshToken: undefined,
      refreshCount: 0,
      accessTokens: new Set(),
      heads: new Set(),
      graceReuses: 0,
      forks: 0,
      expiresAtMS: Number.isFinite(lifetimeMS) ? acquiredAtMS + lifetimeMS : undefined,
    };
    this.#families.set(family.id, family);
    const refreshToken = this.#newBranch(family, acquiredAtMS);
    const accessToken = this.#mintAccess(family, scope, ttl);
    const issued: IssuedTokens = { accessToken, refreshToken, expiresIn: ttl, scope: scope.join(' '), familyId: family.id, acquiredAtMS };
    const left = secondsLeft(family, acquiredAtMS);
    if (left !== undefined) issued.refreshTokenExpiresIn = left;
    return issued;
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

  /** Hands out a new refresh token that starts a branch of the family (or continues one). */
  #newBranch(family: FamilyRecord, nowMS: number): string {
    const token = randomToken('rt_');
    this.#refresh.set(token, { familyId: family.id, rotated: false, activeAtMS: nowMS });
    family.heads.add(token);
    family.currentRefreshToken = token;
    return token;
  }

  /** Whether a token that was never rotated out has gone unused for longer than the idle TTL. */
  #idle(record: RefreshRecord, nowMS: number): boolean {
    return nowMS - record.activeAtMS >= this.#options.refreshTokenIdleTTLMS;
  }

  /** The family's refresh tokens that are valid now. */
  #liveHeads(family: FamilyRecord, nowMS: number): string[] {
    if (family.revoked || pastLifetime(family, nowMS)) return [];
    return [...family.heads].filter((token) => !this.#idle(this.#refresh.get(token)!, nowMS));
  }

  /**
   * The refresh_token grant, with rotation, reuse detection and its grace window, inactivity
   * expiry and the absolute grant lifetime.
   * @see https://datatracker.ietf.org/doc/html/rfc6749#section-6
   */
  refresh(clientId: string, refreshToken: string, requestedScope: string[] | undefined): RefreshResult | GrantError {
    const record = this.#refresh.get(refreshToken);
    const family = record && this.#families.get(record.familyId);
    if (!record || !family) return { error: 'invalid_grant', description: 'The refresh token is unknown' };
    if (family.clientId !== clientId) return { error: 'invalid_grant', description: 'The refresh token was issued to another client' };
    if (family.revoked) return { error: 'invalid_grant', description: 'The refresh token has been revoked' };
    const now = this.#now();
    if (pastLifetime(family, now)) return { error: 'invalid_grant', description: 'The grant has expired: its absolute lifetime is over' };
    const inGrace = record.rotated && now - record.rotatedAtMS! < this.#options.refreshTokenReuseGraceMS;
    if (record.rotated && !inGrace) {
      // RFC 9700 §4.14.2: a replayed rotated-out token means it leaked; kill the whole grant.
      if (this.#options.reuseDetection) {
        family.reuseDetected = true;
        this.revokeFamily(family.id);
      }
      return { error: 'invalid_grant', description: 'The refresh token has already been used' };
    }
    if (!record.rotated && this.#idle(record, now)) {
      return { error: 'invalid_grant', description: 'The refresh token has expired from inactivity' };
    }
    if (requestedScope && !isSubset(requestedScope, family.scope)) {
      return { error: 'invalid_scope', description: 'The requested scope exceeds the scope originally granted' };
    }
    const scope = requestedScope ?? family.scope;
    const ttl = this.#options.accessTokenTTLSeconds;
    const again = this.#reissuable(family, scope, now);
    const accessToken = again?.token ?? this.#mintAccess(family, scope, ttl);
    family.refreshCount += 1;
    const nextRefresh = inGrace ? this.#reuse(family, record, now) : this.#advance(family, refreshToken, record, now);
    const refreshTokenExpiresIn = secondsLeft(family, now);
    return { accessToken, refreshToken: nextRefresh, expiresIn: again?.expiresIn ?? ttl, scope: scope.join(' '), refreshTokenExpiresIn };
  }

  /**
   * The family's newest access token, when a refresh hands it back (see `reissueWithinSeconds`): active,
   * of the same scope, with more than `reissueWithinSeconds` left.
   */
  #reissuable(family: FamilyRecord, scope: string[], nowMS: number): { token: string; expiresIn: number } | undefined {
    const within = this.#options.reissueWithinSeconds;
    if (within === Number.POSITIVE_INFINITY) return undefined;
    let newest: string | undefined;
    for (const token of family.accessTokens) newest = token;
    const record = newest === undefined ? undefined : this.#access.get(newest);
    if (record === undefined || record.revoked || record.scope.join(' ') !== scope.join(' ')) return undefined;
    // Whole seconds, rounded down, so that a deadline a client builds on it is never late.
    const left = Math.floor((record.expiresAtMS - nowMS) / 1000);
    return left > within ? { token: newest!, expiresIn: left } : undefined;
  }

  /** The refresh token a successful refresh with a live one hands back (rotating it out, or not). */
  #advance(family: FamilyRecord, token: string, record: RefreshRecord, nowMS: number): string | undefined {
    if (this.#options.omitRefreshToken || !this.#options.rotateRefreshTokens) {
      record.activeAtMS = nowMS;
      return this.#options.omitRefreshToken ? undefined : token;
    }
    record.rotated = true;
    record.rotatedAtMS = nowMS;
    family.heads.delete(token);
    record.successor = this.#newBranch(family, nowMS);
    return record.successor;
  }

  /** The refresh token a reuse inside the grace window hands out (see `refreshTokenReuseMode`). */
  #reuse(family: FamilyRecord, record: RefreshRecord, nowMS: number): string {
    family.graceReuses += 1;
    if (this.#options.refreshTokenReuseMode === 'fork') {
      family.forks += 1;
      return this.#newBranch(family, nowMS);
    }
    // The successor is alive: the idle TTL is longer than the grace window. It may have been
    // rotated out since; then the client gets it back and its own grace window applies.
    const successor = record.successor!;
    const next = this.#refresh.get(successor)!;
    if (!next.rotated) next.activeAtMS = nowMS;
    return successor;
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

  /**
   * The state of any token issued by the authorization server. A refresh token past its grant's
   * lifetime or dead from inactivity is `expired`; a rotated-out one stays `rotated`, grace window or not.
   */
  state(token: string): TokenState {
    const access = this.#access.get(token);
    if (access) {
      if (access.revoked) return 'revoked';
      return this.#now() >= access.expiresAtMS ? 'expired' : 'active';
    }
    const refresh = this.#refresh.get(token);
    if (refresh) {
      const family = this.#families.get(refresh.familyId)!;
      const now = this.#now();
      if (family.revoked) return 'revoked';
      if (pastLifetime(family, now)) return 'expired';
      if (refresh.rotated) return 'rotated';
      return this.#idle(refresh, now) ? 'expired' : 'active';
    }
    return 'unknown';
  }

  /** A snapshot of the family with this id, or of the family a token belongs to. */
  family(tokenOrFamilyId: string): TokenFamily | undefined {
    const id = this.#families.has(tokenOrFamilyId)
      ? tokenOrFamilyId
      : (this.#refresh.get(tokenOrFamilyId)?.familyId ?? this.#access.get(tokenOrFamilyId)?.familyId);
    const family = id === undefined ? undefined : this.#families.get(id);
    return family && this.#snapshotOf(family);
  }

  /** Snapshots of every family, oldest first. */
  families(): TokenFamily[] {
    return [...this.#families.values()].map((family) => this.#snapshotOf(family));
  }

  /** Where the families stand now: forked, lost, revoked, expired. */
  grantStats(): GrantStats {
    const stats: GrantStats = { families: 0, forkedFamilies: 0, lostGrants: 0, revokedFamilies: 0, expiredGrants: 0 };
    const now = this.#now();
    for (const family of this.#families.values()) {
      stats.families += 1;
      if (family.revoked) stats.revokedFamilies += 1;
      else if (pastLifetime(family, now)) stats.expiredGrants += 1;
      else {
        const live = this.#liveHeads(family, now).length;
        if (live === 0) stats.lostGrants += 1;
        if (live > 1) stats.forkedFamilies += 1;
      }
    }
    return stats;
  }

  #snapshotOf(family: FamilyRecord): TokenFamily {
    const now = this.#now();
    return familyView(family, this.#liveHeads(family, now), now);
  }

  /** A JSON-serialisable copy of every family and token. */
  snapshot(): unknown {
    return toSnapshot(this.#families.values(), this.#refresh.entries(), this.#access.entries());
  }

  /** Adds the families and tokens of a {@link OAuthState.snapshot}. */
  restore(snapshot: unknown): void {
    const { families, refresh, access } = fromSnapshot(snapshot, this.#now());
    for (const family of families) this.#families.set(family.id, family);
    for (const [token, record] of refresh) this.#refresh.set(token, record);
    for (const [token, record] of access) this.#access.set(token, record);
  }
}
