// Guide: a worker behind a Forge remote (docs/forge-remote-worker.md).
// #region remember
import { createServer } from 'node:http';
import {
  InvocationTokenError, SystemTokenCache, UserSession, authorizedFetch, createRateLimitQueue, createTokenStore, forgeRemoteExchanger,
  handleInvocation,
} from '../../lib/index.js';

const tokenStore = createTokenStore(process.env.TOKEN_STORE ?? 'sqlite://./.persistent-session/tokens.sqlite');
const systemTokens = new SystemTokenCache({ tokenStore });

// Every invocation of the remote (UI calls, events, the hourly scheduled trigger) brings the
// app system token in `x-forge-oauth-system`. handleInvocation verifies the Forge Invocation Token
// and, only then, remembers the newest system token per installation.
createServer(async (req, res) => {
  try {
    const { installationId, apiBaseUrl } = await handleInvocation(req, { appId: process.env.FORGE_APP_ID!, systemTokens });
    console.log('invocation for', installationId, apiBaseUrl);
    res.writeHead(204).end(); // answer fast: Forge gives events and triggers 5 s
  } catch (err) {
    res.writeHead(err instanceof InvocationTokenError ? 401 : 500).end();
  }
}).listen(8080);
// #endregion remember

// #region worker
// One queue per app: Forge allows 1,000 mints a minute per app, across all installations.
const mintQueue = createRateLimitQueue(1000);

function usersOf(installationId: string, cloudId: string): UserSession {
  return new UserSession({
    exchanger: forgeRemoteExchanger({
      systemToken: systemTokens.source(installationId), // read at each mint; rejects early once expired
      contextAri: `ari:cloud:jira::site/${cloudId}`,
    }),
    tokenStore,
    queue: mintQueue,
  });
}

const users = usersOf(installationId, cloudId);
for (const accountId of accountIds) {
  const res = await authorizedFetch(users.forUser(accountId), `https://api.atlassian.com/ex/jira/${cloudId}/rest/api/3/myself`);
  console.log(accountId, res.status);
}
// #endregion worker

// What the example takes as given (for the type-check only).
declare const cloudId: string;
declare const installationId: string;
declare const accountIds: string[];
