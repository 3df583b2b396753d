/**
 * The peer libraries the benchmarks compare against, built the way their users build them, with
 * every endpoint pointed at the emulator. box-node-sdk 3.x is CommonJS without usable ESM types, so
 * it is loaded through `createRequire` and typed here by the little the benchmarks use.
 */
import { createRequire } from 'node:module';
import { OAuth2Client } from 'google-auth-library';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../lib/emulator/index.js';

const require = createRequire(import.meta.url);

/** The part of box-node-sdk's `PersistentSession` the benchmarks call. */
export interface BoxPersistentSession {
  getAccessToken(): PromiseLike<string>;
}

interface BoxSdk {
  getPersistentClient(tokenInfo: BoxTokenInfo, tokenStore?: BoxTokenStore): { _session: BoxPersistentSession };
}

/** Box's TokenInfo shape. */
export interface BoxTokenInfo {
  accessToken: string;
  refreshToken: string;
  accessTokenTTLMS: number;
  acquiredAtMS: number;
}

/** Box's callback-style TokenStore. */
export interface BoxTokenStore {
  read(cb: (err: Error | null, info?: BoxTokenInfo) => void): void;
  write(info: BoxTokenInfo, cb: (err: Error | null) => void): void;
  clear(cb: (err: Error | null) => void): void;
}

/**
 * box-node-sdk's `PersistentSession`, as `getPersistentClient` builds it (the session is the
 * client's `_session`), with its API root at the emulator.
 */
export function boxPersistentSession(apiRootURL: string, tokenInfo: BoxTokenInfo, tokenStore?: BoxTokenStore): BoxPersistentSession {
  const BoxSDK = require('box-node-sdk') as new (options: Record<string, unknown>) => BoxSdk;
  const sdk = new BoxSDK({ clientID: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET, apiRootURL });
  return sdk.getPersistentClient(tokenInfo, tokenStore)._session;
}

/** A Box TokenStore over one in-memory record. */
export function boxMemoryStore(initial: BoxTokenInfo): BoxTokenStore & { reads: number } {
  let info: BoxTokenInfo | undefined = initial;
  const store = {
    reads: 0,
    read(cb: (err: Error | null, info?: BoxTokenInfo) => void) {
      store.reads++;
      cb(null, info);
    },
    write(next: BoxTokenInfo, cb: (err: Error | null) => void) {
      info = next;
      cb(null);
    },
    clear(cb: (err: Error | null) => void) {
      info = undefined;
      cb(null);
    },
  };
  return store;
}

/** Credentials as google-auth-library keeps them. */
export interface GoogleCredentials {
  access_token: string;
  refresh_token?: string;
  expiry_date: number;
}

/**
 * google-auth-library's `OAuth2Client`, its token endpoint at the emulator (`endpoints.oauth2TokenUrl`;
 * it authenticates with client_secret_post, which the emulator accepts).
 */
export function googleClient(tokenEndpoint: string, credentials?: GoogleCredentials): OAuth2Client {
  const client = new OAuth2Client({
    clientId: DEFAULT_CLIENT_ID,
    clientSecret: DEFAULT_CLIENT_SECRET,
    endpoints: { oauth2TokenUrl: tokenEndpoint },
  });
  if (credentials !== undefined) client.setCredentials(credentials);
  return client;
}
