/**
 * Offline user impersonation through a standard authorization server: RFC 8693 token exchange of
 * the app's token for one that acts as a given account.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { InvalidArgumentError, describeValue } from '../errors.js';
import { checkDispatcher, checkFunction, checkKnownKeys, checkObject, checkString, checkUrl } from '../util/validate.js';
import { resolveRetryOptions, type RetryOptions } from '../oauth/retry-options.js';
import { OAuthClient, resolveClient, tokenInfoFrom, type OAuthClientOptions } from '../oauth/oauth-client.js';
import { registerSecret } from '../redact.js';
import type { TokenInfo } from '../token/token-info.js';
import { resolveTokenSource } from './token-source.js';
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

const KNOWN = [
  'session',
  'subjectToken',
  'client',
  'tokenEndpoint',
  'requestedSubjectParameter',
  'scope',
  'resource',
  'audience',
  'dispatcher',
  'retry',
  'now',
] as const;

class OAuthTokenExchanger implements TokenExchanger {
  readonly #subject: () => Promise<string>;
  readonly #clientId: string;
  readonly #oauth: OAuthClient;
  readonly #endpoint: string;
  readonly #parameter: string;
  readonly #scope: string | undefined;
  readonly #resource: string | undefined;
  readonly #audience: string | undefined;
  readonly #now: () => number;

  constructor(o: OAuthTokenExchangerOptions) {
    checkObject(o, 'options');
    checkKnownKeys(o as unknown as Record<string, unknown>, KNOWN, 'options');
    if ((o.session === undefined) === (o.subjectToken === undefined)) {
      throw new InvalidArgumentError(
        o.session === undefined ? 'subjectToken' : 'session',
        'Expected exactly one of `session` and `subjectToken`',
      );
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
      this.#subject = async () => resolveTokenSource(source, this.#now, 'subjectToken');
    }
    const client = resolveClient(o.client, 'client');
    this.#endpoint = o.tokenEndpoint === undefined ? client.tokenEndpoint : checkUrl(o.tokenEndpoint, 'tokenEndpoint');
    this.#clientId = client.clientId;
    this.#parameter =
      o.requestedSubjectParameter === undefined
        ? DEFAULT_REQUESTED_SUBJECT_PARAMETER
        : checkString(o.requestedSubjectParameter, 'requestedSubjectParameter');
    if (
      o.scope !== undefined &&
      (Array.isArray(o.scope) ? o.scope.some((s) => typeof s !== 'string' || s.length === 0 || /\s/.test(s)) : typeof o.scope !== 'string')
    ) {
      throw new InvalidArgumentError(
        'scope',
        `Expected \`scope\` to be a string or an array of scope strings, got ${describeValue(o.scope)}`,
      );
    }
    const scope = Array.isArray(o.scope) ? o.scope.join(' ') : o.scope;
    this.#scope = scope === undefined || scope.length === 0 ? undefined : scope;
    this.#resource = o.resource === undefined ? undefined : checkString(o.resource, 'resource');
    this.#audience = o.audience === undefined ? undefined : checkString(o.audience, 'audience');
    this.#oauth = new OAuthClient(client, checkDispatcher(o.dispatcher), resolveRetryOptions(o.retry));
  }

  describe(): string {
    // Everything that changes what a minted token can do is part of the identity (and so of the
    // default UserSession namespace): a session asking for `write` must not get a cached `read` token.
    const shape = [this.#parameter, this.#scope ?? '', this.#resource ?? '', this.#audience ?? ''].join('|');
    const digest = createHash('sha256').update(shape).digest('hex').slice(0, 12);
    return `oauth:${this.#clientId}@${this.#endpoint}#${digest}`;
  }

  async exchange(accountId: string): Promise<TokenInfo> {
    checkString(accountId, 'accountId');
    const subject = await this.#subject();
    registerSecret(subject);
    const acquiredAtMS = this.#now();
    const parsed = await this.#oauth.exchange(subject, {
      endpoint: this.#endpoint,
      what: 'Token exchange (impersonation)',
      extra: { [this.#parameter]: accountId },
      ...(this.#scope === undefined ? {} : { scope: this.#scope }),
      ...(this.#resource === undefined ? {} : { resource: this.#resource }),
      ...(this.#audience === undefined ? {} : { audience: this.#audience }),
    });
    // A UserSession mints again rather than refreshing, so a refresh token would only be a liability.
    return tokenInfoFrom({ ...parsed, refreshToken: undefined }, acquiredAtMS, { scope: this.#scope });
  }

  /** @internal Printed form, without secrets. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `OAuthTokenExchanger { clientId: ${JSON.stringify(this.#clientId)}, tokenEndpoint: ${JSON.stringify(this.#endpoint)} }`;
  }

  /** JSON form, without secrets. */
  toJSON(): Record<string, unknown> {
    return { type: 'oauth', clientId: this.#clientId, tokenEndpoint: this.#endpoint };
  }
}

/**
 * A {@link TokenExchanger} for standard authorization servers: RFC 8693 token exchange with the
 * app's token as `subject_token` and the account in `requested_subject` (or the parameter named by
 * `requestedSubjectParameter`), authenticated as the client, like {@link PersistentSession}.
 *
 * @param options - see {@link OAuthTokenExchangerOptions}
 * @returns the exchanger; `describe()` is `oauth:<clientId>@<tokenEndpoint>#<digest>`, where the digest (12 hex
 *   digits of a SHA-256) covers the requested-subject parameter, `scope`, `resource` and `audience`
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad option, naming it
 *
 * Its `exchange(accountId)` rejects with {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the
 * server refuses or keeps failing, {@link ExpiredTokensError} `ERR_EXPIRED_TOKENS` for
 * `invalid_grant`, and whatever the session's `getAccessToken()` rejects with.
 * @example
 * ```ts
 * const app = new PersistentSession({ client, tokenStore });
 * const users = new UserSession({ exchanger: oauthTokenExchanger({ session: app, client }), tokenStore });
 * const token = await users.getAccessToken('user-42');
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 */
export function oauthTokenExchanger(options: OAuthTokenExchangerOptions): TokenExchanger {
  return new OAuthTokenExchanger(options);
}
