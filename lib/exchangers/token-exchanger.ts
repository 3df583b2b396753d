/**
 * The TokenExchanger contract: how a {@link UserSession} obtains a user token for an account.
 *
 * @module
 */
import type { TokenInfo } from '../token/token-info.js';

/**
 * Mints a short-lived token that acts as one user (offline user impersonation). A
 * {@link UserSession} caches what it returns, per account, and asks again before it expires.
 *
 * Implementations send one request per call and do no caching of their own; the session provides
 * single flight, rate limiting and persistence.
 *
 * @example
 * ```ts
 * const exchanger: TokenExchanger = {
 *   describe: () => 'custom:my-app',
 *   exchange: async (accountId) => ({ accessToken: await mint(accountId), accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() }),
 * };
 * const users = new UserSession({ exchanger: exchanger });
 * ```
 */
export interface TokenExchanger {
  /**
   * Mints a token for `accountId`.
   *
   * @param accountId - the account to act as
   * @returns the new token, with its lifetime and the time it was obtained
   */
  exchange(accountId: string): Promise<TokenInfo>;
  /**
   * A stable, token-free description of where tokens come from (e.g.
   * `forge:<gateway host>:<installationId>:<contextAri>`). A UserSession derives its default store
   * namespace from it, so it must differ between installations and stay the same across processes
   * and restarts.
   *
   * @returns the description
   */
  describe(): string;
}

/**
 * An app token: a string, or a function returning one (or a promise of one), called before each
 * request, e.g. `systemTokenCache.source(installationId)`.
 */
export type TokenSource = string | (() => string | Promise<string>);
