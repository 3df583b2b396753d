export { PersistentSession } from './session/persistent-session.js';
export type {
  PersistentSessionOptions,
  OAuthClientOptions,
  GetAccessTokenOptions,
  ExchangeTokenOptions,
} from './session/persistent-session.js';
export type { RefreshIfOlderThanOptions } from './session/persistent-session.js';
export { SessionPool } from './session/session-pool.js';
export type { SessionPoolOptions, SessionPoolEventMap, SweepOptions, SweepProgress, SweepResult } from './session/session-pool.js';
export { LEASE_LOST_WARNING } from './store/locks/lease.js';
export { validateTokenInfo, redactTokenInfo, expiresAtMS, isFresh } from './token/token-info.js';
export type { TokenInfo, RedactedTokenInfo } from './token/token-info.js';
export type { GrantHealth } from './token/grant-health.js';
export { validateTokenStore } from './store/token-store.js';
export type { TokenStore, LockOptions } from './store/token-store.js';
export { KeyvTokenStore, createTokenStore } from './store/keyv-token-store.js';
export type { KeyvTokenStoreOptions, StoreWarning } from './store/keyv-token-store.js';
export type { EncryptionKey } from './store/record-codec.js';
export {
  SessionError,
  InvalidTokenInfoError,
  InvalidTokenStoreError,
  InvalidArgumentError,
  TokenStoreError,
  ExpiredTokensError,
  TokenRequestError,
  ImpersonationError,
  SystemTokenExpiredError,
} from './errors.js';
export {
  ERR_INVALID_TOKEN_INFO,
  ERR_INVALID_TOKEN_STORE,
  ERR_INVALID_ARG_VALUE,
  ERR_TOKEN_STORE,
  ERR_EXPIRED_TOKENS,
  ERR_TOKEN_REQUEST,
  ERR_IMPERSONATION,
  ERR_SYSTEM_TOKEN_EXPIRED,
  ERR_NO_SYSTEM_TOKEN,
  ERR_SYSTEM_TOKEN_MALFORMED,
  ERR_INVALID_INVOCATION_TOKEN,
} from './errors.js';
export { ERROR_DIAGNOSTICS_CHANNEL } from './errors.js';
export type { SessionErrorCode, SessionErrorOptions, HttpErrorOptions, GrantDeathReason } from './errors.js';
export { fingerprint, redactText } from './redact.js';
export { diagnosticsChannel, SESSION_EVENT_NAMES, PERSISTENT_SESSION_EVENT_NAMES, USER_SESSION_EVENT_NAMES } from './events.js';
export type {
  SessionEvent,
  SessionEventName,
  SessionEventMap,
  SessionEventBase,
  RefreshEvent,
  RefreshErrorEvent,
  GrantDeadEvent,
  ExchangeEvent,
  RevokeEvent,
  ExpiredEvent,
  MintEvent,
  MintErrorEvent,
  PersistentSessionEvent,
  PersistentSessionEventMap,
  UserSessionEvent,
  UserSessionEventMap,
} from './events.js';
export type { RetryOptions } from './oauth/retry-options.js';
export type { ClientAuthMethod } from './oauth/token-request.js';
export { authorizedFetch, RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE } from './fetch/authorized-fetch.js';
export type { AuthSession } from './fetch/authorized-fetch.js';
export { sessionAuth } from './fetch/session-auth.js';
export type { SessionAuthOptions } from './fetch/session-auth.js';
export { UserSession } from './session/user-session.js';
export type { UserSessionOptions, UserSessionView, RateLimitOptions, UserSessionCallOptions } from './session/user-session.js';
export type { TokenExchanger, TokenSource } from './exchangers/token-exchanger.js';
export { forgeRemoteExchanger } from './forge/forge-remote-exchanger.js';
export type { ForgeRemoteExchangerOptions } from './forge/forge-remote-exchanger.js';
export { oauthTokenExchanger } from './exchangers/oauth-exchanger.js';
export type { OAuthTokenExchangerOptions, SubjectTokenSession } from './exchangers/oauth-exchanger.js';
export { SystemTokenCache } from './forge/system-token-cache.js';
export type { SystemTokenCacheOptions, SystemTokenRecord, RememberOptions, SystemTokenSource } from './forge/system-token-cache.js';
export { RateLimitQueue, createRateLimitQueue } from './session/rate-limit-queue.js';
export type { RateLimitQueueOptions, RateLimitTaskOptions } from './session/rate-limit-queue.js';
export { InvocationTokenError } from './errors.js';
export { handleInvocation } from './forge/invocation.js';
export type {
  HandleInvocationOptions,
  ForgeInvocation,
  InvocationHeaders,
  PlainHeaders,
  HeaderGetterLike,
  RequestLike,
} from './forge/invocation.js';
export type { AuthHeader } from './fetch/auth-session.js';
export {
  ForgeContainerSession,
  forgeContainerSession,
  forgeInstallations,
} from './forge/forge-container-session.js';
export type {
  ForgeContainerSessionOptions,
  ForgeCallContext,
  ForgeContainerView,
  ForgeInstallationsOptions,
} from './forge/forge-container-session.js';
export type { ForgeInstallation } from './forge/forge-installations.js';
export { OfflineTokenManager } from './forge/offline-token-manager.js';
export type {
  OfflineTokenManagerOptions,
  RemoteOfflineTokenManagerOptions,
  ContainerOfflineTokenManagerOptions,
  OfflineUserToken,
  BoundUserClient,
  OfflineUserAuthContext,
} from './forge/offline-token-manager.js';
export { fromBoxTokenStore } from './compat/box-token-store.js';
export type { BoxStyleTokenStore, BoxTokenInfo, BoxTokenStoreOptions } from './compat/box-token-store.js';
