// README: PersistentSession, one OAuth 2.0 grant kept valid for as long as the worker runs.
// #region readme
import { PersistentSession, authorizedFetch, createTokenStore } from '../../lib/index.js';

// The tokens of the user's authorization were written to the store once (see the 3LO guide).
const session = new PersistentSession({
  tokenStore: createTokenStore('sqlite://./.persistent-session/tokens.sqlite'),
  key: 'crm-sync',
  client: {
    tokenEndpoint: 'https://auth.atlassian.com/oauth/token',
    clientId: process.env.CLIENT_ID!,
    clientSecret: process.env.CLIENT_SECRET!,
    authMethod: 'client_secret_post',
  },
});

// Refreshes when needed (once, however many callers), persists the rotated refresh token first.
const token = await session.getAccessToken();
// Or let it handle a 401: fresh token, one retry.
const res = await authorizedFetch(session, 'https://api.atlassian.com/oauth/token/accessible-resources');
console.log(token.length, res.status);
// #endregion readme

// What the example takes as given (for the type-check only).

