// Guide: migrating from @forge-clients/core's OfflineTokenManager (docs/migrating.md). A complete program:
// FORGE_EGRESS_PROXY_URL=… INSTALLATION_ID=… ACCOUNT_IDS=a,b node --import tsx docs/examples/migrating-from-forge-clients.ts
// #region forge-clients
// Before: import { OfflineTokenManager } from '@forge-clients/core';
import { OfflineTokenManager } from '../../lib/index.js';

const proxyUrl = process.env.FORGE_EGRESS_PROXY_URL!;
const tokens = new OfflineTokenManager({ proxyUrl, installationId: process.env.INSTALLATION_ID! });

for (const accountId of (process.env.ACCOUNT_IDS ?? '').split(',').filter((id) => id !== '')) {
  const { expiry } = await tokens.getToken(accountId); // cached until 60 s before expiry
  const client = await tokens.boundClient(accountId); // or boundClient(adapter, accountId), as before
  const res = await client.fetch(`${proxyUrl}/jira/rest/api/3/myself`);
  console.log(JSON.stringify({ accountId, status: res.status, expiresInSeconds: expiry - Math.floor(Date.now() / 1000) }));
}
await tokens.invalidateAll();
// #endregion forge-clients
