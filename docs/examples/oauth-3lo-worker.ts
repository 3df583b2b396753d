// Guide: long-running workers with rotating refresh tokens (docs/oauth-3lo-worker.md).
// #region seed
import { ExpiredTokensError, PersistentSession, authorizedFetch, createTokenStore, validateTokenInfo } from '../../lib/index.js';

const tokenStore = createTokenStore('sqlite://./.persistent-session/tokens.sqlite');

// Once, in the OAuth callback: store what the authorization-code grant returned.
await tokenStore.write(`atlassian:${userId}`, validateTokenInfo({
  accessToken: tokensFromCallback.access_token,
  refreshToken: tokensFromCallback.refresh_token,
  accessTokenTTLMS: tokensFromCallback.expires_in * 1000,
  acquiredAtMS: Date.now(),
  scope: tokensFromCallback.scope,
}));
// #endregion seed

// #region atlassian
const atlassian = new PersistentSession({
  tokenStore,
  key: `atlassian:${userId}`,
  client: {
    tokenEndpoint: 'https://auth.atlassian.com/oauth/token',
    clientId: process.env.ATLASSIAN_CLIENT_ID!,
    clientSecret: process.env.ATLASSIAN_CLIENT_SECRET!,
    authMethod: 'client_secret_post', // Atlassian expects client_id and client_secret in the body
  },
});
// #endregion atlassian

// #region box
const box = new PersistentSession({
  tokenStore,
  key: `box:${userId}`,
  client: {
    tokenEndpoint: 'https://api.box.com/oauth2/token',
    revocationEndpoint: 'https://api.box.com/oauth2/revoke',
    clientId: process.env.BOX_CLIENT_ID!,
    clientSecret: process.env.BOX_CLIENT_SECRET!,
    authMethod: 'client_secret_post',
  },
});
// #endregion box

// #region loop
try {
  const res = await authorizedFetch(atlassian, 'https://api.atlassian.com/oauth/token/accessible-resources');
  console.log(await res.json());
} catch (err) {
  if (err instanceof ExpiredTokensError) {
    // The grant is dead (revoked, unused for 90 days, or a refresh token replayed outside the
    // reuse interval): forget it everywhere, and ask the user to consent again.
    await atlassian.handleExpiredTokensError(err);
    await askUserToReconnect(userId);
  } else {
    throw err; // transient: network, 5xx, 429 after retries; the stored tokens are untouched
  }
}
// #endregion loop

// #region revoke
await box.revokeTokens(); // RFC 7009 at Box, then the store key is cleared
// #endregion revoke

// What the example takes as given (for the type-check only).
declare const tokensFromCallback: { access_token: string; refresh_token: string; expires_in: number; scope: string };
declare const userId: string;
declare function askUserToReconnect(userId: string): Promise<void>;
