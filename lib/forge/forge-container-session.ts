/**
 * Forge Containers: the container never holds an app token. Its requests go through the egress
 * proxy (`FORGE_EGRESS_PROXY_URL`) with a `forge-proxy-authorization` header that says whom to act
 * as, and the proxy authenticates them. `forgeContainerSession` makes views that plug into
 * `authorizedFetch` and `sessionAuth` and send that header — only to the proxy's origin.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type PQueue from 'p-queue';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { AuthHeader, AuthSession } from '../fetch/auth-session.js';
import { UserSession } from '../session/user-session.js';
import { type RateLimitQueue, createRateLimitQueue } from '../session/rate-limit-queue.js';
import type { TokenStore } from '../store/token-store.js';
import { checkDispatcher, checkKnownKeys, checkObject, checkString } from '../util/validate.js';
import { forgeRemoteExchanger } from './forge-remote-exchanger.js';
import { INSTALLATIONS_PER_MINUTE, listInstallations, resolveProxyUrl, type ForgeInstallation } from './forge-installations.js';

export { FORGE_EGRESS_PROXY_URL_ENV, INSTALLATIONS_PER_MINUTE, forgeInstallations } from './forge-installations.js';
export type { ForgeInstallationsOptions } from './forge-installations.js';

/** Options of {@link forgeContainerSession}. */
export interface ForgeContainerSessionOptions {
  /**
   * The egress proxy.
   * @default process.env.FORGE_EGRESS_PROXY_URL
   */
  proxyUrl?: string;
  /**
   * The installation that offline calls act for (from {@link forgeInstallations}). Calls inside an
   * invocation need none: the invocation id names the installation.
   */
  installationId?: string;
  /**
   * The installation's context ARI, for minting offline user tokens.
   * @default looked up once in the installations list
   */
  contextAri?: string;
  /**
   * How offline user calls are made. `'mint'` (the documented way): a user token is minted through the proxy's
   * `/atlassian/graphql/` (`offlineUserAuthToken`, as the app) and sent as `Authorization: Bearer`, cached per user.
   * `'installation-header'`: the undocumented header `Forge as=user,accountId=<id>,installationId=<id>`, no token.
   * @default 'mint'
   */
  offlineUsers?: 'mint' | 'installation-header';
  /** Where minted user tokens persist (as for `UserSession`). */
  tokenStore?: TokenStore;
  /** Shared mint queue (as for `UserSession`): one per app. */
  queue?: PQueue;
  /** Shared queue of installation listings: one per app, `createRateLimitQueue(100)`. */
  installationsQueue?: RateLimitQueue;
  /** A user token with less than this left is minted again. @default 60 */
  refreshBufferSeconds?: number;
  /** undici dispatcher for the session's own requests (mints, listings). */
  dispatcher?: Dispatcher;
}

/** Options of {@link ForgeContainerSession.forUser} and {@link ForgeContainerSession.asApp}. */
export interface ForgeCallContext {
  /** The `x-forge-invocation-id` of the invocation being handled: the call is made in its context. */
  invocationId?: string;
}

/** A view of a {@link ForgeContainerSession} for `authorizedFetch` and `sessionAuth`. */
export interface ForgeContainerView extends AuthSession {
  /** The account acted as, or null for the app. */
  readonly accountId: string | null;
  /** The credential for a request to `url`: undefined unless `url` is on the proxy's origin. */
  authHeader(url: URL): Promise<AuthHeader | undefined>;
}

const KNOWN = [
  'proxyUrl',
  'installationId',
  'contextAri',
  'offlineUsers',
  'tokenStore',
  'queue',
  'installationsQueue',
  'refreshBufferSeconds',
  'dispatcher',
] as const;

/** A Forge Containers session: see {@link forgeContainerSession}. */
export class ForgeContainerSession {
  /** The egress proxy, without a trailing slash. */
  readonly proxyUrl: string;
  /** Its origin: the only one that ever receives a credential from this session's views. */
  readonly proxyOrigin: string;
  /** The installation offline calls act for, if given. */
  readonly installationId: string | undefined;
  /** The queue of installation listings (100 a minute unless shared). */
  readonly installationsQueue: RateLimitQueue;
  /** Minted user tokens (the `'mint'` way of offline user calls). */
  readonly users: UserSession;
  readonly #mode: 'mint' | 'installation-header';
  readonly #dispatcher: Dispatcher | undefined;
  #contextAri: Promise<string> | undefined;

  /** @param options - see {@link ForgeContainerSessionOptions} */
  constructor(options: ForgeContainerSessionOptions = {}) {
    checkObject(options as unknown, 'options');
    checkKnownKeys(options as unknown as Record<string, unknown>, KNOWN, 'options');
    this.proxyUrl = resolveProxyUrl(options.proxyUrl);
    this.proxyOrigin = new URL(this.proxyUrl).origin;
    this.installationId = options.installationId === undefined ? undefined : checkField(options.installationId, 'installationId');
    if (options.contextAri !== undefined) this.#contextAri = Promise.resolve(checkString(options.contextAri, 'contextAri'));
    const mode = options.offlineUsers ?? 'mint';
    if (mode !== 'mint' && mode !== 'installation-header') {
      throw new InvalidArgumentError(
        'offlineUsers',
        `Expected \`offlineUsers\` to be 'mint' or 'installation-header', got ${describeValue(mode)}`,
      );
    }
    this.#mode = mode;
    this.#dispatcher = checkDispatcher(options.dispatcher);
    this.installationsQueue = options.installationsQueue ?? createRateLimitQueue(INSTALLATIONS_PER_MINUTE);
    const exchangerFor = (contextAri: string) =>
      forgeRemoteExchanger({
        gatewayUrl: `${this.proxyUrl}/atlassian/graphql/`,
        proxyAuthorization: `Forge as=app,installationId=${this.#offline()}`,
        installationId: this.#offline(),
        contextAri,
        ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
      });
    // Without a given context, the first mint looks it up in the installations list.
    const exchange =
      options.contextAri !== undefined && this.installationId !== undefined
        ? exchangerFor(options.contextAri)
        : {
            describe: () => `forge-containers:${new URL(this.proxyUrl).host}:${this.installationId ?? '-'}`,
            exchange: async (accountId: string) => exchangerFor(await this.contextAri()).exchange(accountId),
          };
    this.users = new UserSession({
      exchanger: exchange,
      ...(options.tokenStore === undefined ? {} : { tokenStore: options.tokenStore }),
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      ...(options.refreshBufferSeconds === undefined ? {} : { refreshBufferSeconds: options.refreshBufferSeconds }),
    });
  }

  /** The installation id, which offline calls need. */
  #offline(): string {
    if (this.installationId === undefined) {
      throw new InvalidArgumentError(
        'installationId',
        'Offline calls (without an invocationId) act for an installation: give `installationId` (see forgeInstallations())',
      );
    }
    return this.installationId;
  }

  /** The installation's context ARI: given, or looked up once in the installations list. */
  contextAri(): Promise<string> {
    const installationId = this.#offline();
    if (this.#contextAri !== undefined) return this.#contextAri;
    const lookup = this.installations().then((all) => {
      const mine = all.find((i) => i.id === installationId);
      if (mine === undefined) {
        throw new InvalidArgumentError('installationId', `Installation "${installationId}" is not among the app's installations`);
      }
      return mine.installationContext;
    });
    // A failed lookup is forgotten, unless a newer one has taken its place meanwhile.
    lookup.catch(() => {
      if (this.#contextAri === lookup) this.#contextAri = undefined;
    });
    this.#contextAri = lookup;
    return lookup;
  }

  /**
   * Every installation of the app in this environment (`GET /v1/installations`, all pages), through
   * {@link ForgeContainerSession.installationsQueue} so that no more than 100 requests a minute go out.
   * @param options - `pageSize` (1 to 100)
   * @returns the installations
   * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the proxy keeps failing
   */
  installations(options: { pageSize?: number } = {}): Promise<ForgeInstallation[]> {
    const dispatcher = this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher };
    return listInstallations(this.proxyUrl, this.installationsQueue, { ...options, ...dispatcher });
  }

  #header(name: string, value: string | (() => Promise<string>)) {
    return async (url: URL): Promise<AuthHeader | undefined> => {
      if (url.origin !== this.proxyOrigin) return undefined;
      if (typeof value === 'string') return { name, value };
      const token = await value();
      return { name, value: `Bearer ${token}`, token };
    };
  }

  #headerView(accountId: string | null, value: string): ForgeContainerView {
    return Object.freeze({
      accountId,
      authHeader: this.#header('forge-proxy-authorization', value),
      getAccessToken: () =>
        Promise.reject(
          new InvalidArgumentError(
            'session',
            'A Forge Containers view holds no token: the egress proxy authorizes its requests; use it with authorizedFetch or sessionAuth',
          ),
        ),
      // Nothing to forget: the proxy decides. authorizedFetch and sessionAuth retry once, then return the 401.
      handleExpiredTokensError: (err: Error) => Promise.resolve(err),
    });
  }

  /**
   * A view that acts as the user `accountId`. Inside an invocation (`invocationId`): the header
   * `Forge as=user,accountId=<id>,id=<invocation id>`. Offline: a user token minted through the proxy
   * (see {@link ForgeContainerSessionOptions.offlineUsers}).
   * @param accountId - the user
   * @param context - `invocationId`
   * @returns the view
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad account or invocation id, or an offline call
   *   without `installationId`
   */
  forUser(accountId: string, context: ForgeCallContext = {}): ForgeContainerView {
    checkField(accountId, 'accountId');
    const invocationId = checkContext(context);
    if (invocationId !== undefined) return this.#headerView(accountId, `Forge as=user,accountId=${accountId},id=${invocationId}`);
    const installationId = this.#offline();
    if (this.#mode === 'installation-header') {
      return this.#headerView(accountId, `Forge as=user,accountId=${accountId},installationId=${installationId}`);
    }
    const view = this.users.forUser(accountId);
    return Object.freeze({
      accountId,
      authHeader: this.#header('authorization', () => view.getAccessToken()),
      getAccessToken: () => view.getAccessToken(),
      handleExpiredTokensError: (err: Error) => view.handleExpiredTokensError(err),
    });
  }

  /**
   * A view that acts as the app: `Forge as=app,id=<invocation id>` inside an invocation,
   * `Forge as=app,installationId=<id>` offline.
   * @param context - `invocationId`
   * @returns the view
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad invocation id, or an offline call without `installationId`
   */
  asApp(context: ForgeCallContext = {}): ForgeContainerView {
    const invocationId = checkContext(context);
    const value = invocationId === undefined ? `Forge as=app,installationId=${this.#offline()}` : `Forge as=app,id=${invocationId}`;
    return this.#headerView(null, value);
  }

  /** JSON form: the proxy and installation, never a token. */
  toJSON(): Record<string, unknown> {
    return { proxyUrl: this.proxyUrl, installationId: this.installationId, offlineUsers: this.#mode };
  }

  /** @internal Printed form: the same as the JSON form. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ForgeContainerSession ${JSON.stringify(this.toJSON())}`;
  }
}

function checkContext(context: ForgeCallContext): string | undefined {
  checkObject(context, 'context');
  checkKnownKeys(context as Record<string, unknown>, ['invocationId'], 'context');
  if (context.invocationId === undefined) return undefined;
  return checkField(context.invocationId, 'invocationId');
}

/** A value that goes into the `Forge k=v,…` header: non-empty, without the header's separators. */
function checkField(value: unknown, field: string): string {
  const s = checkString(value, field);
  if (/[,=\s]/.test(s)) {
    throw new InvalidArgumentError(field, `Expected \`${field}\` without commas, \`=\` or spaces, got ${describeValue(s)}`);
  }
  return s;
}

/**
 * A session for a Forge container: views that authorize requests through the egress proxy.
 *
 * - `asApp()` / `asApp({ invocationId })`: `forge-proxy-authorization: Forge as=app,installationId=<id>` / `…,id=<invocation id>`;
 * - `forUser(accountId, { invocationId })`: `Forge as=user,accountId=<id>,id=<invocation id>`;
 * - `forUser(accountId)` offline: a user token minted through the proxy (`offlineUserAuthToken` on
 *   `/atlassian/graphql/`, as the app), cached per user as `UserSession` does, sent as `Authorization: Bearer`.
 *
 * Every view sends its credential only to the proxy's origin: `authorizedFetch` refuses other URLs,
 * `sessionAuth` lets them pass untouched, and redirects are not followed with it.
 *
 * @param options - see {@link ForgeContainerSessionOptions}
 * @returns the session
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad option, or when no proxy URL is given or set
 * @example
 * ```ts
 * const forge = forgeContainerSession({ installationId });
 * const res = await authorizedFetch(forge.asApp(), `${forge.proxyUrl}/jira/rest/api/3/myself`);
 * ```
 * @see https://developer.atlassian.com/platform/forge/containers-reference/ref-api/
 */
export function forgeContainerSession(options: ForgeContainerSessionOptions = {}): ForgeContainerSession {
  return new ForgeContainerSession(options);
}
