/**
 * Offline user impersonation through a standard authorization server: RFC 8693 token exchange of
 * the app's token for one that acts as a given account.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { InvalidArgumentError, describeValue } from '../errors.js';
import { applyClientAuth, parseTokenResponse, sendWithRetries, type ClientAuthMethod, type RequestContext } from '../http.js';
import {
  DEFAULT_TOKEN_TTL_MS, checkDispatcher, checkFunction, checkKnownKeys, checkObject, checkString, checkUrl, resolveRetryOptions,
  type RetryOptions,
} from '../options.js';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, type OAuthClientOptions } from '../oauth-client.js';
import { registerSecret } from '../redact.js';
import { validateTokenInfo, type TokenInfo } from '../token-info.js';
import { resolveTokenSource } from './system-token.js';
import type { TokenExchanger, TokenSource } from './token-exchanger.js';

/**
 * The form parameter that names the account to act as. RFC 8693 has none; this is the name the
 * emulator and several servers use. Change it with `requestedSubjectParameter`.
 */
export const DEFAULT_REQUESTED_SUBJECT_PARAMETER = 'requested_subject';

/** Anything that hands out the app's own access token, e.g. a PersistentSession. */
export interface SubjectTokenSession {
  /**
   * Resolves with the app's access token.
   * @returns the token
   */
  getAccessToken(): Promise<string>;
}

/** Options of {@link oauthTokenExchanger}. */
export interface OAuthTokenExchangerOptions {
  /** Where the app's own token (the subject token) comes from: a session, e.g. a PersistentSession. */
  session?: SubjectTokenSession;
  /** Or the subject token itself, or a function returning it. Exactly one of `session` and `subjectToken`. */
  subjectToken?: TokenSource;
  /** The client that authenticates at the token endpoint, as for PersistentSession. */
  client: OAuthClientOptions;
  /**
   * Where to send the exchange.
   * @default client.tokenEndpoint
   */
  tokenEndpoint?: string;
  /**
   * Name of the form parameter that carries the account id.
   * @default DEFAULT_REQUESTED_SUBJECT_PARAMETER
   */
  requestedSubjectParameter?: string;
  /** Scopes to request (space-joined). */
  scope?: string | string[];
  /** RFC 8707 resource indicator. */
  resource?: string;
  /** RFC 8693 `audience`. */
  audience?: string;
  /** undici dispatcher for the requests. */
  dispatcher?: Dispatcher;
  /** Retry policy of the requests. */
  retry?: RetryOptions;
  /**
   * Clock, for `acquiredAtMS`.
   * @default Date.now
   */
  now?: () => number;
}

const KNOWN = ['session', 'subjectToken', 'client', 'tokenEndpoint', 'requestedSubjectParameter', 'scope', 'resource', 'audience', 'dispatcher', 'retry', 'now'] as const;
const KNOWN_CLIENT = ['tokenEndpoint', 'revocationEndpoint', 'clientId', 'clientSecret', 'authMethod'] as const;

class OAuthTokenExchanger implements TokenExchanger {
  readonly #subject: () => Promise<string>;
  readonly #client: { clientId: string; clientSecret: string | undefined; authMethod: ClientAuthMethod };
  readonly #endpoint: string;
  readonly #parameter: string;
  readonly #scope: string | undefined;
  readonly #resource: string | undefined;
  readonly #audience: string | undefined;
  readonly #ctx: RequestContext;
  readonly #now: () => number;

  constructor(o: OAuthTokenExchangerOptions) {
    checkObject(o, 'options');
    checkKnownKeys(o as unknown as Record<string, unknown>, KNOWN, 'options');
    if ((o.session === undefined) === (o.subjectToken === undefined)) {
      throw new InvalidArgumentError(o.session === undefined ? 'subjectToken' : 'session', 'Expected exactly one of `session` and `subjectToken`');
    }
    this.#now = o.now === undefined ? Date.now : checkFunction<() => number>(o.now, 'now');
    if (o.session !== undefined) {
      checkObject(o.session, 'session');
      const session = o.session;
      checkFunction(session.getAccessToken, 'session.getAccessToken');
      this.#subject = () => session.getAccessToken();
    } else {
      const source = typeof o.subjectToken === 'function' ? o.subjectToken : checkString(o.subjectToken, 'subjectToken');
      registerSecret(typeof source === 'string' ? source : undefined);
      this.#subject = () => resolveTokenSource(source, this.#now, 'subjectToken');
    }
    checkObject(o.client, 'client');
    checkKnownKeys(o.client as unknown as Record<string, unknown>, KNOWN_CLIENT, 'client');
    const authMethod = o.client.authMethod ?? 'client_secret_basic';
    if (!['client_secret_basic', 'client_secret_post', 'none'].includes(authMethod)) {
      throw new InvalidArgumentError('client.authMethod', `Expected \`client.authMethod\` to be 'client_secret_basic', 'client_secret_post' or 'none', got ${describeValue(authMethod)}`);
    }
    if (o.client.clientSecret !== undefined) checkString(o.client.clientSecret, 'client.clientSecret');
    if (authMethod !== 'none' && o.client.clientSecret === undefined) {
      throw new InvalidArgumentError('client.clientSecret', `\`client.clientSecret\` is required with authMethod '${authMethod}'; use authMethod 'none' for a public client`);
    }
    registerSecret(o.client.clientSecret);
    this.#client = { clientId: checkString(o.client.clientId, 'client.clientId'), clientSecret: o.client.clientSecret, authMethod };
    const clientEndpoint = checkUrl(o.client.tokenEndpoint, 'client.tokenEndpoint');
    this.#endpoint = o.tokenEndpoint === undefined ? clientEndpoint : checkUrl(o.tokenEndpoint, 'tokenEndpoint');
    this.#parameter = o.requestedSubjectParameter === undefined ? DEFAULT_REQUESTED_SUBJECT_PARAMETER : checkString(o.requestedSubjectParameter, 'requestedSubjectParameter');
    if (o.scope !== undefined && (Array.isArray(o.scope) ? o.scope.some((s) => typeof s !== 'string' || s.length === 0 || /\s/.test(s)) : typeof o.scope !== 'string')) {
      throw new InvalidArgumentError('scope', `Expected \`scope\` to be a string or an array of scope strings, got ${describeValue(o.scope)}`);
    }
    const scope = Array.isArray(o.scope) ? o.scope.join(' ') : o.scope;
    this.#scope = scope === undefined || scope.length === 0 ? undefined : scope;
    this.#resource = o.resource === undefined ? undefined : checkString(o.resource, 'resource');
    this.#audience = o.audience === undefined ? undefined : checkString(o.audience, 'audience');
    this.#ctx = { dispatcher: checkDispatcher(o.dispatcher), retry: resolveRetryOptions(o.retry), what: 'Token exchange (impersonation)' };
  }

  describe(): string {
    return `oauth:${this.#client.clientId}@${this.#endpoint}`;
  }

  async exchange(accountId: string): Promise<TokenInfo> {
    checkString(accountId, 'accountId');
    const subject = await this.#subject();
    registerSecret(subject);
    const params = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE });
    params.set(this.#parameter, accountId);
    if (this.#scope !== undefined) params.set('scope', this.#scope);
    if (this.#resource !== undefined) params.set('resource', this.#resource);
    if (this.#audience !== undefined) params.set('audience', this.#audience);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    applyClientAuth(params, headers, this.#client);
    const acquiredAtMS = this.#now();
    const res = await sendWithRetries(this.#endpoint, { method: 'POST', headers, body: params.toString() }, this.#ctx);
    const parsed = parseTokenResponse(res, this.#ctx.what);
    // A UserSession mints again rather than refreshing, so a refresh token would only be a liability.
    return validateTokenInfo({
      accessToken: parsed.accessToken,
      accessTokenTTLMS: parsed.expiresInMS ?? DEFAULT_TOKEN_TTL_MS,
      acquiredAtMS,
      tokenType: parsed.tokenType ?? 'Bearer',
      ...((parsed.scope ?? this.#scope) === undefined ? {} : { scope: parsed.scope ?? this.#scope }),
    });
  }

  /** @internal Printed form, without secrets. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `OAuthTokenExchanger { clientId: ${JSON.stringify(this.#client.clientId)}, tokenEndpoint: ${JSON.stringify(this.#endpoint)} }`;
  }

  /** JSON form, without secrets. */
  toJSON(): Record<string, unknown> {
    return { type: 'oauth', clientId: this.#client.clientId, tokenEndpoint: this.#endpoint };
  }
}

/**
 * A {@link TokenExchanger} for standard authorization servers: RFC 8693 token exchange with the
 * app's token as `subject_token` and the account in `requested_subject` (or the parameter named by
 * `requestedSubjectParameter`), authenticated as the client, like {@link PersistentSession}.
 *
 * @param options - see {@link OAuthTokenExchangerOptions}
 * @returns the exchanger; `describe()` is `oauth:<clientId>@<tokenEndpoint>`
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad option, naming it
 *
 * Its `exchange(accountId)` rejects with {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the
 * server refuses or keeps failing, {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` for
 * `invalid_grant`, and whatever the session's `getAccessToken()` rejects with.
 * @example
 * ```ts
 * const app = new PersistentSession({ client, tokenStore });
 * const users = new UserSession({ exchange: oauthTokenExchanger({ session: app, client }), tokenStore });
 * const token = await users.getAccessToken('user-42');
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export function oauthTokenExchanger(options: OAuthTokenExchangerOptions): TokenExchanger {
  return new OAuthTokenExchanger(options);
}
