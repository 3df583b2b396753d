// Guide: serving invocations in a Forge container (docs/forge-containers-worker.md).
// #region invocation
import { createServer } from 'node:http';
import { authorizedFetch, forgeContainerSession } from '../../lib/index.js';

// Calls inside an invocation need no installation id: the invocation id names it.
const forge = forgeContainerSession();

createServer(async (req, res) => {
  // The sidecar has authenticated the invocation; it names it in x-forge-invocation-id.
  const invocationId = String(req.headers['x-forge-invocation-id']);
  // `Forge as=user,accountId=<id>,id=<invocation id>`: the proxy acts as that user, in this invocation.
  const asUser = forge.forUser(accountIdOf(req.url), { invocationId });
  const issue = await authorizedFetch(asUser, `${forge.proxyUrl}/jira/rest/api/3/issue/PROJ-1`);
  res.writeHead(issue.status, { 'content-type': 'application/json' }).end(await issue.text());
}).listen(8080);
// #endregion invocation

/** Your app's way of knowing which user the request is about (for the type-check only). */
declare function accountIdOf(url: string | undefined): string;
