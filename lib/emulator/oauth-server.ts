/**
 * The emulated authorization server: token endpoint (refresh and token exchange), revocation
 * endpoint and a protected resource.
 * @module
 */
import { authenticateClient, oauthError, REALM, single } from './client-auth.js';
import type { EmulatorContext } from './context.js';
import { bearerToken, json, type IncomingCall, type Reply } from './http.js';
import { isSubset, parseScope } from './oauth-records.js';

/** `grant_type` of the refresh grant. */
export const GRANT_REFRESH = 'refresh_token';
/** `grant_type` of token exchange (RFC 8693). */
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** The access-token token type URI of RFC 8693 §3. */
export const TOKEN_TYPE_ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

function methodNotAllowed(allow: string): Reply {
  return json(405, { error: 'method_not_allowed', error_description: `Use ${allow}` }, { Allow: allow });
}

function requireForm(call: IncomingCall): Reply | undefined {
  if (call.method !== 'POST') return methodNotAllowed('POST');
  if (call.mediaType !== 'application/x-www-form-urlencoded') {
    return oauthError(400, 'invalid_request', 'The body must be application/x-www-form-urlencoded');
  }
  return undefined;
}

/**
 * `POST /oauth/token`.
 * @see https://datatracker.ietf.org/doc/html/rfc6749#section-6
 * @see https://datatracker.ietf.org/doc/html/rfc8693#section-2
 */
export function handleToken(call: IncomingCall, ctx: EmulatorContext): Reply {
  const reply = tokenReply(call, ctx);
  if ((reply.body as { error?: unknown } | undefined)?.error === 'invalid_grant') ctx.counts.invalidGrant += 1;
  return { ...reply, headers: { ...reply.headers, ...NO_STORE } };
}

function tokenReply(call: IncomingCall, ctx: EmulatorContext): Reply {
  const bad = requireForm(call);
  if (bad) return bad;
  const auth = authenticateClient(call, ctx.options.clients);
  if (auth.reply) return auth.reply;
  const form = call.form!;
  const grantType = single(form, 'grant_type');
  if (grantType === null) return oauthError(400, 'invalid_request', 'grant_type must not be repeated');
  if (!grantType) return oauthError(400, 'invalid_request', 'grant_type is required');
  if (grantType === GRANT_REFRESH) return refreshGrant(form, auth.clientId, ctx);
  if (grantType === GRANT_TOKEN_EXCHANGE) return exchangeGrant(form, auth.clientId, ctx);
  return oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported here`);
}

/** Reads the optional `scope`; `null` means it is repeated or empty. */
function requestedScope(form: URLSearchParams): string[] | undefined | null {
  const scope = single(form, 'scope');
  if (scope === undefined) return undefined;
  if (scope === null) return null;
  const parsed = parseScope(scope);
  return parsed.length === 0 ? null : parsed;
}

function refreshGrant(form: URLSearchParams, clientId: string, ctx: EmulatorContext): Reply {
  const token = single(form, 'refresh_token');
  if (token === null) return oauthError(400, 'invalid_request', 'refresh_token must not be repeated');
  if (!token) return oauthError(400, 'invalid_request', 'refresh_token is required');
  const scope = requestedScope(form);
  if (scope === null) return oauthError(400, 'invalid_scope', 'scope must be a single non-empty value');
  const result = ctx.oauth.refresh(clientId, token, scope);
  if ('error' in result) return oauthError(400, result.error, result.description);
  const body: Record<string, unknown> = {
    access_token: result.accessToken,
    token_type: 'Bearer',
    expires_in: result.expiresIn,
  };
  if (result.refreshToken !== undefined) body.refresh_token = result.refreshToken;
  // Sent by servers with an absolute grant lifetime, so that clients can tell its deadline.
  if (result.refreshTokenExpiresIn !== undefined) body.refresh_token_expires_in = result.refreshTokenExpiresIn;
  body.scope = result.scope;
  return json(200, body);
}

function isAbsoluteUri(value: string): boolean {
  // RFC 8707 §2: an absolute URI without a fragment.
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) || value.includes('#')) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function exchangeGrant(form: URLSearchParams, clientId: string, ctx: EmulatorContext): Reply {
  const invalid = (description: string): Reply => oauthError(400, 'invalid_request', description);
  const names = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'requested_subject'];
  const params: Record<string, string | undefined> = {};
  for (const name of names) {
    const value = single(form, name);
    if (value === null) return invalid(`${name} must not be repeated`);
    params[name] = value;
  }
  if (!params.subject_token) return invalid('subject_token is required');
  if (!params.subject_token_type) return invalid('subject_token_type is required');
  if (params.subject_token_type !== TOKEN_TYPE_ACCESS) return invalid(`subject_token_type must be ${TOKEN_TYPE_ACCESS}`);
  if ((params.actor_token === undefined) !== (params.actor_token_type === undefined)) {
    return invalid('actor_token and actor_token_type go together'); // RFC 8693 §2.1
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== TOKEN_TYPE_ACCESS) {
    return invalid(`Only ${TOKEN_TYPE_ACCESS} can be issued`);
  }
  for (const resource of form.getAll('resource')) {
    if (!isAbsoluteUri(resource)) return oauthError(400, 'invalid_target', 'resource must be an absolute URI without a fragment');
  }
  if (form.getAll('audience').some((audience) => audience.length === 0))
    return oauthError(400, 'invalid_target', 'audience must not be empty');
  const requestedSubject = params.requested_subject;
  if (requestedSubject !== undefined) {
    if (requestedSubject.length === 0) return invalid('requested_subject must not be empty');
    const users = ctx.options.users;
    if (users && !users.includes(requestedSubject)) return invalid('requested_subject is not a known account');
  }
  // RFC 8693 §2.2.2: an unusable subject token is invalid_request, not invalid_grant.
  const subject = ctx.oauth.activeAccess(params.subject_token);
  if (!subject) return invalid('subject_token is not an active access token');
  const scope = requestedScope(form);
  if (scope === null) return oauthError(400, 'invalid_scope', 'scope must be a single non-empty value');
  if (scope && !isSubset(scope, subject.scope))
    return oauthError(400, 'invalid_scope', 'The requested scope exceeds the subject token scope');
  const granted = scope ?? subject.scope;
  const issued = ctx.oauth.exchange(clientId, requestedSubject ?? subject.subject, granted);
  return json(200, {
    access_token: issued.token,
    issued_token_type: TOKEN_TYPE_ACCESS,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: granted.join(' '),
  });
}

/**
 * `POST /oauth/revoke`. Unknown and already revoked tokens still get 200.
 * @see https://datatracker.ietf.org/doc/html/rfc7009#section-2
 */
export function handleRevoke(call: IncomingCall, ctx: EmulatorContext): Reply {
  const bad = requireForm(call);
  if (bad) return bad;
  const auth = authenticateClient(call, ctx.options.clients);
  if (auth.reply) return auth.reply;
  const token = single(call.form!, 'token');
  if (token === null) return oauthError(400, 'invalid_request', 'token must not be repeated');
  if (!token) return oauthError(400, 'invalid_request', 'token is required');
  // token_type_hint only speeds up the lookup; an unknown hint is ignored (RFC 7009 §2.1).
  ctx.oauth.revoke(token, auth.clientId);
  return { status: 200, raw: '', headers: NO_STORE };
}

/**
 * The `WWW-Authenticate` challenge of a 401 from a protected resource.
 * @param description - why the token was refused; omitted when no token was sent (RFC 6750 §3.1).
 */
export function bearerChallenge(description?: string): string {
  if (description === undefined) return `Bearer realm="${REALM}"`;
  return `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
}

/**
 * A 401 from a protected resource, counted in `unauthorized`.
 * @param ctx - the emulator context.
 * @param description - why the token was refused; undefined when none was sent.
 */
export function unauthorized(ctx: EmulatorContext, description?: string): Reply {
  ctx.counts.unauthorized += 1;
  const body =
    description === undefined
      ? { error: 'unauthorized', error_description: 'A Bearer token is required' }
      : { error: 'invalid_token', error_description: description };
  return json(401, body, { 'WWW-Authenticate': bearerChallenge(description) });
}

/**
 * `GET /api/resource`: a protected resource that accepts access and exchanged tokens.
 * @see https://datatracker.ietf.org/doc/html/rfc6750#section-3.1
 */
export function handleResource(call: IncomingCall, ctx: EmulatorContext): Reply {
  if (call.method !== 'GET') return methodNotAllowed('GET');
  const token = bearerToken(call.headers);
  if (token === undefined) return unauthorized(ctx);
  const record = ctx.oauth.activeAccess(token);
  if (!record) return unauthorized(ctx, 'The access token is expired, revoked or unknown');
  return json(200, { ok: true, sub: record.subject, scope: record.scope.join(' '), clientId: record.clientId });
}
