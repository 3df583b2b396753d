export { PersistentSession, DEFAULT_SESSION_KEY, PERSIST_RETRY_INTERVAL_MS, TOKEN_EXCHANGE_GRANT, ACCESS_TOKEN_TYPE } from './session/persistent-session.js';
export { DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_EXTRA_WAIT_MS, MIN_LOCK_TTL_MS, LEASE_LOST_WARNING } from './store/locks/lease.js';
export type { PersistentSessionOptions, OAuthClientOptions, GetAccessTokenOptions, ExchangeTokenOptions } from './session/persistent-session.js';
export { validateTokenInfo, redactTokenInfo, expiresAtMS, isFresh } from './token/token-info.js';
export type { TokenInfo, RedactedTokenInfo } from './token/token-info.js';
export { validateTokenStore } from './store/token-store.js';
export type { TokenStore, LockOptions } from './store/token-store.js';
export { KeyvTokenStore, createTokenStore, DEFAULT_STORE_NAMESPACE, DEFAULT_STORE_OPERATION_TIMEOUT_MS } from './store/keyv-token-store.js';
export type { KeyvTokenStoreOptions, StoreWarning } from './store/keyv-token-store.js';
export type { EncryptionKey } from './store/record-codec.js';
export {
  SessionError, InvalidTokenInfoError, InvalidTokenStoreError, InvalidArgumentError, TokenStoreError,
  ExpiredTokensError, TokenRequestError, ImpersonationError, SystemTokenExpiredError,
} from './errors.js';
export { ERROR_DIAGNOSTICS_CHANNEL } from './errors.js';
export type { SessionErrorCode, SessionErrorOptions, HttpErrorOptions } from './errors.js';
export { fingerprint, redactText } from './redact.js';
export { diagnosticsChannel, SESSION_EVENT_NAMES, PERSISTENT_SESSION_EVENT_NAMES, USER_SESSION_EVENT_NAMES, DIAGNOSTICS_CHANNEL_PREFIX } from './events.js';
export type {
  SessionEvent, SessionEventName, SessionEventMap, SessionEventBase, RefreshEvent, RefreshErrorEvent,
  ExchangeEvent, RevokeEvent, ExpiredEvent, MintEvent, MintErrorEvent,
  PersistentSessionEvent, PersistentSessionEventMap, UserSessionEvent, UserSessionEventMap,
} from './events.js';
export { DEFAULT_EXPIRED_BUFFER_MS } from './session/persistent-session-options.js';
export { DEFAULT_REFRESH_BUFFER_SECONDS, DEFAULT_MINTS_PER_MINUTE } from './session/user-session-options.js';
export { DEFAULT_MAX_ATTEMPTS, DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_MAX_RETRY_AFTER_MS, DEFAULT_TOKEN_TTL_MS } from './oauth/retry-options.js';
export type { RetryOptions } from './oauth/retry-options.js';
export type { ClientAuthMethod } from './oauth/token-request.js';
export { authorizedFetch, RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE } from './fetch/authorized-fetch.js';
export type { AuthSession } from './fetch/authorized-fetch.js';
export { sessionAuth, DEFAULT_MAX_REPLAY_BODY_BYTES } from './fetch/session-auth.js';
export type { SessionAuthOptions } from './fetch/session-auth.js';
export { UserSession } from './session/user-session.js';
export type { UserSessionOptions, UserSessionView, RateLimitOptions, UserSessionCallOptions } from './session/user-session.js';
export type { TokenExchanger, TokenSource } from './exchangers/token-exchanger.js';
export { forgeRemoteExchanger, DEFAULT_FORGE_GATEWAY_URL, OFFLINE_USER_AUTH_TOKEN_MUTATION } from './forge/forge-remote-exchanger.js';
export type { ForgeRemoteExchangerOptions } from './forge/forge-remote-exchanger.js';
export { oauthTokenExchanger, DEFAULT_REQUESTED_SUBJECT_PARAMETER } from './exchangers/oauth-exchanger.js';
export type { OAuthTokenExchangerOptions, SubjectTokenSession } from './exchangers/oauth-exchanger.js';
export { SystemTokenCache, DEFAULT_SYSTEM_TOKEN_NAMESPACE, API_BASE_URL_SCOPE_PREFIX, MAX_SYSTEM_TOKEN_LIFETIME_MS } from './forge/system-token-cache.js';
export type { SystemTokenCacheOptions, SystemTokenRecord, RememberOptions, SystemTokenSource } from './forge/system-token-cache.js';
export { RateLimitQueue, createRateLimitQueue, RATE_LIMIT_WINDOW_MS, MAX_RATE_LIMIT_REQUEUES } from './session/rate-limit-queue.js';
export type { RateLimitQueueOptions, RateLimitTaskOptions } from './session/rate-limit-queue.js';
