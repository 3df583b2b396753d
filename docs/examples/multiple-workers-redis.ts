// A worker of a fleet that shares one Redis store (docs/multiple-workers-redis.md). Run as many
// copies at once as you like: the grant is refreshed once per expiry, fleet-wide.
import { KeyvTokenStore, PersistentSession, fingerprint, validateTokenInfo } from '../../lib/index.js';

const tokenStore = new KeyvTokenStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  namespace: process.env.TOKEN_NAMESPACE ?? 'my-app',
  // 32 bytes as 64 hex digits or base64: tokens are encrypted (AES-256-GCM) before they reach Redis.
  encryptionKey: process.env.TOKEN_ENCRYPTION_KEY!,
});

const session = new PersistentSession({
  tokenStore,
  key: 'crm-sync',
  client: {
    tokenEndpoint: process.env.TOKEN_ENDPOINT ?? 'https://auth.example.com/oauth/token',
    clientId: process.env.CLIENT_ID ?? 'my-app',
    clientSecret: process.env.CLIENT_SECRET!,
  },
  lockTTLMS: 30_000, // the lease on the refresh lock; a worker that dies frees it after this long
  // The grant your OAuth callback got (see the 3LO guide), here from the environment. It seeds an
  // empty store; once the store holds tokens for the key, those win.
  ...(process.env.REFRESH_TOKEN === undefined ? {} : {
    tokenInfo: validateTokenInfo({
      accessToken: process.env.ACCESS_TOKEN ?? '',
      refreshToken: process.env.REFRESH_TOKEN,
      accessTokenTTLMS: Number(process.env.EXPIRES_IN ?? 3600) * 1000,
      acquiredAtMS: Date.now(),
    }),
  }),
});
// Any number of processes can run this at once: one refresh per expiry, fleet-wide.
const token = await session.getAccessToken();
console.log(`worker ${process.pid}: access token ${fingerprint(token)}`);

// The store's lock is yours to use too, for work that must run once per key at a time.
await tokenStore.withLock?.('nightly-export', async () => {
  // … only one process at a time gets here
}, { ttlMS: 60_000 });

// Key rotation: the first key encrypts, every key decrypts; records are re-encrypted as they are rewritten.
if (process.env.TOKEN_ENCRYPTION_KEY_NEW !== undefined) {
  const rotated = new KeyvTokenStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    namespace: process.env.TOKEN_NAMESPACE ?? 'my-app',
    encryptionKey: [process.env.TOKEN_ENCRYPTION_KEY_NEW, process.env.TOKEN_ENCRYPTION_KEY!],
  });
  console.log(`the rotated keys read crm-sync: ${(await rotated.read('crm-sync')) === undefined ? 'no' : 'yes'}`);
  await rotated.close();
}
await tokenStore.close();
