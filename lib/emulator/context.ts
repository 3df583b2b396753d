/**
 * What every handler of the emulator can reach.
 * @module
 */
import type { Clock } from './http.js';
import type { ForgeState } from './forge-state.js';
import type { InvocationSigner } from './invocations.js';
import type { OAuthState } from './oauth-state.js';
import type { ResolvedEmulatorOptions } from './options.js';
import type { EmulatorCounts } from './types.js';

/** Shared state of one running emulator. */
export interface EmulatorContext {
  /** Resolved options. */
  options: ResolvedEmulatorOptions;
  /** The emulator clock. */
  now: Clock;
  /** Live counters. */
  counts: EmulatorCounts;
  /** Authorization-server state. */
  oauth: OAuthState;
  /** Forge gateway state. */
  forge: ForgeState;
  /** Base URL of the emulator, e.g. `http://127.0.0.1:1234`. */
  url: string;
  /** Signs Forge Invocation Tokens and serves their key set. */
  invocations: InvocationSigner;
}

/** Fresh counters, all zero. */
export function zeroCounts(): EmulatorCounts {
  return {
    token: 0,
    refresh: 0,
    exchange: 0,
    invalidGrant: 0,
    revoke: 0,
    resource: 0,
    graphql: 0,
    mint: 0,
    rateLimited: 0,
    product: 0,
    unauthorized: 0,
    jwks: 0,
  };
}
