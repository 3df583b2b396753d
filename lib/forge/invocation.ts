/**
 * `handleInvocation`: the first thing a Forge remote does with a request. It verifies the Forge
 * Invocation Token, reads the installation, `apiBaseUrl` and context from its claims, and remembers
 * the app system token the request brought — in one call, and only for a verified request.
 *
 * @module
 */
import { InvalidArgumentError, InvocationTokenError, describeValue } from '../errors.js';
import { checkFunction, checkKnownKeys, checkNumber, checkObject, checkString, checkUrl } from '../util/validate.js';
import type { SystemTokenCache } from './system-token-cache.js';

/** Where Forge publishes the keys that sign invocation tokens. */
export const DEFAULT_FORGE_JWKS_URL = 'https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json';

/** The `iss` claim of every Forge Invocation Token. */
export const FORGE_INVOCATION_ISSUER = 'forge/invocation-token';

/** Headers as a plain object, Node's `req.headers` style (names in any case). */
export type PlainHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Headers with a `get`, as a Fetch `Headers`. */
export interface HeaderGetterLike {
  /** The value of the header `name`, or null. */
  get(name: string): string | null;
}

/** A request carrying its headers: Node's `IncomingMessage`, a Fetch `Request`. */
export interface RequestLike {
  /** The request's headers. */
  readonly headers: PlainHeaders | HeaderGetterLike;
}

/** The headers of an incoming request: a plain object (Node's `req.headers`), a Fetch `Headers`, or a request carrying either. */
export type InvocationHeaders = PlainHeaders | HeaderGetterLike | RequestLike;

/** Options of {@link handleInvocation}. */
export interface HandleInvocationOptions {
  /** The app id, `ari:cloud:ecosystem::app/<uuid>` (`app.id` in manifest.yml): the token's `aud` must be it. */
  appId: string;
  /**
   * The key set the token must be signed with.
   * @default DEFAULT_FORGE_JWKS_URL
   */
  jwksUrl?: string;
  /** Where the request's `x-forge-oauth-system` token is remembered; without it, the token is not kept. */
  systemTokens?: SystemTokenCache;
  /**
   * Leeway for `exp` and `nbf`, in seconds, for clocks that differ a little.
   * @default 5
   */
  clockToleranceSeconds?: number;
  /**
   * Clock, for tests.
   * @default Date.now
   */
  now?: () => number;
}

/** What a verified invocation says. */
export interface ForgeInvocation {
  /** `app.id`. */
  appId: string;
  /** `app.installationId`: key your remote's storage by it (it changes on reinstall). */
  installationId: string;
  /** `app.apiBaseUrl`, e.g. `https://api.atlassian.com/ex/jira/{cloudId}`: the base of product API calls (not the site URL). */
  apiBaseUrl: string;
  /** `context` (for UI invocations: the module, the site's `cloudId`, …); undefined for triggers and events. */
  context: Readonly<Record<string, unknown>> | undefined;
  /** `context.cloudId`, when present. */
  cloudId: string | undefined;
  /** `principal`: the account of the user who invoked the app (UI modules only). */
  principal: string | undefined;
  /** The `x-forge-invocation-id` header, when present. */
  invocationId: string | undefined;
  /**
   * What happened to the `x-forge-oauth-system` token: `remembered` (it is now the one held),
   * `superseded` (a later-expiring one is held), `absent` (no header) or `ignored` (no `systemTokens` given).
   */
  systemToken: 'remembered' | 'superseded' | 'absent' | 'ignored';
  /** Every verified claim. */
  claims: Readonly<Record<string, unknown>>;
}

const KNOWN = ['appId', 'jwksUrl', 'systemTokens', 'clockToleranceSeconds', 'now'] as const;

type RemoteKeySet = ReturnType<typeof import('jose').createRemoteJWKSet>;
/** One key set per URL for the process: jose caches the keys and refetches on an unknown `kid`, at most every 30 s. */
const keySets = new Map<string, RemoteKeySet>();

type HeaderGetter = (name: string) => string | readonly string[] | undefined;

function getterOf(source: unknown): HeaderGetter {
  if (source === null || typeof source !== 'object') {
    throw new InvalidArgumentError(
      'headers',
      `Expected \`headers\` to be the request's headers (an object, a Fetch Headers, or a request), got ${describeValue(source)}`,
    );
  }
  const s = source as { get?: unknown; headers?: unknown };
  if (typeof s.get === 'function') {
    const get = s.get as (name: string) => string | null;
    return (name) => get.call(source, name) ?? undefined;
  }
  const nested = s.headers !== null && typeof s.headers === 'object' && !Array.isArray(s.headers) && !('authorization' in s);
  if (nested) return getterOf(s.headers);
  const map = new Map<string, string | readonly string[]>();
  for (const [k, v] of Object.entries(source)) {
    if (typeof v === 'string' || Array.isArray(v)) map.set(k.toLowerCase(), v as string | readonly string[]);
  }
  return (name) => map.get(name);
}

function single(get: HeaderGetter, name: string): string | undefined {
  const v = get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    throw new InvocationTokenError(`The request has ${v.length} \`${name}\` headers; an invocation has one`, { reason: 'malformed' });
  }
  return v;
}

function fromJose(err: unknown): InvocationTokenError {
  const code = (err as { code?: unknown } | null)?.code;
  const claim = (err as { claim?: unknown } | null)?.claim;
  const fail = (reason: string, message: string) =>
    new InvocationTokenError(`The Forge Invocation Token was refused: ${message}`, { reason, cause: err });
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return fail('expired', "it has expired (`exp`); check this machine's clock if every request fails so");
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail('signature', 'its signature does not verify against the key set');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return fail('signature', 'no key of the key set matches its `kid`');
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return fail('signature', 'several keys of the key set match it');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return fail('malformed', 'it is not a well-formed signed JWT');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return fail('malformed', 'its algorithm is not accepted');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'aud') return fail('audience', 'its audience (`aud`) is not this app: check `appId` against app.id in manifest.yml');
      if (claim === 'iss') return fail('issuer', `its issuer (\`iss\`) is not ${FORGE_INVOCATION_ISSUER}`);
      return fail('claims', `its \`${String(claim)}\` claim is not valid now`);
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return fail('jwks', 'the key set could not be loaded');
    default:
      return fail('jwks', `the key set could not be loaded or used (${err instanceof Error ? err.name : 'error'})`);
  }
}

type CheckedOptions = Required<Pick<HandleInvocationOptions, 'appId' | 'jwksUrl' | 'clockToleranceSeconds' | 'now'>>;

function checkOptions(options: HandleInvocationOptions): CheckedOptions {
  checkObject(options, 'options');
  checkKnownKeys(options as unknown as Record<string, unknown>, KNOWN, 'options');
  if (options.systemTokens !== undefined) {
    checkObject(options.systemTokens, 'systemTokens');
    checkFunction((options.systemTokens as { remember?: unknown }).remember, 'systemTokens.remember');
  }
  return {
    appId: checkString(options.appId, 'appId'),
    jwksUrl: options.jwksUrl === undefined ? DEFAULT_FORGE_JWKS_URL : checkUrl(options.jwksUrl, 'jwksUrl'),
    clockToleranceSeconds: checkNumber(options.clockToleranceSeconds ?? 5, 'clockToleranceSeconds', { min: 0 }),
    now: options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now'),
  };
}

/**
 * Verifies an incoming Forge remote request and remembers its app system token.
 *
 * 1. The `authorization: Bearer <FIT>` header must hold a Forge Invocation Token signed by a key of
 *    `jwksUrl`, issued by `forge/invocation-token`, with `aud` = `appId`, not expired (`exp`, `nbf`).
 * 2. Its claims give the installation (`app.installationId`), `app.apiBaseUrl`, `context` and `principal`.
 * 3. Only then, the `x-forge-oauth-system` header (if any) is remembered in `systemTokens` for the
 *    installation, with `apiBaseUrl`, so that background jobs can mint user tokens.
 *
 * jose is loaded on the first call (importing the package does not load it). The key set is fetched
 * once per URL and process, and again when a token names an unknown key.
 *
 * @param headers - the request's headers: Node's `req.headers` or `req`, a Fetch `Headers` or `Request`, or a plain object
 * @param options - see {@link HandleInvocationOptions}
 * @returns the verified invocation
 * @throws {@link InvocationTokenError} `ERR_INVALID_INVOCATION_TOKEN` when the token is missing, malformed, badly signed,
 *   for another app, expired, lacks `app.installationId` or `app.apiBaseUrl`, or the key set cannot be loaded; its
 *   `reason` says which. Nothing is remembered then.
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for bad options or headers, or a system token that is not a JWT
 *   with an `exp`
 * @throws {@link SystemTokenExpiredError} `ERR_SYSTEM_TOKEN_EXPIRED` when the system token has already expired
 * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the cache's store failed (the token is still held in this process)
 * @example
 * ```ts
 * const invocation = await handleInvocation(req, { appId: process.env.FORGE_APP_ID!, systemTokens });
 * console.log(invocation.installationId, invocation.apiBaseUrl);
 * ```
 * @see https://developer.atlassian.com/platform/forge/remote/essentials/#the-forge-invocation-token--fit-
 */
export async function handleInvocation(headers: InvocationHeaders, options: HandleInvocationOptions): Promise<ForgeInvocation> {
  const { appId, jwksUrl, clockToleranceSeconds, now } = checkOptions(options);
  const get = getterOf(headers);
  const authorization = single(get, 'authorization');
  if (authorization === undefined) {
    throw new InvocationTokenError('The request has no `authorization` header, so it is not a Forge invocation', { reason: 'missing' });
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (match === null) {
    throw new InvocationTokenError('The `authorization` header is not `Bearer <Forge Invocation Token>`', { reason: 'malformed' });
  }
  // Every header is read (and a repeated one refused) before anything is remembered.
  const systemToken = single(get, 'x-forge-oauth-system');
  const invocationId = single(get, 'x-forge-invocation-id');
  const jose = await import('jose');
  let keySet = keySets.get(jwksUrl);
  if (keySet === undefined) {
    keySet = jose.createRemoteJWKSet(new URL(jwksUrl));
    keySets.set(jwksUrl, keySet);
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jose.jwtVerify(match[1]!, keySet, {
      audience: appId,
      issuer: FORGE_INVOCATION_ISSUER,
      currentDate: new Date(now()),
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['exp'],
    }));
  } catch (err) {
    throw fromJose(err);
  }
  const objectOr = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const app = objectOr(payload.app);
  const installation = objectOr(app.installation);
  const installationId =
    typeof app.installationId === 'string' && app.installationId !== ''
      ? app.installationId
      : typeof installation.id === 'string' && installation.id !== ''
        ? installation.id
        : undefined;
  const apiBaseUrl = typeof app.apiBaseUrl === 'string' && /^https?:\/\//.test(app.apiBaseUrl) ? app.apiBaseUrl : undefined;
  if (installationId === undefined) {
    throw new InvocationTokenError('The Forge Invocation Token has no `app.installationId` claim', { reason: 'claims' });
  }
  if (apiBaseUrl === undefined) {
    throw new InvocationTokenError('The Forge Invocation Token has no http(s) `app.apiBaseUrl` claim', { reason: 'claims' });
  }
  const context =
    payload.context !== null && typeof payload.context === 'object' ? (payload.context as Record<string, unknown>) : undefined;
  let outcome: ForgeInvocation['systemToken'] = 'absent';
  if (systemToken !== undefined && systemToken !== '') {
    outcome =
      options.systemTokens === undefined
        ? 'ignored'
        : (await options.systemTokens.remember(installationId, systemToken, { apiBaseUrl }))
          ? 'remembered'
          : 'superseded';
  }
  return {
    appId: typeof app.id === 'string' ? app.id : appId,
    installationId,
    apiBaseUrl,
    context,
    cloudId: typeof context?.cloudId === 'string' ? context.cloudId : undefined,
    principal: typeof payload.principal === 'string' ? payload.principal : undefined,
    invocationId,
    systemToken: outcome,
    claims: payload,
  };
}
