/**
 * Public types of the token-server emulator.
 * @module
 */

/** The emulated endpoints, used to read counters and logs and to inject faults. */
export type EmulatorEndpoint = 'token' | 'revoke' | 'resource' | 'graphql' | 'product' | 'jwks';

/**
 * One fault to apply to the next request(s) of an endpoint, instead of (or before) normal handling.
 * @example
 * ```ts
 * emulator.inject('token', { status: 503, retryAfter: 2 }, { reset: true });
 * ```
 */
export interface Fault {
  /**
   * Answer with this HTTP status and a JSON body: {@link Fault.body}, or
   * `{ error: 'temporarily_unavailable' }` (`{ error: 'rate_limited' }` for 429).
   */
  status?: number;
  /** `Retry-After` header value: seconds, or an HTTP date. Given alone, the status defaults to 503. */
  retryAfter?: number | string;
  /** JSON body sent with {@link Fault.status}. */
  body?: unknown;
  /** Wait this long (global `setTimeout`, so fake timers drive it), then apply the rest of the fault or handle normally. */
  delayMS?: number;
  /** Never answer: the socket stays open until the client gives up or the emulator closes. */
  hang?: boolean;
  /** Answer 200 with `content-type: application/json` and a truncated JSON body. */
  malformed?: boolean;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /**
   * Handle the request normally (state changes such as a refresh-token rotation happen), then send its
   * JSON answer with these members replaced; a member set to `undefined` is left out. E.g.
   * `{ patch: { expires_in: 0 } }` rotates the refresh token and answers it with an unusable lifetime.
   */
  patch?: Record<string, unknown>;
  /**
   * Handle the request normally, then send its JSON answer (patched first, with {@link Fault.patch})
   * without its last `truncate` characters: a body that is not JSON, which may still show the new tokens.
   */
  truncate?: number;
  /**
   * Handle the request normally first (state changes such as a refresh-token rotation happen),
   * then apply the fault instead of sending the real answer — a lost response.
   * @default false
   */
  afterHandling?: boolean;
  /**
   * How many requests this fault applies to.
   * @default 1
   */
  times?: number;
}

/** Kinds of random fault for soak tests; see {@link Emulator.setRandomFaults}. */
export type RandomFaultKind = '5xx' | 'reset' | 'hang' | 'malformed' | '429' | '401';

/** Settings of random faults. */
export interface RandomFaultOptions {
  /** Probability, in [0, 1], that a request gets a fault. */
  rate: number;
  /** Kinds to draw from, uniformly. */
  kinds: RandomFaultKind[];
  /**
   * Seed of the PRNG, so a run can be replayed.
   * @default 1
   */
  seed?: number;
  /**
   * A random `hang` answers 503 after this many milliseconds, so it stays bounded.
   * @default 30000
   */
  hangMS?: number;
}

/** Live request counters. */
export interface EmulatorCounts {
  /** Every POST to the token endpoint. */
  token: number;
  /** `refresh_token` grant requests, including failed ones. */
  refresh: number;
  /** Token-exchange grant requests, including failed ones. */
  exchange: number;
  /** Token-endpoint answers whose error is `invalid_grant`. */
  invalidGrant: number;
  /** Revocation requests. */
  revoke: number;
  /** Protected-resource requests. */
  resource: number;
  /** Every request to the Forge gateway. */
  graphql: number;
  /** User tokens successfully minted. */
  mint: number;
  /** 429s sent because of the gateway's mint budget (injected faults not included). */
  rateLimited: number;
  /** Product API requests. */
  product: number;
  /** 401s sent by the resource, product API and gateway handlers (injected faults not included). */
  unauthorized: number;
  /** Requests for the invocation-token key set, `/.well-known/jwks.json`. */
  jwks: number;
}

/** Tokens seeded by {@link Emulator.issueTokens}. */
export interface IssuedTokens {
  /** The access token (`at_…`). */
  accessToken: string;
  /** The refresh token (`rt_…`). */
  refreshToken: string;
  /** Lifetime of the access token, in seconds. */
  expiresIn: number;
  /** Space-separated granted scope. */
  scope: string;
  /** Id of the new token family. */
  familyId: string;
  /** Emulator-clock time of issue, in epoch milliseconds. */
  acquiredAtMS: number;
  /** Seconds the grant has left, when `grantLifetimeMS` is finite (as `refresh_token_expires_in` in refresh answers). */
  refreshTokenExpiresIn?: number;
}

/** Options of {@link Emulator.issueTokens}. */
export interface IssueTokensOptions {
  /**
   * Client the tokens belong to.
   * @default the first registered client
   */
  clientId?: string;
  /**
   * Space-separated scope.
   * @default 'read write'
   */
  scope?: string;
  /**
   * Lifetime of the access token, in seconds.
   * @default accessTokenTTLSeconds
   */
  ttlSeconds?: number;
  /**
   * Account the tokens act for (the resource answers it as `sub`).
   * @default the first of `users`, else 'emulator-user'
   */
  subject?: string;
}

/** A snapshot of a refresh-token family (one authorization grant and its rotations). */
export interface TokenFamily {
  /** Family id. */
  id: string;
  /** Client the family belongs to. */
  clientId: string;
  /** The family was revoked (by revocation, a helper, or reuse detection). */
  revoked: boolean;
  /** A rotated-out refresh token of this family was presented. */
  reuseDetected: boolean;
  /**
   * The newest refresh token that is valid now; undefined once none is (revoked, past the grant
   * lifetime, or every branch dead from inactivity).
   */
  currentRefreshToken: string | undefined;
  /** Successful refreshes so far, grace-window reuses included. */
  refreshCount: number;
  /**
   * Live branches: refresh tokens of the family that were never rotated out and are still valid.
   * More than 1 only after a fork (`refreshTokenReuseMode: 'fork'`).
   */
  liveRefreshTokens: number;
  /** Refreshes that a rotated-out token got inside the reuse grace window. */
  graceReuses: number;
  /** Branches added by grace-window reuses in `'fork'` mode (each one forks the family once more). */
  forks: number;
  /** Emulator-clock end of the grant's absolute lifetime, epoch milliseconds; undefined without one. */
  expiresAtMS: number | undefined;
  /** Not revoked, within its lifetime, yet no live refresh token is left (see {@link GrantStats.lostGrants}). */
  lost: boolean;
}

/**
 * Where the token families stand now, for tests of refresh-token lifecycles (reuse grace windows,
 * forks, inactivity). Each family is in exactly one of `revokedFamilies`, `expiredGrants`,
 * `lostGrants` or live.
 */
export interface GrantStats {
  /** Every family issued so far. */
  families: number;
  /** Live families with more than one live branch (refresh token) now. */
  forkedFamilies: number;
  /**
   * Families with no live refresh token left although nobody revoked them and their absolute
   * lifetime has not run out: every branch died from inactivity (`refreshTokenIdleTTLMS`) because
   * nobody refreshed on it in time, for instance because the token a client kept was rotated out
   * and the successor that stayed live was lost in transit or overwritten in its store.
   */
  lostGrants: number;
  /** Families revoked: by revocation, a helper, or reuse detection. */
  revokedFamilies: number;
  /** Families past their absolute lifetime (`grantLifetimeMS`), not revoked. */
  expiredGrants: number;
}

/** State of a token as the emulator sees it. */
export type TokenState = 'active' | 'expired' | 'revoked' | 'rotated' | 'unknown';

/** State of a Forge user token. */
export type UserTokenState = 'active' | 'expired' | 'revoked' | 'unknown';

/** One request as received, with its final status. */
export interface RecordedRequest {
  /** Endpoint that received it. */
  endpoint: EmulatorEndpoint;
  /** HTTP method. */
  method: string;
  /** Request target (path and query). */
  path: string;
  /** Request headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed body (form or JSON); `{}` when empty or unparseable. */
  body: Record<string, unknown>;
  /** Final status; 0 for resets, hangs and requests still pending. */
  status: number;
}

/** Options of {@link ForgeControls.issueSystemToken}. */
export interface IssueSystemTokenOptions {
  /**
   * `installationId` claim.
   * @default 'ari:cloud:ecosystem::installation/<random uuid>'
   */
  installationId?: string;
  /**
   * Lifetime in seconds.
   * @default forge.systemTokenTTLSeconds
   */
  ttlSeconds?: number;
  /**
   * `apiBaseUrl` claim.
   * @default `${productApiUrl(cloudId of contextAri)}`
   */
  apiBaseUrl?: string;
  /**
   * Context the installation owns.
   * @default 'ari:cloud:jira::site/<random uuid>'
   */
  contextAri?: string;
  /**
   * Account ids that may be impersonated in the context.
   * @default '*'
   */
  users?: string[] | '*';
}

/** Test controls of the emulated Forge gateway. */
export interface ForgeControls {
  /**
   * Makes an app system token: an HS256 JWT with `iss`, `iat`, `exp`, `jti`, `installationId`,
   * `apiBaseUrl` and `contextAri` claims, and registers its context for its installation.
   * @returns the JWT.
   */
  issueSystemToken(options?: IssueSystemTokenOptions): string;
  /**
   * Registers a context that any installation may use.
   * @param contextAri - the context ARI.
   * @param users - account ids that may be impersonated there, or `'*'`.
   */
  addContext(contextAri: string, users: string[] | '*'): void;
  /**
   * Makes a system token expired now.
   * @throws Error if the token was not issued by this emulator.
   */
  expireSystemToken(token: string): void;
  /**
   * Makes a user token expired now.
   * @throws Error if the token is unknown.
   */
  expireUserToken(token: string): void;
  /**
   * Revokes a user token.
   * @throws Error if the token is unknown.
   */
  revokeUserToken(token: string): void;
  /** State of a user token. */
  userTokenState(token: string): UserTokenState;
  /** Changes the gateway's mint budget per sliding minute (`Infinity` for none). */
  setMintsPerMinute(n: number): void;
  /** The app id (`ari:cloud:ecosystem::app/<uuid>`) that signed invocations carry as `aud` and `app.id` by default. */
  readonly appId: string;
  /**
   * What Forge sends a remote on an invocation: a Forge Invocation Token signed with the key served
   * at `jwksUrl`, an app system token for the installation, and an invocation id.
   * @throws TypeError for an invalid `ttlSeconds` or `users`.
   */
  signInvocation(options?: IssueInvocationOptions): SignedInvocation;
}

/** Options of {@link ForgeControls.signInvocation}. */
export interface IssueInvocationOptions {
  /**
   * `app.installationId` claim.
   * @default 'ari:cloud:ecosystem::installation/<random uuid>'
   */
  installationId?: string;
  /**
   * The installation's context; `context.cloudId` and the default `apiBaseUrl` come from it.
   * @default 'ari:cloud:jira::site/<random uuid>'
   */
  contextAri?: string;
  /**
   * `app.apiBaseUrl` claim.
   * @default the emulator's product API URL of the context's site
   */
  apiBaseUrl?: string;
  /**
   * `app.id` claim (and `aud`, unless `audience` is given).
   * @default the emulator's `forge.appId`
   */
  appId?: string;
  /** `aud` claim, to make a token meant for another app. */
  audience?: string;
  /** `principal` claim: the invoking user. Absent by default (as for triggers and events). */
  accountId?: string;
  /**
   * Lifetime of the invocation token in seconds; 0 or less makes one that has already expired.
   * @default 60
   */
  ttlSeconds?: number;
  /**
   * Also issue an app system token for the installation (the `x-forge-oauth-system` header).
   * @default true
   */
  systemToken?: boolean;
  /**
   * Account ids the system token may impersonate in the context.
   * @default '*'
   */
  users?: string[] | '*';
}

/** An invocation signed by {@link ForgeControls.signInvocation}. */
export interface SignedInvocation {
  /** The Forge Invocation Token (a JWT). */
  token: string;
  /** The app system token, unless `systemToken: false`. */
  systemToken?: string;
  /** The installation. */
  installationId: string;
  /** The `app.apiBaseUrl` claim. */
  apiBaseUrl: string;
  /** The installation's context. */
  contextAri: string;
  /** The `app.id` claim. */
  appId: string;
  /** The `x-forge-invocation-id` header. */
  invocationId: string;
  /** The request headers of the invocation: `authorization`, `x-forge-oauth-system`, `x-forge-invocation-id`. */
  headers: Record<string, string>;
}

/**
 * A JSON-serialisable snapshot of what the emulator remembers: token families, refresh, access and
 * exchanged tokens, Forge contexts and user tokens. {@link Emulator.exportState} makes one;
 * `startEmulator({ state })` restores it, so that a restarted emulator still knows the tokens a
 * restarted client kept in its store. App system tokens are not kept: they are signed for the old
 * URL, and Forge hands out new ones anyway.
 */
export interface EmulatorState {
  /** Format version. */
  version: 1;
  /** Authorization-server state. */
  oauth: unknown;
  /** Forge gateway state. */
  forge: unknown;
}

/** An installation as `GET /v1/installations` of the emulated egress proxy lists it. */
export interface EgressInstallation {
  /** The installation id (a uuid). */
  id: string;
  /** Its context ARI, e.g. `ari:cloud:jira::site/{cloudId}`. */
  installationContext: string;
  /** The app version installed. */
  version: string;
  /** Further contexts (none in the emulator). */
  secondaryInstallationContexts: string[];
}

/** One request the emulated egress proxy received. */
export interface EgressRequest {
  /** HTTP method. */
  method: string;
  /** Request target (path and query). */
  path: string;
  /** Every `forge-proxy-authorization` header the request carried, in order (a correct client sends at most one). */
  proxyAuthorization: string[];
  /** Whether it carried an `Authorization` header. */
  authorization: boolean;
  /** Final status. */
  status: number;
  /** Whom it acted as, when authorized: the app or a user. */
  as?: 'app' | 'user';
  /** The account impersonated (null for the app), when authorized. */
  accountId?: string | null;
  /** The installation it acted for, when authorized. */
  installationId?: string;
  /** What identified the installation: an invocation id, an installation id, or a minted user token. */
  via?: 'invocation' | 'installation' | 'token';
}

/** Test controls of the emulated Forge Containers egress proxy. */
export interface EgressControls {
  /**
   * Registers an installation of the app (listed by `/v1/installations`; its context is open to
   * impersonation of `users`).
   * @throws TypeError for invalid `users`.
   */
  addInstallation(options?: { id?: string; contextAri?: string; users?: string[] | '*'; version?: string }): EgressInstallation;
  /**
   * Starts an invocation of the app's container for an installation, optionally by a user.
   * @returns the invocation id (the `x-forge-invocation-id` header the container would receive).
   * @throws Error for an unknown installation.
   */
  startInvocation(options: { installationId: string; accountId?: string }): string;
  /** Changes the limit of `GET /v1/installations` per sliding minute (default 100). */
  setInstallationsPerMinute(n: number): void;
  /** Every request received, oldest first. */
  requests(): EgressRequest[];
  /** Forgets the recorded requests. */
  resetRequests(): void;
}
