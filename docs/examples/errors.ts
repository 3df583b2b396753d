// Guide: errors and what to do about them (docs/errors.md).
// #region switch
import { PersistentSession, SessionError, UserSession, authorizedFetch } from '../../lib/index.js';

try {
  await authorizedFetch(session, 'https://api.example.com/items');
  await users.getAccessToken(accountId);
} catch (err) {
  if (!(err instanceof SessionError)) throw err;
  switch (err.code) {
    case 'ERR_EXPIRED_TOKENS':       // the grant is dead: ask the user to authorize again
    case 'ERR_IMPERSONATION':        // the gateway refused this user: check the context ARI and scopes
      alert(err.message);
      break;
    case 'ERR_SYSTEM_TOKEN_EXPIRED': // no fresh app system token: is the hourly trigger running?
    case 'ERR_NO_SYSTEM_TOKEN':
    case 'ERR_TOKEN_REQUEST':        // the server kept failing; the stored tokens are intact
    case 'ERR_TOKEN_STORE':          // the store is down; retry later
      throw err;                     // let the job runner retry later
    default:                         // ERR_INVALID_*: a bug in the caller's code
      throw err;
  }
}
// #endregion switch

// What the example takes as given (for the type-check only).
declare const session: PersistentSession;
declare const users: UserSession;
declare const accountId: string;
declare function alert(message: string): void;
