// Guide: many worker processes sharing one Redis store (docs/multiple-workers-redis.md).
// #region store
import { KeyvTokenStore, PersistentSession } from '../../lib/index.js';

const tokenStore = new KeyvTokenStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  namespace: 'my-app',
  // 32 bytes as 64 hex digits or base64: tokens are encrypted (AES-256-GCM) before they reach Redis.
  encryptionKey: process.env.TOKEN_ENCRYPTION_KEY!,
});
// #endregion store

// #region using
{
  await using store = new KeyvTokenStore(process.env.REDIS_URL!, { namespace: 'my-app' });
  console.log(await store.keys()); // the store is closed when the block ends, even when it throws
}
// #endregion using

// #region session
const session = new PersistentSession({
  tokenStore,
  key: 'crm-sync',
  client: { tokenEndpoint: 'https://auth.example.com/oauth/token', clientId: 'my-app', clientSecret: process.env.CLIENT_SECRET! },
  lockTTLMS: 30_000, // the lease on the refresh lock; a worker that dies frees it after this long
});
// Any number of processes can run this at once: one refresh per expiry, fleet-wide.
const token = await session.getAccessToken();
// #endregion session

// #region rotate
// Key rotation: the first key encrypts, every key decrypts; records are re-encrypted as they are rewritten.
const rotated = new KeyvTokenStore(process.env.REDIS_URL!, {
  namespace: 'my-app',
  encryptionKey: [process.env.TOKEN_ENCRYPTION_KEY_NEW!, process.env.TOKEN_ENCRYPTION_KEY!],
});
// #endregion rotate

// #region lock
// The store's lock is yours to use too, for work that must run once per key at a time.
await tokenStore.withLock?.('nightly-export', async () => {
  // … only one process at a time gets here
}, { ttlMS: 60_000 });
// #endregion lock

console.log(token.length, rotated.backend);
await tokenStore.close();

// What the example takes as given (for the type-check only).

