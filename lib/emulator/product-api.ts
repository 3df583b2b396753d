/**
 * The emulated product APIs, `/ex/jira/{cloudId}/…` and `/ex/confluence/{cloudId}/…`, which
 * accept Forge user tokens minted for that site and OAuth access tokens.
 * @module
 */
import type { EmulatorContext } from './context.js';
import { bearerToken, json, type IncomingCall, type Reply } from './http.js';
import { unauthorized } from './oauth-server.js';

/** Matches a product API path; group 1 is the product, group 2 the cloud id. */
export const PRODUCT_PATH = /^\/ex\/(jira|confluence)\/([^/?#]+)(?:\/|$)/;

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Any method on a product API path. Answers `{ accountId, cloudId, path, method }` (plus `sub`
 * for OAuth access tokens), where `path` is the request target.
 */
export function handleProduct(call: IncomingCall, ctx: EmulatorContext): Reply {
  const cloudId = safeDecode(PRODUCT_PATH.exec(call.pathname)![2]!);
  const token = bearerToken(call.headers);
  if (token === undefined) return unauthorized(ctx);
  const userToken = ctx.forge.activeUserToken(token);
  if (userToken) {
    if (!userToken.contextIds.some((ari) => ari.includes(cloudId))) {
      return unauthorized(ctx, 'The user token was not minted for this site');
    }
    return json(200, { accountId: userToken.accountId, cloudId, path: call.target, method: call.method });
  }
  const access = ctx.oauth.activeAccess(token);
  if (access) return json(200, { accountId: access.subject, sub: access.subject, cloudId, path: call.target, method: call.method });
  return unauthorized(ctx, 'The token is expired, revoked or unknown');
}
