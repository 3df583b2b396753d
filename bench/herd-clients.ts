/**
 * The contenders of the herd benchmark. Each factory takes `n` accounts whose tokens have expired
 * and returns `get(account)`, the call that 20 concurrent callers per account make.
 *
 * OAuth refresh (rotating refresh tokens, reuse detection on): ours (one PersistentSession per
 * account), google-auth-library (one OAuth2Client per account), and a naive cache.
 * Forge mint: ours (one UserSession for every account), and a naive cache over the same exchanger.
 */
import { request } from 'undici';
import { PersistentSession, UserSession, forgeRemoteExchanger, isFresh, type TokenInfo } from '../lib/index.js';
import { OFFLINE_USER_AUTH_TOKEN_MUTATION } from '../lib/forge/forge-remote-exchanger.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../lib/emulator/index.js';
import type { RemoteEmulator } from './emulator-process.js';
import { googleClient } from './peers.js';

/** What a contender gives the herd: the call, by account index. */
export type Getter = (account: number) => Promise<string>;

/** Token families seeded at the emulator; the clients are told their access tokens expired an hour ago. */
export type Families = Array<{ accessToken: string; refreshToken: string }>;

const HOUR = 3_600_000;

/**
 * Ours: a PersistentSession per account (the default in-process store), as a long-running worker
 * holds them: each has served its token once (so it has read its store), then its clock moves two
 * hours on and every access token has expired.
 */
export async function oursOAuth(emu: RemoteEmulator, families: Families): Promise<Getter> {
  const client = { tokenEndpoint: emu.tokenEndpoint, clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET };
  let offsetMS = 0;
  const now = () => Date.now() + offsetMS;
  const sessions = families.map(
    (t) =>
      new PersistentSession({
        tokenInfo: { accessToken: t.accessToken, refreshToken: t.refreshToken, accessTokenTTLMS: HOUR, acquiredAtMS: Date.now() },
        client,
        now,
      }),
  );
  await Promise.all(sessions.map((s) => s.getAccessToken()));
  offsetMS = 2 * HOUR;
  return (a) => sessions[a]!.getAccessToken();
}

/** google-auth-library: an OAuth2Client per account, `expiry_date` in the past. */
export function googleOAuth(emu: RemoteEmulator, families: Families): Getter {
  const clients = families.map((t) =>
    googleClient(emu.tokenEndpoint, { access_token: t.accessToken, refresh_token: t.refreshToken, expiry_date: Date.now() - HOUR }),
  );
  return async (a) => (await clients[a]!.getAccessToken()).token!;
}

/** A naive cache: a Map checked before refreshing, no single flight. */
export function naiveOAuth(emu: RemoteEmulator, families: Families): Getter {
  const cache = new Map<number, { accessToken: string; refreshToken: string; expiresAtMS: number }>();
  for (const [i, t] of families.entries()) cache.set(i, { ...t, expiresAtMS: Date.now() - HOUR });
  const authorization = `Basic ${Buffer.from(`${DEFAULT_CLIENT_ID}:${DEFAULT_CLIENT_SECRET}`).toString('base64')}`;
  return async (a) => {
    const held = cache.get(a)!;
    if (held.expiresAtMS > Date.now()) return held.accessToken;
    const res = await request(emu.tokenEndpoint, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: held.refreshToken }).toString(),
    });
    const body = (await res.body.json()) as { access_token?: string; refresh_token?: string; expires_in?: number; error?: string };
    if (res.statusCode !== 200 || body.access_token === undefined) throw new Error(`refresh failed: ${res.statusCode} ${body.error}`);
    cache.set(a, {
      accessToken: body.access_token,
      refreshToken: body.refresh_token ?? held.refreshToken,
      expiresAtMS: Date.now() + (body.expires_in ?? 3600) * 1000,
    });
    return body.access_token;
  };
}

/**
 * The physical floor of the OAuth flow: one bare undici POST per key, shared by its callers through
 * a Map of promises (the least any correct client must do), with no expiry check, store or events.
 */
export function floorOAuth(emu: RemoteEmulator, families: Families): Getter {
  const authorization = `Basic ${Buffer.from(`${DEFAULT_CLIENT_ID}:${DEFAULT_CLIENT_SECRET}`).toString('base64')}`;
  const flights = new Map<number, Promise<string>>();
  const refresh = async (a: number) => {
    const res = await request(emu.tokenEndpoint, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${families[a]!.refreshToken}`,
    });
    return ((await res.body.json()) as { access_token: string }).access_token;
  };
  return (a) => {
    let flight = flights.get(a);
    if (flight === undefined) {
      flight = refresh(a);
      flights.set(a, flight);
    }
    return flight;
  };
}

/** A Forge installation on the emulator, with a clock that benchmarks can move forward. */
export interface ForgeSetup {
  /** The exchanger's and the sessions' clock: real time plus `skip`. */
  now: () => number;
  /** Moves that clock forward (expires every user token held). */
  skip(ms: number): void;
  systemToken: string;
  contextAri: string;
}

/** Registers an installation; the emulator should mint user tokens shorter-lived than its system token. */
export async function forgeSetup(emu: RemoteEmulator, contextAri = 'ari:cloud:jira::site/bench-herd'): Promise<ForgeSetup> {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    skip: (ms) => {
      offset += ms;
    },
    systemToken: await emu.issueSystemToken({ contextAri, ttlSeconds: 7 * 24 * 3600 }),
    contextAri,
  };
}

function exchangerOf(emu: RemoteEmulator, f: ForgeSetup) {
  return forgeRemoteExchanger({ systemToken: f.systemToken, contextAri: f.contextAri, gatewayUrl: emu.graphqlUrl, now: f.now });
}

/**
 * Ours: one UserSession for all accounts. The rate limit is raised out of the way, as the herd is
 * about single flight (the limiter is benchmark 3's subject).
 */
export function oursForge(emu: RemoteEmulator, f: ForgeSetup): { get: Getter; session: UserSession } {
  const session = new UserSession({ exchanger: exchangerOf(emu, f), now: f.now, rateLimit: { perMinute: 1_000_000 } });
  return { get: (a) => session.getAccessToken(`acc-${a}`), session };
}

/** The physical floor of the Forge flow: one bare undici POST of the mutation per key, shared by its callers. */
export function floorForge(emu: RemoteEmulator, f: ForgeSetup): Getter {
  const flights = new Map<number, Promise<string>>();
  const headers = { authorization: `Bearer ${f.systemToken}`, 'content-type': 'application/json' };
  const mint = async (a: number) => {
    const body = JSON.stringify({
      query: OFFLINE_USER_AUTH_TOKEN_MUTATION,
      variables: { input: { contextIds: [f.contextAri], userId: `acc-${a}` } },
    });
    const res = await request(emu.graphqlUrl, { method: 'POST', headers, body });
    return ((await res.body.json()) as { data: { offlineUserAuthToken: { authToken: { token: string } } } }).data.offlineUserAuthToken
      .authToken.token;
  };
  return (a) => {
    let flight = flights.get(a);
    if (flight === undefined) {
      flight = mint(a);
      flights.set(a, flight);
    }
    return flight;
  };
}

/** A naive cache over the same exchanger: a Map checked before minting, no single flight. */
export function naiveForge(emu: RemoteEmulator, f: ForgeSetup): Getter {
  const exchanger = exchangerOf(emu, f);
  const cache = new Map<number, TokenInfo>();
  return async (a) => {
    const held = cache.get(a);
    if (held !== undefined && isFresh(held, f.now(), 60_000)) return held.accessToken;
    const info = await exchanger.exchange(`acc-${a}`);
    cache.set(a, info);
    return info.accessToken;
  };
}
