// Guide: a worker in a Forge container (docs/forge-containers-worker.md). A complete program:
// FORGE_EGRESS_PROXY_URL=http://… ACCOUNT_IDS=acct-1,acct-2 node --import tsx docs/examples/forge-containers-worker.ts
// #region worker
import { ImpersonationError, authorizedFetch, createRateLimitQueue, forgeContainerSession, forgeInstallations } from '../../lib/index.js';

// Forge sets FORGE_EGRESS_PROXY_URL in the container; which users to act for is your app's business.
const accountIds = (process.env.ACCOUNT_IDS ?? '').split(',').filter((id) => id !== '');

// One queue per limit and app: installation listings (100 a minute), user-token mints (1,000 a minute).
const installationsQueue = createRateLimitQueue(100);
const mintQueue = createRateLimitQueue(1000);

for (const installation of await forgeInstallations({ installationsQueue })) {
  const forge = forgeContainerSession({
    installationId: installation.id,
    contextAri: installation.installationContext, // saves a lookup in the installations list
    installationsQueue,
    queue: mintQueue,
  });

  // As the app: `forge-proxy-authorization: Forge as=app,installationId=<id>`.
  const app = await authorizedFetch(forge.asApp(), `${forge.proxyUrl}/jira/rest/api/3/serverInfo`);
  console.log(JSON.stringify({ installation: installation.id, as: 'app', status: app.status }));

  // As each user, offline: a user token minted through the proxy, cached per user, sent to the proxy only.
  for (const accountId of accountIds) {
    try {
      const res = await authorizedFetch(forge.forUser(accountId), `${forge.proxyUrl}/jira/rest/api/3/myself`);
      const body = (await res.json()) as { accountId?: string };
      console.log(JSON.stringify({ installation: installation.id, as: accountId, status: res.status, actedAs: body.accountId }));
    } catch (err) {
      // The user cannot be impersonated here (no access to the app, deactivated, …): skip them.
      if (!(err instanceof ImpersonationError)) throw err;
      console.log(JSON.stringify({ installation: installation.id, as: accountId, refused: err.code }));
    }
  }
}
// #endregion worker
