// Guide: migrating a Forge remote from @forge-clients/core's ForgeRemoteTokenManager (docs/migrating.md).
// #region remote
import { OfflineTokenManager, SystemTokenCache, forgeRemoteExchanger } from '../../lib/index.js';

const systemTokens = new SystemTokenCache(); // filled by handleInvocation() on every invocation

// Before: new ForgeRemoteTokenManager({ proxyUrl, installationId, appSystemToken })
const tokens = new OfflineTokenManager({
  exchanger: forgeRemoteExchanger({ systemToken: systemTokens.source(installationId), contextAri: `ari:cloud:jira::site/${cloudId}` }),
});
const { accessToken } = await tokens.getToken(accountId);
// #endregion remote
console.log(accessToken.length);

// What the example takes as given (for the type-check only).
declare const installationId: string;
declare const cloudId: string;
declare const accountId: string;
