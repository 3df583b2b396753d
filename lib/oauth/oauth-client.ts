/**
 * The OAuth client side of a session: validated client options and the three token-endpoint
 * calls a session makes (refresh, RFC 8693 exchange, RFC 7009 revocation).
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type PQueue from 'p-queue';
import { InvalidArgumentError, describeValue } from '../errors.js';
import { applyClientAuth, sendWithRetries, type ClientAuthMethod, type JsonResponse } from './token-request.js';
import { parseTokenResponse, type TokenResponse } from './token-response.js';
import { checkKnownKeys, checkObject, checkString, checkUrl } from '../util/validate.js';
import { DEFAULT_TOKEN_TTL_MS, type ResolvedRetryOptions } from './retry-options.js';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { registerSecret } from '../redact.js';

/** Grant type of RFC 8693 token exchange. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 token type of an access token. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** The OAuth client a session authenticates as. */
export interface OAuthClientOptions {
  /** RFC 6749 token endpoint. */
  tokenEndpoint: string;
  /** RFC 7009 revocation endpoint; without it `revokeTokens()` only forgets the tokens locally. */
  revocationEndpoint?: string;
  /** The client id. */
  clientId: string;
  /** The client secret (confidential clients). */
  clientSecret?: string;
  /**
   * How the client authenticates.
   * @default 'client_secret_basic'
   */
  authMethod?: ClientAuthMethod;
}

const KNOWN_CLIENT = ['tokenEndpoint', 'revocationEndpoint', 'clientId', 'clientSecret', 'authMethod'] as const;

/** @internal Client options with defaults applied. */
export type ResolvedClient = Required<Pick<OAuthClientOptions, 'tokenEndpoint' | 'clientId' | 'authMethod'>> &
  Pick<OAuthClientOptions, 'clientSecret' | 'revocationEndpoint'>;

/** @internal Validates client options, naming the offending field. */
export function resolveClient(value: unknown, field = 'client'): ResolvedClient {
  checkObject(value, field);
  checkKnownKeys(value, KNOWN_CLIENT, field);
  const c = value as unknown as OAuthClientOptions;
  const authMethod = c.authMethod ?? 'client_secret_basic';
  if (!['client_secret_basic', 'client_secret_post', 'none'].includes(authMethod)) {
    throw new InvalidArgumentError(
      `${field}.authMethod`,
      `Expected \`${field}.authMethod\` to be 'client_secret_basic', 'client_secret_post' or 'none', got ${describeValue(authMethod)}`,
    );
  }
  if (c.clientSecret !== undefined) checkString(c.clientSecret, `${field}.clientSecret`);
  if (authMethod !== 'none' && c.clientSecret === undefined) {
    throw new InvalidArgumentError(
      `${field}.clientSecret`,
      `\`${field}.clientSecret\` is required with authMethod '${authMethod}'; use authMethod 'none' for a public client`,
    );
  }
  registerSecret(c.clientSecret);
  return {
    tokenEndpoint: checkUrl(c.tokenEndpoint, `${field}.tokenEndpoint`),
    revocationEndpoint: c.revocationEndpoint === undefined ? undefined : checkUrl(c.revocationEndpoint, `${field}.revocationEndpoint`),
    clientId: checkString(c.clientId, `${field}.clientId`),
    clientSecret: c.clientSecret,
    authMethod,
  };
}

/**
 * @internal Builds the TokenInfo of a token answer. `fallback` fills what the server left out:
 * the refresh token it kept (RFC 6749 §6), the scope and the token type.
 */
export function tokenInfoFrom(
  parsed: TokenResponse,
  acquiredAtMS: number,
  fallback: { refreshToken?: string | undefined; scope?: string | undefined; tokenType?: string | undefined } = {},
): TokenInfo {
  const refreshToken = parsed.refreshToken ?? fallback.refreshToken;
  const scope = parsed.scope ?? (fallback.scope === '' ? undefined : fallback.scope);
  return validateTokenInfo({
    accessToken: parsed.accessToken,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    accessTokenTTLMS: parsed.expiresInMS ?? DEFAULT_TOKEN_TTL_MS,
    acquiredAtMS,
    ...(scope === undefined ? {} : { scope }),
    tokenType: parsed.tokenType ?? fallback.tokenType ?? 'Bearer',
  });
}

/** @internal The token-endpoint calls of one client. */
export class OAuthClient {
  readonly #client: ResolvedClient;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #retry: ResolvedRetryOptions;
  /** Where refreshes wait for their turn (one queue shared by many sessions caps their concurrency or rate). */
  readonly #refreshQueue: PQueue | undefined;

  constructor(client: ResolvedClient, dispatcher: Dispatcher | undefined, retry: ResolvedRetryOptions, refreshQueue?: PQueue) {
    this.#client = client;
    this.#dispatcher = dispatcher;
    this.#retry = retry;
    this.#refreshQueue = refreshQueue;
  }

  /** Whether a revocation endpoint is configured. */
  get canRevoke(): boolean {
    return this.#client.revocationEndpoint !== undefined;
  }

  async #post(url: string, params: URLSearchParams, what: string, sentRefreshToken?: string): Promise<JsonResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    applyClientAuth(params, headers, this.#client);
    return sendWithRetries(
      url,
      { method: 'POST', headers, body: params.toString() },
      { dispatcher: this.#dispatcher, retry: this.#retry, what, sentRefreshToken },
    );
  }

  /**
   * RFC 6749 §6 refresh. A malformed answer that rotated the refresh token rejects with an error whose
   * new refresh token `rotatedRefreshTokenOf` (rotated-tokens.ts) gives: the caller must persist it (refresh-request.ts does).
   */
  async refresh(refreshToken: string): Promise<TokenResponse> {
    const params = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const send = (): Promise<JsonResponse> => this.#post(this.#client.tokenEndpoint, params, 'Token refresh', refreshToken);
    const res = this.#refreshQueue === undefined ? await send() : await this.#refreshQueue.add(send);
    return parseTokenResponse(res, 'Token refresh', refreshToken);
  }

  /** RFC 8693 §2.1 exchange of an access token (at `request.endpoint`, default the token endpoint). */
  async exchange(
    subjectToken: string,
    request: {
      scope?: string;
      resource?: string;
      audience?: string;
      actorToken?: string;
      extra?: Record<string, string>;
      endpoint?: string;
      what?: string;
    },
  ): Promise<TokenResponse> {
    const params = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
    });
    if (request.scope !== undefined && request.scope.length > 0) params.set('scope', request.scope);
    if (request.resource !== undefined) params.set('resource', request.resource);
    if (request.audience !== undefined) params.set('audience', request.audience);
    if (request.actorToken !== undefined) {
      params.set('actor_token', request.actorToken);
      params.set('actor_token_type', ACCESS_TOKEN_TYPE);
    }
    for (const [k, v] of Object.entries(request.extra ?? {})) params.set(k, v);
    const what = request.what ?? 'Token exchange';
    const res = await this.#post(request.endpoint ?? this.#client.tokenEndpoint, params, what);
    return parseTokenResponse(res, what);
  }

  /** RFC 7009 §2.1 revocation; unknown or already revoked tokens succeed (§2.2). */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
    if (this.#client.revocationEndpoint === undefined) return;
    await this.#post(this.#client.revocationEndpoint, new URLSearchParams({ token, token_type_hint: hint }), 'Token revocation');
  }
}
