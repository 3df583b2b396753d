// Guide: a worker behind a Forge remote (docs/forge-remote-worker.md).
// #region remember
import { createServer, type IncomingMessage } from 'node:http';
import {
  SystemTokenCache, UserSession, authorizedFetch, createRateLimitQueue, createTokenStore, forgeRemoteExchanger,
} from '../../lib/index.js';

const tokenStore = createTokenStore(process.env.TOKEN_STORE ?? 'sqlite://./.persistent-session/tokens.sqlite');
const systemTokens = new SystemTokenCache({ tokenStore });

// Every invocation of the remote (UI calls, events, the hourly scheduled trigger) brings the
// app system token in `x-forge-oauth-system`: remember the newest one per installation.
createServer(async (req, res) => {
  const { installationId, apiBaseUrl } = await verifyInvocation(req);
  const systemToken = req.headers['x-forge-oauth-system'];
  if (typeof systemToken === 'string') await systemTokens.remember(installationId, systemToken, { apiBaseUrl });
  res.writeHead(204).end(); // answer fast: Forge gives events and triggers 5 s
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
/** Your verification of the Forge Invocation Token (a JWT in `Authorization`), e.g. with jose. */
declare function verifyInvocation(req: IncomingMessage): Promise<{ installationId: string; apiBaseUrl: string; cloudId: string }>;
declare const cloudId: string;
declare const installationId: string;
declare const accountIds: string[];
