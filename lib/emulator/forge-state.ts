/**
 * Forge state of the emulator: contexts and who may be impersonated in them, app system tokens
 * (HS256 JWTs), minted user tokens, and the per-app mint budget.
 * @module
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify } from 'jose';
import { assertNumber, assertUsers, type ResolvedEmulatorOptions } from './options.js';
import { randomToken, type Clock } from './http.js';
import type { IssueSystemTokenOptions, UserTokenState } from './types.js';

/** Length of the gateway's sliding rate-limit window, in milliseconds. */
export const MINT_WINDOW_MS = 60_000;

interface ContextRecord {
  users: string[] | '*';
  /** Registered with addContext or the options: any installation may use it. */
  open: boolean;
  /** Installations that own it (registered by issueSystemToken). */
  owners: Set<string>;
}

/** A minted user token. */
export interface UserTokenRecord {
  /** Account impersonated. */
  accountId: string;
  /** Installation that minted it. */
  installationId: string;
  /** Contexts it was minted for. */
  contextIds: string[];
  /** Emulator-clock expiry, epoch milliseconds. */
  expiresAtMS: number;
  /** Revoked by a test. */
  revoked: boolean;
}

/**
 * The cloud id and product of a context ARI such as `ari:cloud:jira::site/{cloudId}` or
 * `ari:cloud:jira:{cloudId}:workspace/{id}`.
 */
export function parseContextAri(ari: string): { product: 'jira' | 'confluence'; cloudId: string } | undefined {
  const match = /^ari:cloud:([a-z-]+):([^:]*):(?:site\/([^/]+)|.*)$/.exec(ari);
  if (!match) return undefined;
  const cloudId = match[3] ?? match[2];
  if (!cloudId) return undefined;
  return { product: match[1] === 'confluence' ? 'confluence' : 'jira', cloudId };
}

function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Forge-side state of one emulator. */
export class ForgeState {
  readonly #options: ResolvedEmulatorOptions;
  readonly #now: Clock;
  readonly #url: string;
  readonly #secret = randomBytes(32);
  readonly #contexts = new Map<string, ContextRecord>();
  /** Issued system tokens; `verified` caches the claims of one whose signature has been checked. */
  readonly #systemTokens = new Map<string, { expired: boolean; verified?: { installationId: string | undefined; expMS: number } }>();
  readonly #userTokens = new Map<string, UserTokenRecord>();
  /** Admission times, oldest first, from index #windowHead on (a queue: no copy per request). */
  #window: number[] = [];
  #windowHead = 0;
  #mintsPerMinute: number;
  #successes = 0;

  /**
   * @param options - resolved emulator options.
   * @param now - the emulator clock.
   * @param url - base URL of the emulator (the JWT issuer and the default `apiBaseUrl` host).
   */
  constructor(options: ResolvedEmulatorOptions, now: Clock, url: string) {
    this.#options = options;
    this.#now = now;
    this.#url = url;
    this.#mintsPerMinute = options.forge.mintsPerMinute;
    for (const [ari, users] of Object.entries(options.forge.contexts)) this.addContext(ari, users);
  }

  /** A JSON-serialisable copy of the contexts and user tokens (system tokens are left out: they are signed for this URL). */
  snapshot(): unknown {
    return {
      contexts: [...this.#contexts.entries()].map(([ari, c]) => [ari, { users: c.users, open: c.open, owners: [...c.owners] }]),
      userTokens: [...this.#userTokens.entries()].map(([token, u]) => [token, { ...u, contextIds: [...u.contextIds] }]),
    };
  }

  /** Adds the contexts and user tokens of a {@link ForgeState.snapshot}. */
  restore(snapshot: unknown): void {
    const s = snapshot as {
      contexts: Array<[string, { users: string[] | '*'; open: boolean; owners: string[] }]>;
      userTokens: Array<[string, UserTokenRecord]>;
    };
    for (const [ari, c] of s.contexts) this.#contexts.set(ari, { users: c.users, open: c.open, owners: new Set(c.owners) });
    for (const [token, u] of s.userTokens) this.#userTokens.set(token, { ...u });
  }

  /** Registers a context open to every installation. */
  addContext(contextAri: string, users: string[] | '*'): void {
    if (typeof contextAri !== 'string' || contextAri.length === 0) throw new TypeError('Expected `contextAri` to be a non-empty string');
    const record = this.#contexts.get(contextAri);
    const checked = assertUsers('users', users);
    if (record) Object.assign(record, { users: checked, open: true });
    else this.#contexts.set(contextAri, { users: checked, open: true, owners: new Set() });
  }

  /**
   * Signs an app system token and registers its context for its installation. Signing is
   * synchronous (node:crypto HMAC) so the helper can return the token directly; verification
   * uses `jose`.
   */
  issueSystemToken(options: IssueSystemTokenOptions = {}): string {
    const installationId = options.installationId ?? `ari:cloud:ecosystem::installation/${randomUUID()}`;
    const contextAri = options.contextAri ?? `ari:cloud:jira::site/${randomUUID()}`;
    const ttl = assertNumber('ttlSeconds', options.ttlSeconds ?? this.#options.forge.systemTokenTTLSeconds, 0);
    const users = assertUsers('users', options.users ?? '*');
    const parsed = parseContextAri(contextAri);
    const apiBaseUrl = options.apiBaseUrl ?? (parsed ? `${this.#url}/ex/${parsed.product}/${parsed.cloudId}` : this.#url);
    const record = this.#contexts.get(contextAri);
    if (record) {
      record.owners.add(installationId);
      record.users = users;
    } else {
      this.#contexts.set(contextAri, { users, open: false, owners: new Set([installationId]) });
    }
    const iat = Math.floor(this.#now() / 1000);
    const payload = { iss: this.#url, iat, exp: iat + Math.round(ttl), jti: randomUUID(), installationId, apiBaseUrl, contextAri };
    const signingInput = `${encodeSegment({ alg: 'HS256', typ: 'JWT' })}.${encodeSegment(payload)}`;
    const token = `${signingInput}.${createHmac('sha256', this.#secret).update(signingInput).digest('base64url')}`;
    this.#systemTokens.set(token, { expired: false });
    return token;
  }

  /**
   * Marks a system token expired.
   * @throws Error when this emulator did not issue it.
   */
  expireSystemToken(token: string): void {
    const record = this.#systemTokens.get(token);
    if (!record) throw new Error('expireSystemToken: unknown system token');
    record.expired = true;
  }

  /**
   * The installation of a valid (issued here, signed, unexpired) system token. The signature is
   * checked with `jose` the first time a token is presented; its claims are then kept, and later
   * requests check only the expiry (a real gateway's verification cost is not ours to emulate).
   */
  async verifySystemToken(token: string): Promise<string | undefined> {
    const record = this.#systemTokens.get(token);
    if (!record || record.expired) return undefined;
    if (record.verified === undefined) {
      try {
        const { payload } = await jwtVerify(token, this.#secret, {
          issuer: this.#url,
          algorithms: ['HS256'],
          currentDate: new Date(this.#now()),
          requiredClaims: ['exp', 'iat'],
        });
        record.verified = {
          installationId: typeof payload.installationId === 'string' ? payload.installationId : undefined,
          expMS: payload.exp! * 1000,
        };
      } catch {
        return undefined;
      }
    }
    return this.#now() < record.verified.expMS ? record.verified.installationId : undefined;
  }

  /**
   * Admits one mint request into the sliding window.
   * @returns `undefined` when admitted, else the `Retry-After` seconds (>= 1).
   */
  admit(): number | undefined {
    const now = this.#now();
    while (this.#windowHead < this.#window.length && this.#window[this.#windowHead]! <= now - MINT_WINDOW_MS) this.#windowHead++;
    if (this.#windowHead > 1024 && this.#windowHead * 2 > this.#window.length) {
      this.#window = this.#window.slice(this.#windowHead);
      this.#windowHead = 0;
    }
    if (this.#window.length - this.#windowHead >= this.#mintsPerMinute) {
      const frees = this.#window[this.#windowHead]! + MINT_WINDOW_MS;
      return Math.max(1, Math.ceil((frees - now) / 1000));
    }
    this.#window.push(now);
    return undefined;
  }

  /** Changes the mint budget. */
  setMintsPerMinute(n: number): void {
    this.#mintsPerMinute = assertNumber('mintsPerMinute', n, 0, true);
  }

  /** Whether `installationId` may impersonate `userId` in every one of `contextIds`. */
  mayImpersonate(installationId: string, contextIds: string[], userId: string): boolean {
    const known = this.#options.users;
    if (known && !known.includes(userId)) return false;
    return contextIds.every((ari) => {
      const context = this.#contexts.get(ari);
      if (!context || !(context.open || context.owners.has(installationId))) return false;
      return context.users === '*' || context.users.includes(userId);
    });
  }

  /** Mints a user token. `errors` alternates between `null` and `[]`, as both are seen. */
  mint(installationId: string, contextIds: string[], accountId: string): { token: string; ttl: number; errors: [] | null } {
    const ttl = this.#options.forge.userTokenTTLSeconds;
    const token = randomToken('ut_');
    this.#userTokens.set(token, {
      accountId,
      installationId,
      contextIds: [...contextIds],
      expiresAtMS: this.#now() + ttl * 1000,
      revoked: false,
    });
    this.#successes += 1;
    return { token, ttl, errors: this.#successes % 2 === 1 ? null : [] };
  }

  /** The record of a user token when it is active now. */
  activeUserToken(token: string): UserTokenRecord | undefined {
    const record = this.#userTokens.get(token);
    return record && this.userTokenState(token) === 'active' ? record : undefined;
  }

  /** State of a user token. */
  userTokenState(token: string): UserTokenState {
    const record = this.#userTokens.get(token);
    if (!record) return 'unknown';
    if (record.revoked) return 'revoked';
    return this.#now() >= record.expiresAtMS ? 'expired' : 'active';
  }

  #userToken(token: string, helper: string): UserTokenRecord {
    const record = this.#userTokens.get(token);
    if (!record) throw new Error(`${helper}: unknown user token`);
    return record;
  }

  /**
   * Makes a user token expired now.
   * @throws Error when the token is unknown.
   */
  expireUserToken(token: string): void {
    const record = this.#userToken(token, 'expireUserToken');
    record.expiresAtMS = Math.min(record.expiresAtMS, this.#now());
  }

  /**
   * Revokes a user token.
   * @throws Error when the token is unknown.
   */
  revokeUserToken(token: string): void {
    this.#userToken(token, 'revokeUserToken').revoked = true;
  }
}
