/**
 * The interface of a running emulator.
 * @module
 */
import type {
  EgressControls,
  EmulatorCounts,
  EmulatorEndpoint,
  Fault,
  ForgeControls,
  EmulatorState,
  GrantStats,
  IssuedTokens,
  IssueTokensOptions,
  RandomFaultOptions,
  RecordedRequest,
  TokenFamily,
  TokenState,
} from './types.js';

/**
 * A running emulator of the token servers (OAuth authorization server, protected resource,
 * Forge GraphQL gateway and product APIs) on a real HTTP port.
 * @example
 * ```ts
 * const emulator = await startEmulator();
 * const tokens = emulator.issueTokens();
 * emulator.inject('token', { status: 503, retryAfter: 1 });
 * // … exercise the client against emulator.tokenEndpoint …
 * expect(emulator.counts.refresh).to.equal(2);
 * await emulator.close();
 * ```
 */
export interface Emulator {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /**
   * Token endpoint, `${url}/oauth/token`.
   * @see https://datatracker.ietf.org/doc/html/rfc6749#section-3.2
   */
  readonly tokenEndpoint: string;
  /**
   * Revocation endpoint, `${url}/oauth/revoke`.
   * @see https://datatracker.ietf.org/doc/html/rfc7009
   */
  readonly revocationEndpoint: string;
  /** Protected resource, `${url}/api/resource`. */
  readonly resourceUrl: string;
  /** Forge GraphQL gateway, `${url}/graphql`. */
  readonly graphqlUrl: string;
  /** Key set of the Forge Invocation Tokens it signs (`forge.signInvocation`), `${url}/.well-known/jwks.json`. */
  readonly jwksUrl: string;
  /**
   * Base URL of a product API for a site.
   * @param cloudId - the site's cloud id.
   * @param product - `'jira'` (default) or `'confluence'`.
   * @returns `${url}/ex/${product}/${cloudId}`.
   */
  productApiUrl(cloudId: string, product?: 'jira' | 'confluence'): string;
  /** Live counters (the same object keeps counting). */
  readonly counts: EmulatorCounts;
  /** Sets every counter back to 0. */
  resetCounts(): void;
  /**
   * The request log, newest last, capped at 10,000 entries.
   * @param endpoint - only requests of this endpoint.
   */
  requests(endpoint?: EmulatorEndpoint): RecordedRequest[];
  /** The newest request of an endpoint. */
  lastRequest(endpoint: EmulatorEndpoint): RecordedRequest | undefined;
  /**
   * Seeds a new token family as if an authorization-code grant had happened.
   * @throws TypeError for an unknown client or an invalid ttl.
   */
  issueTokens(options?: IssueTokensOptions): IssuedTokens;
  /**
   * Makes an access (or exchanged) token expired now.
   * @throws Error when the token is unknown.
   */
  expireAccessToken(accessToken: string): void;
  /**
   * Revokes a token behind the client's back: a refresh token revokes its whole family, an
   * access token only itself, a Forge user token only itself.
   * @throws Error when the token is unknown.
   */
  revokeToken(token: string): void;
  /** State of an access, exchanged, refresh or Forge user token. */
  tokenState(token: string): TokenState;
  /** A snapshot of a family, by id or by any of its tokens. */
  family(tokenOrFamilyId: string): TokenFamily | undefined;
  /** Snapshots of every family, oldest first. */
  families(): TokenFamily[];
  /**
   * Where the token families stand now: forked (more than one live branch), lost (no live refresh
   * token left though nobody revoked them), revoked, past their lifetime. For the refresh-token
   * lifecycle options (`refreshTokenReuseGraceMS`, `refreshTokenReuseMode`, `refreshTokenIdleTTLMS`,
   * `grantLifetimeMS`).
   * @example
   * ```ts
   * const emulator = await startEmulator({ refreshTokenReuseGraceMS: 60_000, refreshTokenReuseMode: 'fork' });
   * // … two workers refresh with the same refresh token inside the window …
   * expect(emulator.grantStats()).to.include({ forkedFamilies: 1, lostGrants: 0 });
   * ```
   */
  grantStats(): GrantStats;
  /**
   * Queues faults; each applies to the next request(s) of that endpoint, in order, before
   * random faults and normal handling.
   * @throws TypeError for an invalid fault.
   */
  inject(endpoint: EmulatorEndpoint, ...faults: Fault[]): void;
  /**
   * Random faults for soak tests, from a seeded PRNG; `undefined` turns them off. A specific
   * endpoint's setting wins over `'*'`. A random `hang` answers 503 after `hangMS`.
   * @throws TypeError for invalid options.
   */
  setRandomFaults(endpoint: EmulatorEndpoint | '*', options: RandomFaultOptions | undefined): void;
  /** Drops every queued and random fault. */
  clearFaults(): void;
  /** Controls of the emulated Forge gateway. */
  readonly forge: ForgeControls;
  /**
   * The emulated Forge Containers egress proxy (what `FORGE_EGRESS_PROXY_URL` points at), on a
   * port of its own: `/jira/…`, `/confluence/…`, `/atlassian/graphql/`, `/v1/installations`.
   */
  readonly egressProxyUrl: string;
  /** Controls and request log of the emulated egress proxy. */
  readonly egress: EgressControls;
  /**
   * A snapshot of the tokens and grants the emulator knows, for `startEmulator({ state })`.
   * It holds live tokens: store it like a token store.
   */
  exportState(): EmulatorState;
  /** Closes the server and destroys every open socket, hanging ones included. Idempotent. */
  close(): Promise<void>;
}
