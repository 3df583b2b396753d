/**
 * Client authentication at the token and revocation endpoints.
 * @see https://datatracker.ietf.org/doc/html/rfc6749#section-2.3.1
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { json, type IncomingCall, type Reply } from './http.js';
import type { EmulatorClient } from './options.js';

/** Realm announced in `WWW-Authenticate` challenges. */
export const REALM = 'emulator';

/**
 * An RFC 6749 §5.2 error reply.
 * @param status - HTTP status (400, or 401 for invalid_client).
 * @param error - the error code.
 * @param description - `error_description`.
 * @param headers - extra headers.
 */
export function oauthError(status: number, error: string, description: string, headers?: Record<string, string>): Reply {
  return json(status, { error, error_description: description }, headers);
}

function invalidClient(description: string): Reply {
  return oauthError(401, 'invalid_client', description, { 'WWW-Authenticate': `Basic realm="${REALM}"` });
}

/** The single value of a form parameter; `null` when it is repeated (RFC 6749 §3.2). */
export function single(form: URLSearchParams, name: string): string | undefined | null {
  const values = form.getAll(name);
  if (values.length > 1) return null;
  return values[0];
}

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function secretsMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseBasic(header: string): { id: string; secret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined by ':'.
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? undefined : { id, secret };
}

/** Outcome of client authentication: the client id, or the error reply to send. */
export type ClientAuthOutcome = { clientId: string; reply?: undefined } | { clientId?: undefined; reply: Reply };

/**
 * Authenticates the client of a form request with client_secret_basic, client_secret_post, or
 * `none` for public clients. Using two methods at once is an invalid_request.
 * @param call - the parsed request (its form must be present).
 * @param clients - the registered clients.
 */
export function authenticateClient(call: IncomingCall, clients: EmulatorClient[]): ClientAuthOutcome {
  const form = call.form ?? new URLSearchParams();
  const bodyId = single(form, 'client_id');
  const bodySecret = single(form, 'client_secret');
  if (bodyId === null || bodySecret === null) {
    return { reply: oauthError(400, 'invalid_request', 'client_id and client_secret must not be repeated') };
  }
  const header = call.headers.authorization;
  if (header !== undefined) {
    if (!/^Basic /i.test(header)) return { reply: invalidClient('Unsupported authorization scheme at the token endpoint') };
    if (bodySecret !== undefined) {
      return {
        reply: oauthError(
          400,
          'invalid_request',
          'Use only one client authentication method (Authorization header or client_secret in the body)',
        ),
      };
    }
    const basic = parseBasic(header);
    if (!basic) return invalidClientOutcome('Malformed Basic credentials');
    if (bodyId !== undefined && bodyId !== basic.id) {
      return { reply: oauthError(400, 'invalid_request', 'client_id in the body does not match the Authorization header') };
    }
    return check(clients, basic.id, basic.secret);
  }
  if (bodyId === undefined) return invalidClientOutcome('Client authentication is required');
  return check(clients, bodyId, bodySecret);
}

function invalidClientOutcome(description: string): ClientAuthOutcome {
  return { reply: invalidClient(description) };
}

function check(clients: EmulatorClient[], id: string, secret: string | undefined): ClientAuthOutcome {
  const client = clients.find((candidate) => candidate.clientId === id);
  if (!client) return invalidClientOutcome('Unknown client');
  if (client.clientSecret === undefined) {
    // A public client proves nothing; sending a secret means it thinks it is confidential.
    return secret === undefined ? { clientId: id } : invalidClientOutcome('This client is public and has no secret');
  }
  if (secret === undefined) return invalidClientOutcome('This client must authenticate with its secret');
  return secretsMatch(client.clientSecret, secret) ? { clientId: id } : invalidClientOutcome('Wrong client secret');
}
