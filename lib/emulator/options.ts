/**
 * Options of the token-server emulator, their defaults, and their validation.
 * @module
 */
import type { EmulatorState } from './types.js';

/** Default host the emulator listens on. */
export const DEFAULT_EMULATOR_HOST = '127.0.0.1';
/** Default port: 0 lets the OS choose an ephemeral port. */
export const DEFAULT_EMULATOR_PORT = 0;
/** Default client id registered with the emulator. */
export const DEFAULT_CLIENT_ID = 'test-client';
/** Default client secret of {@link DEFAULT_CLIENT_ID}. */
export const DEFAULT_CLIENT_SECRET = 'test-secret';
/** Default lifetime of access tokens, in seconds. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 3600;
/** Default scope of token families seeded by `issueTokens`. */
export const DEFAULT_SCOPE = 'read write';
/** Default lifetime of Forge user tokens, in seconds (public mocks use 3600). */
export const DEFAULT_USER_TOKEN_TTL_SECONDS = 3600;
/** Default lifetime of Forge app system tokens, in seconds. */
export const DEFAULT_SYSTEM_TOKEN_TTL_SECONDS = 3600;
/**
 * Default per-app mint budget of the emulated Forge gateway, per sliding minute: unlimited, so that
 * tests see the client's own rate limit (`DEFAULT_MINTS_PER_MINUTE` of `persistent-session/defaults`,
 * 1,000) unless they set `forge.mintsPerMinute`.
 */
export const DEFAULT_EMULATOR_MINTS_PER_MINUTE = Number.POSITIVE_INFINITY;
/** Default delay before a random `hang` fault answers 503, in milliseconds. */
export const DEFAULT_RANDOM_HANG_MS = 30_000;
/** Maximum number of requests kept in the request log (oldest dropped first). */
export const REQUEST_LOG_CAP = 10_000;

/** What a refresh with a rotated-out token answers inside the reuse grace window; see {@link EmulatorOptions.refreshTokenReuseMode}. */
export type RefreshTokenReuseMode = 'same' | 'fork';

/** A client registered with the emulator. */
export interface EmulatorClient {
  /** The OAuth `client_id`. */
  clientId: string;
  /** The client secret. Without one the client is public (token endpoint auth method `none`). */
  clientSecret?: string;
}

/** Options of the emulated Forge GraphQL gateway. */
export interface ForgeEmulatorOptions {
  /**
   * Lifetime (`ttl`) of minted user tokens, in seconds.
   * @default 3600
   */
  userTokenTTLSeconds?: number;
  /**
   * Per-app budget of mint requests in a sliding 60 s window. Past it the gateway answers
   * 429 with `Retry-After` (seconds until the window frees, at least 1).
   * @default DEFAULT_EMULATOR_MINTS_PER_MINUTE (Infinity)
   */
  mintsPerMinute?: number;
  /**
   * Context ARI → account ids that may be impersonated in it (`'*'` for anyone).
   * `issueSystemToken` registers more.
   * @default {}
   */
  contexts?: Record<string, string[] | '*'>;
  /**
   * Lifetime of app system tokens made by `issueSystemToken`, in seconds.
   * @default 3600
   */
  systemTokenTTLSeconds?: number;
}

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /**
   * Host to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port to listen on; 0 picks an ephemeral port.
   * @default 0
   */
  port?: number;
  /**
   * Registered clients.
   * @default [{ clientId: 'test-client', clientSecret: 'test-secret' }]
   */
  clients?: EmulatorClient[];
  /**
   * Lifetime of access tokens, in seconds.
   * @default 3600
   */
  accessTokenTTLSeconds?: number;
  /**
   * Issue a new refresh token on every refresh and retire the presented one.
   * @default true
   */
  rotateRefreshTokens?: boolean;
  /**
   * Presenting a rotated-out refresh token revokes its whole family (access tokens too).
   * @default true
   * @see https://datatracker.ietf.org/doc/html/rfc9700#section-4.14.2
   */
  reuseDetection?: boolean;
  /**
   * Refresh answers carry no `refresh_token`; the presented one stays valid.
   * @default false
   * @see https://datatracker.ietf.org/doc/html/rfc6749#section-6
   */
  omitRefreshToken?: boolean;
  /**
   * A rotated-out refresh token is still accepted for this long after it was rotated out, as
   * Atlassian (10 minutes), Okta (30 s by default) and Cognito (up to 60 s) do, so that
   * concurrent refreshes and retries after a lost answer don't fail. {@link EmulatorOptions.refreshTokenReuseMode}
   * decides what such a reuse hands out. After the window a reuse is treated as without one
   * ({@link EmulatorOptions.reuseDetection}, else `invalid_grant`). Needs rotation to matter.
   * @default 0 (no window)
   */
  refreshTokenReuseGraceMS?: number;
  /**
   * What a reuse inside {@link EmulatorOptions.refreshTokenReuseGraceMS} answers:
   * - `'same'` (Okta, Atlassian): the refresh token the first use got, identical, with a new access
   *   token; the family does not fork. That successor's inactivity clock restarts.
   * - `'fork'` (Auth0): a different new refresh token each time, so the family forks into live
   *   branches that can each be refreshed on; {@link Emulator.grantStats} counts forked families.
   * @default 'same'
   */
  refreshTokenReuseMode?: RefreshTokenReuseMode;
  /**
   * A refresh token not used for this long is dead (`invalid_grant`, "expired from inactivity").
   * The successor a refresh hands out starts a new clock; without rotation the presented token's
   * clock restarts. Rotated-out tokens are governed by the reuse grace window instead. Must be
   * longer than {@link EmulatorOptions.refreshTokenReuseGraceMS}.
   * @default Infinity (no inactivity expiry)
   */
  refreshTokenIdleTTLMS?: number;
  /**
   * Absolute lifetime of a grant (a token family), counted from its issue; refreshing does not
   * extend it (Atlassian: 365 days). Past it every refresh of the family fails with
   * `invalid_grant`. When finite, refresh answers (and {@link IssuedTokens}) report the time left
   * in `refresh_token_expires_in`, in whole seconds rounded down.
   * @default Infinity (no limit, no `refresh_token_expires_in`)
   */
  grantLifetimeMS?: number;
  /**
   * A refresh hands back the access token it issued last, unexpired and unrevoked, with the same
   * scope and its remaining lifetime (whole seconds, rounded down) as `expires_in`, unless that token
   * is within its last `reissueWithinSeconds`; only then does it issue a new one. Refresh tokens
   * rotate as usual. Against such a server, a client whose refresh window is longer than the server's
   * gets the same token back again and again (the loop of a refresh margin longer than the reissue window).
   * @default Infinity (every refresh issues a new access token)
   */
  reissueWithinSeconds?: number;
  /**
   * The emulator's clock is `Date.now() + clockOffsetMS`; it drives every expiry and budget
   * and the `Date` response header. For clock-skew tests.
   * @default 0
   */
  clockOffsetMS?: number;
  /**
   * Account ids known to the server (token-exchange `requested_subject`, Forge impersonation).
   * When unset, any non-empty id is accepted.
   * @default undefined
   */
  users?: string[];
  /** Options of the emulated Forge gateway. */
  forge?: ForgeEmulatorOptions;
  /**
   * A snapshot from {@link Emulator.exportState} to start from.
   * @default undefined (an empty emulator)
   */
  state?: EmulatorState;
}

/** Options with every default applied. */
export interface ResolvedEmulatorOptions {
  /** See {@link EmulatorOptions.host}. */
  host: string;
  /** See {@link EmulatorOptions.port}. */
  port: number;
  /** See {@link EmulatorOptions.clients}. */
  clients: EmulatorClient[];
  /** See {@link EmulatorOptions.accessTokenTTLSeconds}. */
  accessTokenTTLSeconds: number;
  /** See {@link EmulatorOptions.rotateRefreshTokens}. */
  rotateRefreshTokens: boolean;
  /** See {@link EmulatorOptions.reuseDetection}. */
  reuseDetection: boolean;
  /** See {@link EmulatorOptions.omitRefreshToken}. */
  omitRefreshToken: boolean;
  /** See {@link EmulatorOptions.refreshTokenReuseGraceMS}. */
  refreshTokenReuseGraceMS: number;
  /** See {@link EmulatorOptions.refreshTokenReuseMode}. */
  refreshTokenReuseMode: RefreshTokenReuseMode;
  /** See {@link EmulatorOptions.refreshTokenIdleTTLMS}. */
  refreshTokenIdleTTLMS: number;
  /** See {@link EmulatorOptions.grantLifetimeMS}. */
  grantLifetimeMS: number;
  /** See {@link EmulatorOptions.reissueWithinSeconds}. */
  reissueWithinSeconds: number;
  /** See {@link EmulatorOptions.clockOffsetMS}. */
  clockOffsetMS: number;
  /** See {@link EmulatorOptions.users}. */
  users: string[] | undefined;
  /** See {@link ForgeEmulatorOptions}. */
  forge: Required<ForgeEmulatorOptions>;
  /** See {@link EmulatorOptions.state}. */
  state: EmulatorState | undefined;
}

function describe(value: unknown): string {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  return `\`${shown}\` (${value === null ? 'null' : typeof value})`;
}

/**
 * Checks that `value` is a finite number >= `min` (or `Infinity` when allowed).
 * @throws TypeError naming the option and the value received.
 */
export function assertNumber(name: string, value: unknown, min: number, allowInfinity = false): number {
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    value >= min &&
    (Number.isFinite(value) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) {
    const what = allowInfinity ? `a number >= ${min} or Infinity` : `a finite number >= ${min}`;
    throw new TypeError(`Expected \`${name}\` to be ${what}, got ${describe(value)}`);
  }
  return value;
}

function assertBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  return value;
}

function assertReuseMode(value: unknown): RefreshTokenReuseMode {
  if (value !== 'same' && value !== 'fork') {
    throw new TypeError(`Expected \`refreshTokenReuseMode\` to be 'same' or 'fork', got ${describe(value)}`);
  }
  return value;
}

/** The refresh-token lifecycle options, checked against each other. */
function resolveRefreshLifecycle(
  options: EmulatorOptions,
): Pick<ResolvedEmulatorOptions, 'refreshTokenReuseGraceMS' | 'refreshTokenReuseMode' | 'refreshTokenIdleTTLMS' | 'grantLifetimeMS'> {
  const graceMS = assertNumber('refreshTokenReuseGraceMS', options.refreshTokenReuseGraceMS ?? 0, 0);
  const mode = assertReuseMode(options.refreshTokenReuseMode ?? 'same');
  const idleMS = assertNumber('refreshTokenIdleTTLMS', options.refreshTokenIdleTTLMS ?? Number.POSITIVE_INFINITY, 1, true);
  const lifetimeMS = assertNumber('grantLifetimeMS', options.grantLifetimeMS ?? Number.POSITIVE_INFINITY, 1, true);
  if (mode === 'fork' && graceMS === 0) {
    throw new TypeError("Expected `refreshTokenReuseGraceMS` to be > 0 with `refreshTokenReuseMode` 'fork', got `0` (number)");
  }
  // A successor handed out inside the window must still be alive when a reuse hands it out again.
  if (idleMS <= graceMS) {
    const what = `longer than \`refreshTokenReuseGraceMS\` (${graceMS})`;
    throw new TypeError(`Expected \`refreshTokenIdleTTLMS\` to be ${what}, got ${describe(idleMS)}`);
  }
  return { refreshTokenReuseGraceMS: graceMS, refreshTokenReuseMode: mode, refreshTokenIdleTTLMS: idleMS, grantLifetimeMS: lifetimeMS };
}

function assertId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/**
 * Checks a users list (`'*'` or an array of non-empty ids).
 * @throws TypeError naming the option.
 */
export function assertUsers(name: string, users: unknown): string[] | '*' {
  if (users === '*') return users;
  if (!Array.isArray(users)) throw new TypeError(`Expected \`${name}\` to be '*' or an array of account ids, got ${describe(users)}`);
  for (const [index, user] of users.entries()) assertId(`${name}[${index}]`, user);
  return [...users] as string[];
}

function assertState(state: unknown): EmulatorState | undefined {
  if (state === undefined) return undefined;
  const s = state as Partial<EmulatorState> | null;
  if (s === null || typeof s !== 'object' || s.version !== 1 || typeof s.oauth !== 'object' || typeof s.forge !== 'object') {
    throw new TypeError(`Expected \`state\` to be a snapshot from exportState() (version 1), got ${describe(state)}`);
  }
  return s as EmulatorState;
}

/**
 * Applies the defaults and validates every option.
 * @throws TypeError with a precise message for the first invalid option.
 */
export function resolveOptions(options: EmulatorOptions = {}): ResolvedEmulatorOptions {
  const clients = options.clients ?? [{ clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }];
  if (!Array.isArray(clients) || clients.length === 0) {
    throw new TypeError(`Expected \`clients\` to be a non-empty array, got ${describe(clients)}`);
  }
  const seen = new Set<string>();
  clients.forEach((client, index) => {
    const id = assertId(`clients[${index}].clientId`, client?.clientId);
    if (seen.has(id)) throw new TypeError(`Expected \`clients\` to have unique ids, got \`${id}\` twice`);
    seen.add(id);
    if (client.clientSecret !== undefined) assertId(`clients[${index}].clientSecret`, client.clientSecret);
  });
  const forge = options.forge ?? {};
  const contexts: Record<string, string[] | '*'> = {};
  for (const [ari, users] of Object.entries(forge.contexts ?? {})) {
    contexts[assertId('forge.contexts key', ari)] = assertUsers(`forge.contexts['${ari}']`, users);
  }
  const users = options.users === undefined ? undefined : assertUsers('users', options.users);
  if (users === '*') throw new TypeError("Expected `users` to be an array of account ids, got `'*'` (string)");
  const port = assertNumber('port', options.port ?? DEFAULT_EMULATOR_PORT, 0);
  if (!Number.isInteger(port) || port > 65_535)
    throw new TypeError(`Expected \`port\` to be an integer in 0..65535, got ${describe(port)}`);
  return {
    host: assertId('host', options.host ?? DEFAULT_EMULATOR_HOST),
    port,
    clients: clients.map((client) => ({ ...client })),
    accessTokenTTLSeconds: assertNumber('accessTokenTTLSeconds', options.accessTokenTTLSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS, 0),
    rotateRefreshTokens: assertBoolean('rotateRefreshTokens', options.rotateRefreshTokens ?? true),
    reuseDetection: assertBoolean('reuseDetection', options.reuseDetection ?? true),
    omitRefreshToken: assertBoolean('omitRefreshToken', options.omitRefreshToken ?? false),
    ...resolveRefreshLifecycle(options),
    reissueWithinSeconds: assertNumber('reissueWithinSeconds', options.reissueWithinSeconds ?? Number.POSITIVE_INFINITY, 0, true),
    clockOffsetMS: assertNumber('clockOffsetMS', options.clockOffsetMS ?? 0, Number.NEGATIVE_INFINITY),
    users,
    forge: {
      userTokenTTLSeconds: assertNumber('forge.userTokenTTLSeconds', forge.userTokenTTLSeconds ?? DEFAULT_USER_TOKEN_TTL_SECONDS, 0),
      mintsPerMinute: assertNumber('forge.mintsPerMinute', forge.mintsPerMinute ?? DEFAULT_EMULATOR_MINTS_PER_MINUTE, 0, true),
      contexts,
      systemTokenTTLSeconds: assertNumber(
        'forge.systemTokenTTLSeconds',
        forge.systemTokenTTLSeconds ?? DEFAULT_SYSTEM_TOKEN_TTL_SECONDS,
        0,
      ),
    },
    state: assertState(options.state),
  };
}
