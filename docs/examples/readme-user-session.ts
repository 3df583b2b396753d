// README: UserSession, every user of one Forge installation, offline.
// #region readme
import { SystemTokenCache, UserSession, authorizedFetch, createTokenStore, forgeRemoteExchanger } from '../../lib/index.js';

// installationId and cloudId come with each invocation of your Forge remote.
const tokenStore = createTokenStore('sqlite://./.persistent-session/tokens.sqlite');
const systemTokens = new SystemTokenCache({ tokenStore }); // fed by the remote's handler, see the Forge guide
const users = new UserSession({
  exchanger: forgeRemoteExchanger({
    systemToken: systemTokens.source(installationId),
    contextAri: `ari:cloud:jira::site/${cloudId}`,
  }),
  tokenStore,
});

// Minted on first use, cached per user, minted again shortly before it expires.
const token = await users.getAccessToken('5b10ac8d82e05b22cc7d4ef5');
const res = await authorizedFetch(users.forUser('5b10ac8d82e05b22cc7d4ef5'), `https://api.atlassian.com/ex/jira/${cloudId}/rest/api/3/myself`);
console.log(token.length, res.status);
// #endregion readme

// What the example takes as given (for the type-check only).
declare const installationId: string;
declare const cloudId: string;
