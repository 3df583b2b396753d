/**
 * A drop-in for `OfflineTokenManager` of `@forge-clients/core`: the same calls (`getToken`,
 * `invalidate`, `invalidateAll`, `boundClient`, `refreshBufferSeconds`), served by a `UserSession`
 * — so one import switches a worker to cached, single-flight, rate-limited mints, over a Forge
 * remote (any exchanger, e.g. `forgeRemoteExchanger`) or a Forge container (the egress proxy).
 *
 * @module
 */
import type { Dispatcher, RequestInfo, RequestInit, Response } from 'undici';
import type PQueue from 'p-queue';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { TokenExchanger } from '../exchangers/token-exchanger.js';
import { authorizedFetch } from '../fetch/authorized-fetch.js';
import type { AuthSession } from '../fetch/auth-session.js';
import { UserSession } from '../session/user-session.js';
import type { TokenStore } from '../store/token-store.js';
import { DEFAULT_REFRESH_BUFFER_SECONDS } from '../session/user-session-options.js';
import { checkKnownKeys, checkNumber, checkObject, checkString } from '../util/validate.js';
import { ForgeContainerSession } from './forge-container-session.js';

/** A user token, as `OfflineTokenManager.getToken` resolves it. */
export interface OfflineUserToken {
  /** The account. */
  accountId: string;
  /** The user token. */
  accessToken: string;
  /** When it expires, epoch ms. */
  expiresAt: number;
  /** When it expires, epoch **seconds** (the field name and unit of `@forge-clients/core`). */
  expiry: number;
}

/** Options shared by both backends. */
interface CommonOptions {
  /**
   * A token with less than this left is minted again (capped at half its lifetime).
   * @default 60
   */
  refreshBufferSeconds?: number;
  /** Where tokens persist, shared by the app's workers. */
  tokenStore?: TokenStore;
  /** The app's shared mint queue. */
  queue?: PQueue;
}

/** Over a Forge remote (or any exchanger): `{ exchanger: forgeRemoteExchanger({ systemToken, contextAri }) }`. */
export interface RemoteOfflineTokenManagerOptions extends CommonOptions {
  /** How user tokens are minted. */
  exchanger: TokenExchanger;
  /** Store namespace (see `UserSession`). */
  namespace?: string;
}

/** Over a Forge container: the options of `@forge-clients/core`, `{ proxyUrl, installationId }`. */
export interface ContainerOfflineTokenManagerOptions extends CommonOptions {
  /** The egress proxy. @default process.env.FORGE_EGRESS_PROXY_URL */
  proxyUrl?: string;
  /** The installation. */
  installationId: string;
  /** Its context ARI. @default looked up in the installations list */
  contextAri?: string;
  /** undici dispatcher for the mints. */
  dispatcher?: Dispatcher;
}

/** Options of {@link OfflineTokenManager}: a remote's exchanger, or a container's proxy and installation. */
export type OfflineTokenManagerOptions = RemoteOfflineTokenManagerOptions | ContainerOfflineTokenManagerOptions;

/** The `authContext` of a bound client, as `@forge-clients/core` builds it. */
export interface OfflineUserAuthContext {
  /** Always `offlineUser`. */
  type: 'offlineUser';
  /** The account. */
  accountId: string;
  /** The user token. */
  accessToken: string;
}

/** What {@link OfflineTokenManager.boundClient} returns: a fetch bound to one user. */
export interface BoundUserClient {
  /** The account. */
  readonly accountId: string;
  /** The adapter given to `boundClient(adapter, accountId)`, as `@forge-clients/core` keeps it. */
  readonly adapter: unknown;
  /** `{ type: 'offlineUser', accountId, accessToken }` as `@forge-clients/core` builds it (not enumerable: it holds a token). */
  readonly authContext: OfflineUserAuthContext;
  /** `authorizedFetch` as this user: the token is attached, and a 401 gets one retry with a fresh one. */
  fetch(input: RequestInfo, init?: RequestInit): Promise<Response>;
}

const REMOTE = ['exchanger', 'namespace', 'refreshBufferSeconds', 'tokenStore', 'queue'] as const;
const CONTAINER = ['proxyUrl', 'installationId', 'contextAri', 'dispatcher', 'refreshBufferSeconds', 'tokenStore', 'queue'] as const;

/**
 * `OfflineTokenManager` with the calls of `@forge-clients/core`, over a {@link UserSession}.
 *
 * @example
 * ```ts
 * // was: import { OfflineTokenManager } from '@forge-clients/core';
 * const tokens = new OfflineTokenManager({ proxyUrl: process.env.FORGE_EGRESS_PROXY_URL, installationId });
 * const { accessToken, expiry } = await tokens.getToken(accountId);
 * ```
 */
export class OfflineTokenManager {
  /** Seconds before expiry at which a token is minted again. */
  readonly refreshBufferSeconds: number;
  /** The session that mints and caches (its counters, events and `revokeTokens` are all there). */
  readonly users: UserSession;
  readonly #container: ForgeContainerSession | undefined;
  /** Expiry of the token held per account, as the session's `mint` events report it. */
  readonly #expiries = new Map<string, number>();

  /**
   * @param options - see {@link OfflineTokenManagerOptions}
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad option
   */
  constructor(options: OfflineTokenManagerOptions) {
    checkObject(options as unknown, 'options');
    const remote = 'exchanger' in options && options.exchanger !== undefined;
    checkKnownKeys(options as unknown as Record<string, unknown>, remote ? REMOTE : CONTAINER, 'options');
    const buffer = options.refreshBufferSeconds ?? DEFAULT_REFRESH_BUFFER_SECONDS;
    this.refreshBufferSeconds = checkNumber(buffer, 'refreshBufferSeconds', { min: 0 });
    const common = {
      refreshBufferSeconds: this.refreshBufferSeconds,
      ...(options.tokenStore === undefined ? {} : { tokenStore: options.tokenStore }),
      ...(options.queue === undefined ? {} : { queue: options.queue }),
    };
    if (remote) {
      const o = options as RemoteOfflineTokenManagerOptions;
      this.users = new UserSession({ exchanger: o.exchanger, ...common, ...(o.namespace === undefined ? {} : { namespace: o.namespace }) });
    } else {
      const o = options as ContainerOfflineTokenManagerOptions;
      this.#container = new ForgeContainerSession({
        installationId: checkString(o.installationId, 'installationId'),
        ...(o.proxyUrl === undefined ? {} : { proxyUrl: o.proxyUrl }),
        ...(o.contextAri === undefined ? {} : { contextAri: o.contextAri }),
        ...(o.dispatcher === undefined ? {} : { dispatcher: o.dispatcher }),
        ...common,
      });
      this.users = this.#container.users;
    }
    this.users.on('mint', (e) => {
      this.#expiries.set(e.accountId, e.expiresAtMS);
    });
  }

  /**
   * A valid token for the user: the cached one while it has more than `refreshBufferSeconds` left,
   * else a new one. Concurrent calls for one user share one mint.
   * @param accountId - the user
   * @returns `{ accountId, accessToken, expiresAt, expiry }`
   * @throws as `UserSession.getAccessToken` (`ImpersonationError`, `SystemTokenExpiredError`, `TokenRequestError`, …)
   */
  async getToken(accountId: string): Promise<OfflineUserToken> {
    const accessToken = await this.users.getAccessToken(accountId);
    const expiresAt = this.#expiries.get(accountId) ?? Number.NaN;
    return { accountId, accessToken, expiresAt, expiry: Math.floor(expiresAt / 1000) };
  }

  /**
   * Forgets the user's token (in memory and in the store), so that the next `getToken` mints.
   * @param accountId - the user
   * @returns when forgotten (callers of the original may ignore it)
   */
  invalidate(accountId: string): Promise<void> {
    this.#expiries.delete(accountId);
    return this.users.revokeTokens(accountId);
  }

  /**
   * Forgets every user's token.
   * @returns when forgotten
   */
  invalidateAll(): Promise<void> {
    this.#expiries.clear();
    return this.users.revokeTokens();
  }

  /**
   * A client bound to one user: `fetch` sends requests as that user (`authorizedFetch`), and
   * `adapter`/`authContext` are what `@forge-clients/core`'s generated functions read.
   * @param adapterOrAccountId - the adapter (as in `@forge-clients/core`), or the account alone
   * @param accountId - the account, when an adapter comes first
   * @returns the bound client
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` without an account id; and as {@link OfflineTokenManager.getToken}
   */
  async boundClient(adapterOrAccountId: unknown, accountId?: string): Promise<BoundUserClient> {
    const account = accountId ?? adapterOrAccountId;
    if (typeof account !== 'string' || account === '') {
      throw new InvalidArgumentError(
        'accountId',
        `Expected an account id, as boundClient(accountId) or boundClient(adapter, accountId), got ${describeValue(account)}`,
      );
    }
    const adapter = accountId === undefined ? undefined : adapterOrAccountId;
    const { accessToken } = await this.getToken(account);
    const view: AuthSession = this.#container === undefined ? this.users.forUser(account) : this.#container.forUser(account);
    const client = { accountId: account, adapter, fetch: (input: RequestInfo, init?: RequestInit) => authorizedFetch(view, input, init) };
    const authContext = Object.freeze({ type: 'offlineUser', accountId: account, accessToken });
    Object.defineProperty(client, 'authContext', { value: authContext, enumerable: false });
    return client as BoundUserClient;
  }

  /** JSON form, never a token. */
  toJSON(): Record<string, unknown> {
    return { refreshBufferSeconds: this.refreshBufferSeconds, users: this.users.toJSON() };
  }
}
