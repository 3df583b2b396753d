// Helpers for the UserSession, exchanger and SystemTokenCache specs: a real emulator with a Forge
// installation, exchangers pointed at it, and every token recorded for the secret scan.
import { startEmulator, type Emulator, type EmulatorOptions } from '../../../lib/emulator/index.js';
import { forgeRemoteExchanger, type ForgeRemoteExchangerOptions } from '../../../lib/forge/forge-remote-exchanger.js';
import type { TokenExchanger } from '../../../lib/exchangers/token-exchanger.js';
import { UserSession, type UserSessionOptions } from '../../../lib/session/user-session.js';
import { recordSecret } from '../../support/secrets.js';

export const CLOUD_ID = '11111111-2222-3333-4444-555555555555';
export const SITE = `ari:cloud:jira::site/${CLOUD_ID}`;
export const OTHER_SITE = 'ari:cloud:jira::site/99999999-8888-7777-6666-555555555555';

/** Fast retries for tests that do not drive a fake clock. */
export const FAST_RETRY = { baseDelayMS: 5, maxDelayMS: 20, timeoutMS: 5_000 } as const;

/** An emulator plus one installation on SITE. */
export interface Forge {
  emu: Emulator;
  systemToken: string;
  exchanger(options?: Partial<ForgeRemoteExchangerOptions>): TokenExchanger;
  session(options?: Partial<UserSessionOptions>, exchangerOptions?: Partial<ForgeRemoteExchangerOptions>): UserSession;
}

/** The namespace prefix of a UserSession over the fixture's exchanger: `forge:<gateway host>:`. */
export function forgeNs(forge: Forge): string {
  return `forge:${new URL(forge.emu.graphqlUrl).host}:`;
}

export async function startForge(options: EmulatorOptions = {}, contextAri = SITE): Promise<Forge> {
  const emu = await startEmulator(options);
  const systemToken = emu.forge.issueSystemToken({ contextAri, installationId: 'ari:cloud:ecosystem::installation/inst-1' });
  recordSecret(systemToken);
  const exchanger = (o: Partial<ForgeRemoteExchangerOptions> = {}) =>
    forgeRemoteExchanger({ systemToken, contextAri, gatewayUrl: emu.graphqlUrl, retry: FAST_RETRY, ...o });
  return {
    emu,
    systemToken,
    exchanger,
    session: (o = {}, e = {}) => {
      const s = new UserSession({ exchanger: exchanger(e), ...o });
      s.on('mint', () => {});
      return s;
    },
  };
}

/** Gets a user token and records it for the secret scan. */
export async function userToken(session: { getAccessToken(accountId: string): Promise<string> }, accountId: string): Promise<string> {
  const t = await session.getAccessToken(accountId);
  recordSecret(t);
  return t;
}

/** `acc-0` … `acc-(n-1)`. */
export function accounts(n: number, prefix = 'acc'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}
