// Guide: thousands of customer grants in one worker (docs/many-grants.md). A complete program:
// `node --import tsx docs/examples/many-grants.ts` runs it against an emulator it starts itself;
// with TOKEN_ENDPOINT, RESOURCE_URL and STORE_URI set it runs against those (the spec does that).
import { tmpdir } from 'node:os';
import { startEmulator } from '../../lib/emulator/index.js';
// #region imports
import { ExpiredTokensError, SessionPool, createTokenStore } from '../../lib/index.js';
// #endregion imports

const env = process.env;
// Demo mode: an emulator, and customers who authorized the app (what your OAuth callback stores).
const emulator = env.TOKEN_ENDPOINT === undefined ? await startEmulator({ refreshTokenIdleTTLMS: 30 * 86_400_000 }) : undefined;
const STORE_URI = env.STORE_URI ?? `sqlite://${tmpdir()}/many-grants-example.sqlite`;
const seedStore = createTokenStore(STORE_URI);
if (emulator !== undefined) {
  for (let i = 0; i < Number(env.CUSTOMERS ?? 200); i++) {
    const t = emulator.issueTokens();
    await seedStore.write(`customer:${i}`, {
      accessToken: t.accessToken, refreshToken: t.refreshToken, accessTokenTTLMS: t.expiresIn * 1000,
      acquiredAtMS: Date.now() - 2 * 86_400_000, // authorized two days ago, idle since
    });
  }
}
await seedStore.close();
const TOKEN_ENDPOINT = env.TOKEN_ENDPOINT ?? emulator!.tokenEndpoint;
const RESOURCE_URL = env.RESOURCE_URL ?? emulator!.resourceUrl;
const CLIENT_SECRET = env.CLIENT_SECRET ?? 'test-secret';

// #region pool
const tokenStore = createTokenStore(STORE_URI);
const pool = new SessionPool({
  tokenStore,
  client: { tokenEndpoint: TOKEN_ENDPOINT, clientId: 'test-client', clientSecret: CLIENT_SECRET },
  rateLimit: { perMinute: 600 }, // every refresh of the pool, on demand or swept, shares this budget
  keepAlive: { everyMS: 24 * 3_600_000 }, // refresh grants idle for 12 h or more, once a day
});
// #endregion pool

// #region serve
async function callApiFor(customerId: string): Promise<number> {
  const session = pool.get(`customer:${customerId}`);
  const token = await pool.getAccessToken(`customer:${customerId}`);
  const res = await fetch(RESOURCE_URL, { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 401) await session.handleExpiredTokensError(Object.assign(new Error('401'), { status: 401 }));
  return res.status;
}
// #endregion serve

// #region sweep
pool.on('sweepProgress', (p) => {
  if (p.done % 100 === 0 || p.done === p.total) console.error(`swept ${p.done}/${p.total}: ${p.refreshed} refreshed`);
});
const result = await pool.sweep({ olderThanMS: 12 * 3_600_000 });
console.log(JSON.stringify({ swept: result.total, refreshed: result.refreshed, skipped: result.skipped, dead: result.deadKeys }));
// #endregion sweep

// #region dead
for (const key of result.deadKeys) {
  // The customer must authorize the app again; until then their session rejects with ExpiredTokensError.
  const err = await pool.getAccessToken(key).catch((e: unknown) => e);
  console.log(JSON.stringify({ key, reauthorize: err instanceof ExpiredTokensError }));
}
// #endregion dead

const statuses = await Promise.all(['0', '1', '2'].map(callApiFor));
console.log(JSON.stringify({ statuses, liveSessions: pool.size, cachedTokens: pool.cachedTokens }));

// #region close
await pool.close(); // or: await using pool = new SessionPool(…)
await tokenStore.close(); // the pool does not close the store it was given
// #endregion close
await emulator?.close();
