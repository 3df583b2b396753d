/**
 * A {@link PersistentSession}'s RFC 8693 exchange: its current access token traded for a narrower one, which
 * is returned to the caller and never stored (the session's own grant stays as it is).
 *
 * @module
 */
import { SessionError } from '../errors.js';
import { publish } from '../events.js';
import { tokenInfoFrom } from '../oauth/oauth-client.js';
import type { TokenInfo } from '../token/token-info.js';
import type { GrantKeeper } from './grant-keeper.js';

/**
 * @internal Exchanges the access token `subjectToken` yields (see PersistentSession.exchangeToken) and emits
 * `exchange` with the outcome.
 * @param subjectToken - obtains the subject token (the session's getAccessToken)
 */
export async function exchangeToken(
  k: GrantKeeper,
  subjectToken: () => Promise<string>,
  scope: string,
  resource: string | undefined,
  actorToken: string | undefined,
): Promise<TokenInfo> {
  const subject = await subjectToken();
  const event = { key: k.key, ...(scope ? { scope } : {}), ...(resource === undefined ? {} : { resource }) };
  try {
    const parsed = await k.oauth.exchange(subject, {
      scope,
      ...(resource === undefined ? {} : { resource }),
      ...(actorToken === undefined ? {} : { actorToken }),
    });
    const info = tokenInfoFrom(parsed, k.now(), { scope });
    publish(k.events, { type: 'exchange', atMS: k.now(), outcome: 'ok', ...event });
    return info;
  } catch (err) {
    publish(k.events, { type: 'exchange', atMS: k.now(), outcome: err instanceof SessionError ? err.code : 'ERR_UNKNOWN', ...event });
    throw err;
  }
}
