// What to do about each error (docs/errors.md): a job that calls an API with one user's grant.
import { PersistentSession, SessionError, authorizedFetch, validateTokenInfo } from '../../lib/index.js';

const session = new PersistentSession({
  client: {
    tokenEndpoint: process.env.TOKEN_ENDPOINT ?? 'https://auth.example.com/oauth/token',
    clientId: process.env.CLIENT_ID ?? 'my-app',
    clientSecret: process.env.CLIENT_SECRET!,
  },
  // The grant your OAuth callback got (see the 3LO guide), here from the environment.
  tokenInfo: validateTokenInfo({
    accessToken: process.env.ACCESS_TOKEN ?? '',
    refreshToken: process.env.REFRESH_TOKEN ?? '',
    accessTokenTTLMS: Number(process.env.EXPIRES_IN ?? 3600) * 1000,
    acquiredAtMS: Date.now(),
  }),
});

/** Your way of reaching the user (an email, a banner in your app); here, a log line. */
function notifyUser(message: string): void {
  console.log(`tell the user: ${message}`);
}

try {
  const res = await authorizedFetch(session, process.env.API_URL ?? 'https://api.example.com/items');
  console.log(`items: ${res.status}`);
} catch (err) {
  if (!(err instanceof SessionError)) throw err;
  switch (err.code) {
    case 'ERR_EXPIRED_TOKENS':       // the grant is dead: ask the user to authorize again
    case 'ERR_IMPERSONATION':        // the gateway refused this user: check the context ARI and scopes
      notifyUser(`${err.code}: ${err.message}`);
      break;
    case 'ERR_SYSTEM_TOKEN_EXPIRED': // no fresh app system token: is the hourly trigger running?
    case 'ERR_NO_SYSTEM_TOKEN':
    case 'ERR_TOKEN_REQUEST':        // the server kept failing; the stored tokens are intact
    case 'ERR_TOKEN_STORE':          // the store is down; retry later
      throw err;                     // let the job runner retry later
    case 'ERR_SYSTEM_TOKEN_MALFORMED': // a damaged system token: fix the configuration
    default:                         // ERR_INVALID_*: a bug in the caller's code
      throw err;
  }
}
