/**
 * A local emulator of the token servers (OAuth 2.0 authorization server, protected resource,
 * Forge GraphQL gateway and product APIs) for tests, benchmarks and demos.
 * @module
 */
export { startEmulator } from './emulator.js';
export { DEFAULT_INVOCATION_TTL_SECONDS, FIT_ISSUER } from './invocations.js';
export { INSTALLATIONS_PER_MINUTE, MAX_INSTALLATIONS_PAGE } from './egress-proxy.js';
export type { Emulator } from './emulator-api.js';
export {
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_EMULATOR_HOST,
  DEFAULT_EMULATOR_MINTS_PER_MINUTE,
  DEFAULT_EMULATOR_PORT,
  DEFAULT_RANDOM_HANG_MS,
  DEFAULT_SCOPE,
  DEFAULT_SYSTEM_TOKEN_TTL_SECONDS,
  DEFAULT_USER_TOKEN_TTL_SECONDS,
  REQUEST_LOG_CAP,
} from './options.js';
export type { EmulatorClient, EmulatorOptions, ForgeEmulatorOptions, RefreshTokenReuseMode } from './options.js';
export type {
  EmulatorCounts,
  EmulatorEndpoint,
  EmulatorState,
  Fault,
  ForgeControls,
  GrantStats,
  IssuedTokens,
  IssueSystemTokenOptions,
  IssueTokensOptions,
  IssueInvocationOptions,
  EgressControls,
  EgressInstallation,
  EgressRequest,
  SignedInvocation,
  RandomFaultKind,
  RandomFaultOptions,
  RecordedRequest,
  TokenFamily,
  TokenState,
  UserTokenState,
} from './types.js';
