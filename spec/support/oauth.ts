import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import type { EmulatorOptions, IssuedTokens } from '../../lib/emulator/index.js';
import { PersistentSession, type PersistentSessionOptions } from '../../lib/session/persistent-session.js';
import type { TokenInfo } from '../../lib/token/token-info.js';
import { recordSecret } from './secrets.js';

/** Starts an emulator whose tokens are all recorded for the secret scan. */
export async function emulator(options?: EmulatorOptions): Promise<Emulator> {
  return startEmulator(options);
}

/** Seeds a token family at the emulator and returns it as a TokenInfo. */
export function seed(
  emu: Emulator,
  options: { ttlSeconds?: number; expired?: boolean; scope?: string; nowMS?: number } = {},
): { issued: IssuedTokens; tokenInfo: TokenInfo } {
  const issued = emu.issueTokens({
    ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
  });
  recordSecret(issued.accessToken, issued.refreshToken);
  if (options.expired === true) emu.expireAccessToken(issued.accessToken);
  const acquiredAtMS = options.expired === true ? (options.nowMS ?? Date.now()) - issued.expiresIn * 1000 - 1000 : issued.acquiredAtMS;
  return {
    issued,
    tokenInfo: {
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      accessTokenTTLMS: issued.expiresIn * 1000,
      acquiredAtMS,
      scope: issued.scope,
      tokenType: 'Bearer',
    },
  };
}

/** A PersistentSession pointed at the emulator with the default client. */
export function sessionFor(emu: Emulator, options: Partial<PersistentSessionOptions> = {}): PersistentSession {
  const session = new PersistentSession({
    client: {
      tokenEndpoint: emu.tokenEndpoint,
      revocationEndpoint: emu.revocationEndpoint,
      clientId: 'test-client',
      clientSecret: 'test-secret',
    },
    retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 2_000 },
    ...options,
  });
  session.on('refresh', () => {});
  return session;
}

/** Records the tokens a session hands out. */
export async function token(session: PersistentSession, options?: { forceRefresh?: boolean }): Promise<string> {
  const t = await session.getAccessToken(options);
  recordSecret(t);
  return t;
}
