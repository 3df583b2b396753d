/**
 * `persistent-session/defaults`: the values the library uses when an option is left out, the
 * limits it enforces, and the format of the records it writes. Import them to derive your own
 * settings from the defaults, to show them, or to read the library's records from another tool; the
 * package root leaves them out so that its exports are the things you call and the types you write.
 *
 * @example
 * ```ts
 * import { DEFAULT_EXPIRED_BUFFER_MS } from 'persistent-session/defaults';
 * const session = new PersistentSession({ client, tokenStore, refreshBufferMS: 2 * DEFAULT_EXPIRED_BUFFER_MS });
 * ```
 *
 * @module
 */
export { DEFAULT_SESSION_KEY } from './session/persistent-session.js';
export { DEFAULT_EXPIRED_BUFFER_MS } from './session/persistent-session-options.js';
export { DEFAULT_REFRESH_AHEAD_RATIO, DEFAULT_REFRESH_COOLDOWN_MS, REFRESH_BACKOFF_BASE_MS } from './session/held-token.js';
export { DEFAULT_REFRESH_BUFFER_SECONDS, DEFAULT_MINTS_PER_MINUTE } from './session/user-session-options.js';
export { RATE_LIMIT_WINDOW_MS } from './session/rate-limit-queue.js';
export { DEFAULT_MAX_SESSIONS, DEFAULT_MAX_CACHED_TOKENS, DEFAULT_POOL_CONCURRENCY } from './session/session-pool-options.js';
export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_BASE_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_MAX_RETRY_AFTER_MS,
  DEFAULT_TOKEN_TTL_MS,
} from './oauth/retry-options.js';
export { DEFAULT_STORE_NAMESPACE, DEFAULT_STORE_OPERATION_TIMEOUT_MS } from './store/keyv-token-store.js';
export { DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_EXTRA_WAIT_MS, MIN_LOCK_TTL_MS } from './store/locks/lease.js';
export { DEFAULT_MAX_REPLAY_BODY_BYTES } from './fetch/session-auth.js';
export { DEFAULT_REQUESTED_SUBJECT_PARAMETER } from './exchangers/oauth-exchanger.js';
export { DEFAULT_FORGE_GATEWAY_URL } from './forge/forge-remote-exchanger.js';
export { DEFAULT_SYSTEM_TOKEN_NAMESPACE, MAX_SYSTEM_TOKEN_LIFETIME_MS, API_BASE_URL_SCOPE_PREFIX } from './forge/system-token-cache.js';
export { DEFAULT_FORGE_JWKS_URL } from './forge/invocation.js';
export { FORGE_EGRESS_PROXY_URL_ENV, INSTALLATIONS_PER_MINUTE } from './forge/forge-container-session.js';
