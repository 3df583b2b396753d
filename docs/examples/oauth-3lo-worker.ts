// A worker that acts for one user of Atlassian or Box (docs/oauth-3lo-worker.md). Every endpoint
// comes from the environment, with the provider's production URL as the default.
import { ExpiredTokensError, PersistentSession, authorizedFetch, createTokenStore, validateTokenInfo } from '../../lib/index.js';

const tokenStore = createTokenStore(process.env.TOKEN_STORE ?? 'sqlite://./.persistent-session/tokens.sqlite');
const provider = process.env.PROVIDER === 'box' ? 'box' : 'atlassian';
const userId = process.env.USER_ID ?? 'user-1';
const key = `${provider}:${userId}`;

/** What the authorization-code grant returned to your OAuth callback (RFC 6749 §5.1); here, from the environment. */
const tokensFromCallback = {
  access_token: process.env.ACCESS_TOKEN ?? '',
  refresh_token: process.env.REFRESH_TOKEN ?? '',
  expires_in: Number(process.env.EXPIRES_IN ?? 3600),
  scope: process.env.SCOPE ?? 'offline_access',
};

// Once, in the OAuth callback: store what the authorization-code grant returned.
if (tokensFromCallback.refresh_token !== '' && (await tokenStore.read(key)) === undefined) {
  await tokenStore.write(key, validateTokenInfo({
    accessToken: tokensFromCallback.access_token,
    refreshToken: tokensFromCallback.refresh_token,
    accessTokenTTLMS: tokensFromCallback.expires_in * 1000,
    acquiredAtMS: Date.now(),
    scope: tokensFromCallback.scope,
  }));
}

function atlassianSession(): PersistentSession {
  return new PersistentSession({
    tokenStore,
    key,
    client: {
      tokenEndpoint: process.env.TOKEN_ENDPOINT ?? 'https://auth.atlassian.com/oauth/token',
      clientId: process.env.CLIENT_ID!,
      clientSecret: process.env.CLIENT_SECRET!,
      authMethod: 'client_secret_post', // Atlassian expects client_id and client_secret in the body
    },
  });
}

function boxSession(): PersistentSession {
  return new PersistentSession({
    tokenStore,
    key,
    client: {
      tokenEndpoint: process.env.TOKEN_ENDPOINT ?? 'https://api.box.com/oauth2/token',
      revocationEndpoint: process.env.REVOCATION_ENDPOINT ?? 'https://api.box.com/oauth2/revoke',
      clientId: process.env.CLIENT_ID!,
      clientSecret: process.env.CLIENT_SECRET!,
      authMethod: 'client_secret_post',
    },
  });
}

/** Your way of reaching the user (an email, a banner in your app); here, a log line. */
async function askUserToReconnect(id: string): Promise<void> {
  console.log(`the grant of ${id} is gone: ask them to connect ${provider} again`);
}

const session = provider === 'box' ? boxSession() : atlassianSession();
const apiUrl = process.env.API_URL
  ?? (provider === 'box' ? 'https://api.box.com/2.0/users/me' : 'https://api.atlassian.com/oauth/token/accessible-resources');
try {
  const res = await authorizedFetch(session, apiUrl);
  console.log(`${key}: ${res.status}`, await res.json());
} catch (err) {
  if (err instanceof ExpiredTokensError) {
    // The grant is dead (revoked, unused for 90 days, or a refresh token replayed outside the
    // reuse interval): forget it everywhere, and ask the user to consent again.
    await session.handleExpiredTokensError(err);
    await askUserToReconnect(userId);
  } else {
    throw err; // transient: network, 5xx, 429 after retries; the stored tokens are untouched
  }
}

if (process.env.DISCONNECT === 'yes') {
  await session.revokeTokens(); // RFC 7009 at Box, then the store key is cleared
  console.log(`${key}: disconnected`);
}
await tokenStore.close();
