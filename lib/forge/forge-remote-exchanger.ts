/**
 * The documented Forge remote flow of offline user impersonation: the app system token buys a
 * user token through the `offlineUserAuthToken` mutation of the GraphQL gateway.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { ImpersonationError, InvalidArgumentError, SystemTokenExpiredError, TokenRequestError, describeValue } from '../errors.js';
import { sendWithRetries, type JsonResponse, type RequestContext } from '../oauth/token-request.js';
import { checkDispatcher, checkFunction, checkKnownKeys, checkObject, checkString, checkUrl } from '../util/validate.js';
import { resolveRetryOptions, type RetryOptions } from '../oauth/retry-options.js';
import { registerSecret } from '../redact.js';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { SYSTEM_TOKEN_ADVICE, resolveTokenSource } from '../exchangers/token-source.js';
import type { TokenExchanger, TokenSource } from '../exchangers/token-exchanger.js';

/** The Forge GraphQL gateway. */
export const DEFAULT_FORGE_GATEWAY_URL = 'https://api.atlassian.com/graphql';

/** The documented mutation, sent verbatim. */
export const OFFLINE_USER_AUTH_TOKEN_MUTATION =
  'mutation forge_remote_offlineUserAuthToken($input: OfflineUserAuthTokenInput!) ' +
  '{ offlineUserAuthToken(input: $input) { success errors { message } authToken { token ttl } } }';

const WHAT = 'Forge offlineUserAuthToken mutation';
const INSTALLATION_ARI = /^ari:cloud:ecosystem::installation\//;

/** Options of {@link forgeRemoteExchanger}. */
export interface ForgeRemoteExchangerOptions {
  /**
   * The app system token (the `x-forge-oauth-system` header of an invocation), or a function
   * returning it, called before each mint, e.g. `systemTokenCache.source(installationId)`.
   * Not used (and not needed) with `proxyAuthorization`.
   */
  systemToken?: TokenSource;
  /**
   * For a Forge Containers egress proxy (`gatewayUrl: ${FORGE_EGRESS_PROXY_URL}/atlassian/graphql/`):
   * the `forge-proxy-authorization` value to send instead of `Authorization: Bearer <system token>`,
   * e.g. `Forge as=app,installationId=<id>`. The proxy authenticates the app itself.
   */
  proxyAuthorization?: string;
  /**
   * The context the user tokens are for: `ari:cloud:jira::site/{cloudId}`,
   * `ari:cloud:confluence::site/{cloudId}` or `ari:cloud:jira:{cloudId}:workspace/{id}`; not an
   * installation ARI.
   */
  contextAri: string;
  /**
   * The GraphQL gateway.
   * @default DEFAULT_FORGE_GATEWAY_URL
   */
  gatewayUrl?: string;
  /**
   * The installation (app + site) the system token belongs to. It becomes part of `describe()`,
   * the default UserSession namespace, so that two apps on one site never share cached user tokens.
   * Without it (a plain string `systemToken`), the namespace names only the gateway and the site:
   * when several apps share one store, pass it (or give each UserSession its own `namespace`).
   * @default `systemToken.installationId` when the token source carries one (`SystemTokenCache.source()` does)
   */
  installationId?: string;
  /** undici dispatcher for the gateway requests (proxies, tests). */
  dispatcher?: Dispatcher;
  /** Retry policy: 429 and 5xx are retried, honouring `Retry-After`. */
  retry?: RetryOptions;
  /**
   * Clock, for the tokens' `acquiredAtMS` and the expiry check of the system token.
   * @default Date.now
   */
  now?: () => number;
}

const KNOWN = ['systemToken', 'contextAri', 'gatewayUrl', 'installationId', 'dispatcher', 'retry', 'now', 'proxyAuthorization'] as const;

function graphqlMessages(body: unknown, field = 'errors'): string[] | undefined {
  const list = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
  if (!Array.isArray(list)) return undefined;
  return list.map((e) =>
    e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string'
      ? (e as { message: string }).message
      : '(no message)',
  );
}

function impersonationHint(contextAri: string): string {
  const ari = INSTALLATION_ARI.test(contextAri)
    ? `\`contextAri\` is an installation ARI, which is not a context: use the site form ari:cloud:jira::site/{cloudId} (or ` +
      `ari:cloud:jira:{cloudId}:workspace/{cloudId})`
    : 'the context ARI has the wrong form: use ari:cloud:jira::site/{cloudId} (or the workspace form ' +
      'ari:cloud:jira:{cloudId}:workspace/{cloudId}), not ari:cloud:ecosystem::installation/…';
  return (
    `Usual causes: (1) ${ari}; (2) the scopes lack \`allowImpersonation: true\` in manifest.yml, or the manifest was not deployed and ` +
    `installed: run \`forge deploy\` and \`forge install --upgrade\`; ` +
    '(3) the account cannot be impersonated (an app user, a deactivated or anonymous user, or one without access to the app)'
  );
}

class ForgeRemoteExchanger implements TokenExchanger {
  readonly #systemToken: TokenSource | undefined;
  readonly #proxyAuthorization: string | undefined;
  readonly #contextAri: string;
  readonly #gatewayUrl: string;
  readonly #installationId: string | undefined;
  readonly #ctx: RequestContext;
  readonly #now: () => number;

  constructor(options: ForgeRemoteExchangerOptions) {
    checkObject(options, 'options');
    checkKnownKeys(options as unknown as Record<string, unknown>, KNOWN, 'options');
    const proxyAuthorization = options.proxyAuthorization;
    this.#proxyAuthorization = proxyAuthorization === undefined ? undefined : checkString(proxyAuthorization, 'proxyAuthorization');
    if (this.#proxyAuthorization !== undefined && /[\r\n\0]/.test(this.#proxyAuthorization)) {
      throw new InvalidArgumentError('proxyAuthorization', 'Expected `proxyAuthorization` to be a header value without CR, LF or NUL');
    }
    if (this.#proxyAuthorization !== undefined && options.systemToken === undefined) {
      this.#systemToken = undefined;
    } else if (typeof options.systemToken === 'function') {
      this.#systemToken = options.systemToken;
    } else {
      this.#systemToken = checkString(options.systemToken, 'systemToken');
      registerSecret(this.#systemToken);
    }
    this.#contextAri = checkString(options.contextAri, 'contextAri');
    if (!this.#contextAri.startsWith('ari:')) {
      throw new InvalidArgumentError(
        'contextAri',
        `Expected \`contextAri\` to be an ARI such as ari:cloud:jira::site/{cloudId}, got ${describeValue(this.#contextAri)}`,
      );
    }
    this.#gatewayUrl = options.gatewayUrl === undefined ? DEFAULT_FORGE_GATEWAY_URL : checkUrl(options.gatewayUrl, 'gatewayUrl');
    const fromSource =
      typeof options.systemToken === 'function' ? (options.systemToken as { installationId?: unknown }).installationId : undefined;
    this.#installationId =
      options.installationId !== undefined
        ? checkString(options.installationId, 'installationId')
        : typeof fromSource === 'string' && fromSource.length > 0
          ? fromSource
          : undefined;
    this.#ctx = { dispatcher: checkDispatcher(options.dispatcher), retry: resolveRetryOptions(options.retry), what: WHAT };
    this.#now = options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now');
  }

  describe(): string {
    // The full identity: gateway, app installation when known, and context. Keyed by the context
    // alone, two apps installed on one site would share (and hand out) each other's user tokens.
    const gateway = new URL(this.#gatewayUrl).host;
    return `forge:${gateway}:${this.#installationId === undefined ? '' : `${this.#installationId}:`}${this.#contextAri}`;
  }

  async exchange(accountId: string): Promise<TokenInfo> {
    checkString(accountId, 'accountId');
    let credential: Record<string, string>;
    if (this.#proxyAuthorization !== undefined) {
      credential = { 'forge-proxy-authorization': this.#proxyAuthorization };
    } else {
      const source = resolveTokenSource(this.#systemToken!, this.#now, 'systemToken', SYSTEM_TOKEN_ADVICE);
      credential = { authorization: `Bearer ${typeof source === 'string' ? source : await source}` };
    }
    const acquiredAtMS = this.#now();
    const body = JSON.stringify({
      query: OFFLINE_USER_AUTH_TOKEN_MUTATION,
      variables: { input: { contextIds: [this.#contextAri], userId: accountId } },
    });
    const headers = { ...credential, 'content-type': 'application/json', accept: 'application/json' };
    let res: JsonResponse;
    try {
      res = await sendWithRetries(this.#gatewayUrl, { method: 'POST', headers, body }, this.#ctx);
    } catch (err) {
      throw this.#translate(err);
    }
    return this.#parse(res, accountId, acquiredAtMS);
  }

  /** A refused system token is not an expired user token: say which token the gateway refused. */
  #translate(err: unknown): unknown {
    if (!(err instanceof TokenRequestError) || err.status === undefined) return err;
    if (err.status === 401 && this.#proxyAuthorization !== undefined) {
      const message = `${WHAT}: the egress proxy refused the app (HTTP 401): check the installation id in \`proxyAuthorization\``;
      return new TokenRequestError(message, { status: 401, response: err.response, cause: err });
    }
    if (err.status === 401) {
      return new SystemTokenExpiredError(
        'ERR_SYSTEM_TOKEN_EXPIRED',
        `The Forge gateway refused the app system token (HTTP 401), so no user token was minted: it has expired or been revoked, or the ` +
          `app was reinstalled (a new installation gets a new token). ${SYSTEM_TOKEN_ADVICE}`,
        { cause: err },
      );
    }
    const messages = graphqlMessages(err.response);
    if (messages === undefined || messages.length === 0) return err;
    return new TokenRequestError(`${err.message} (${messages.join('; ')})`, {
      status: err.status,
      response: err.response,
      transient: err.transient,
      cause: err,
    });
  }

  #parse(res: JsonResponse, accountId: string, acquiredAtMS: number): TokenInfo {
    const malformed = (why: string) =>
      new TokenRequestError(`${WHAT}: malformed answer (${why})`, { status: res.status, response: res.body });
    const body = res.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw malformed('not a JSON object');
    const topErrors = graphqlMessages(body);
    if (topErrors !== undefined && topErrors.length > 0) {
      throw new TokenRequestError(`${WHAT} failed with GraphQL errors: ${topErrors.join('; ')}`, { status: res.status, response: body });
    }
    const data = (body as { data?: unknown }).data;
    const payload =
      data !== null && typeof data === 'object' ? (data as { offlineUserAuthToken?: unknown }).offlineUserAuthToken : undefined;
    if (payload === null || typeof payload !== 'object') throw malformed('`data.offlineUserAuthToken` is missing');
    const p = payload as { success?: unknown; authToken?: unknown };
    if (p.success === false) {
      const messages = graphqlMessages(payload) ?? [];
      throw new ImpersonationError(
        `The Forge gateway refused to mint a user token for account "${accountId}" in ${this.#contextAri}: ` +
          `${messages.length === 0 ? '(no reason given)' : messages.join('; ')}. ${impersonationHint(this.#contextAri)}`,
        { messages, accountId },
      );
    }
    if (p.success !== true) throw malformed('`success` is not a boolean');
    const auth = p.authToken as { token?: unknown; ttl?: unknown } | null | undefined;
    if (auth === null || typeof auth !== 'object') throw malformed('`authToken` is missing');
    if (typeof auth.token !== 'string' || auth.token.length === 0) throw malformed('`authToken.token` is not a non-empty string');
    registerSecret(auth.token);
    if (typeof auth.ttl !== 'number' || !Number.isFinite(auth.ttl) || auth.ttl <= 0)
      throw malformed('`authToken.ttl` is not a positive number of seconds');
    return validateTokenInfo({ accessToken: auth.token, accessTokenTTLMS: auth.ttl * 1000, acquiredAtMS, tokenType: 'Bearer' });
  }

  /** @internal Printed form: the context, never the system token. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ForgeRemoteExchanger { contextAri: ${JSON.stringify(this.#contextAri)}, gatewayUrl: ${JSON.stringify(this.#gatewayUrl)} }`;
  }

  /** JSON form: the context, never the system token. */
  toJSON(): Record<string, unknown> {
    return { type: 'forge-remote', contextAri: this.#contextAri, gatewayUrl: this.#gatewayUrl };
  }
}

/**
 * A {@link TokenExchanger} for Forge remotes: mints user tokens with the documented
 * `offlineUserAuthToken` mutation (`POST {gatewayUrl}`, `Authorization: Bearer <system token>`);
 * the answer's `ttl` is in seconds. 429 and 5xx are retried after `Retry-After`.
 *
 * @param options - see {@link ForgeRemoteExchangerOptions}
 * @returns the exchanger; `describe()` is `forge:<gateway host>:<installationId>:<contextAri>`, without the
 *   `<installationId>:` part when the installation is not known
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad option, naming it
 *
 * Its `exchange(accountId)` rejects with:
 * - {@link ImpersonationError} `ERR_IMPERSONATION` when the gateway answers `success: false` (with its messages);
 * - {@link SystemTokenExpiredError} `ERR_NO_SYSTEM_TOKEN` / `ERR_SYSTEM_TOKEN_EXPIRED` when the system token is
 *   missing, empty or past its JWT `exp` (before any request), or refused by the gateway (401);
 * - {@link TokenRequestError} `ERR_TOKEN_REQUEST` for GraphQL errors, malformed answers, other statuses, and
 *   transient failures that outlasted the retries.
 * @example
 * ```ts
 * const users = new UserSession({
 *   exchanger: forgeRemoteExchanger({ systemToken: cache.source(installationId), contextAri: `ari:cloud:jira::site/${cloudId}` }),
 * });
 * const token = await users.getAccessToken(accountId);
 * ```
 * @see https://developer.atlassian.com/platform/forge/remote/calling-product-apis/
 */
export function forgeRemoteExchanger(options: ForgeRemoteExchangerOptions): TokenExchanger {
  return new ForgeRemoteExchanger(options);
}
