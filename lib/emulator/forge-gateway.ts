/**
 * The emulated Forge GraphQL gateway: `POST /graphql` with the `offlineUserAuthToken` mutation
 * (offline user impersonation from a Forge remote).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { EmulatorContext } from './context.js';
import { bearerToken, json, randomSlice, type IncomingCall, type Reply } from './http.js';
import { bearerChallenge } from './oauth-server.js';

/** The impersonation request carried by a recognised mutation. */
export interface MintRequest {
  /** Context ARIs. */
  contextIds: string[];
  /** Account to impersonate. */
  userId: string;
}

const NAME = '[_A-Za-z][_0-9A-Za-z]*';

function graphqlError(status: number, message: string, headers?: Record<string, string>): Reply {
  return json(status, { errors: [{ message }] }, headers);
}

function extensions(): Record<string, unknown> {
  return {
    gateway: {
      request_id: randomUUID(),
      trace_id: randomSlice(16).toString('hex'),
      crossRegion: false,
      edgeCrossRegion: false,
    },
  };
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === 'string' && id.length > 0);
}

function declares(query: string, variable: string): boolean {
  return new RegExp(`^\\s*mutation\\b[^{]*\\$${variable}\\s*:`).test(query);
}

/** Resolves one inline argument: a `$variable`, a string literal, or a list of string literals. */
function inlineValue(raw: string, variables: Record<string, unknown>, query: string): unknown {
  const value = raw.trim();
  const variable = new RegExp(`^\\$(${NAME})$`).exec(value);
  if (variable) return declares(query, variable[1]!) ? variables[variable[1]!] : undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/**
 * Recognises the `offlineUserAuthToken` mutation in its `$input` form and its inline form.
 * @returns the request, or an error message for a 400.
 */
export function parseMintMutation(query: string, variables: Record<string, unknown>): MintRequest | string {
  const text = query.replace(/#[^\n]*/g, '');
  if (!/^\s*mutation\b/.test(text) || !/\bofflineUserAuthToken\s*\(/.test(text)) {
    return 'No offlineUserAuthToken mutation found in the document';
  }
  const byVariable = new RegExp(`\\bofflineUserAuthToken\\s*\\(\\s*input\\s*:\\s*\\$(${NAME})\\s*\\)`).exec(text);
  if (byVariable) {
    const name = byVariable[1]!;
    if (!declares(text, name)) return `Variable "$${name}" is not defined by operation`;
    const input = variables[name] as { contextIds?: unknown; userId?: unknown } | undefined;
    if (
      input === null ||
      typeof input !== 'object' ||
      !isIdList(input.contextIds) ||
      typeof input.userId !== 'string' ||
      input.userId.length === 0
    ) {
      return `Variable "$${name}" of required type "OfflineUserAuthTokenInput!" was not provided or is invalid`;
    }
    return { contextIds: input.contextIds, userId: input.userId };
  }
  const inline = /\bofflineUserAuthToken\s*\(\s*input\s*:\s*\{([^}]*)\}\s*\)/.exec(text);
  if (!inline) return 'offlineUserAuthToken needs an input argument';
  const fields: Record<string, unknown> = {};
  for (const match of inline[1]!.matchAll(new RegExp(`(${NAME})\\s*:\\s*(\\$${NAME}|"(?:[^"\\\\]|\\\\.)*"|\\[[^\\]]*\\])`, 'g'))) {
    fields[match[1]!] = inlineValue(match[2]!, variables, text);
  }
  if (typeof fields.userId !== 'string' || fields.userId.length === 0)
    return 'Argument "userId" of required type "String!" was not provided';
  if (!isIdList(fields.contextIds)) return 'Argument "contextIds" of required type "[ID!]!" was not provided';
  return { contextIds: fields.contextIds, userId: fields.userId };
}

/**
 * `POST /graphql`: authenticates the app system token, applies the per-app mint budget, checks
 * the contexts and the user, and mints a user token.
 */
export async function handleGraphql(call: IncomingCall, ctx: EmulatorContext): Promise<Reply> {
  if (call.method !== 'POST') return graphqlError(405, 'Use POST', { Allow: 'POST' });
  const token = bearerToken(call.headers);
  const installationId = token === undefined ? undefined : await ctx.forge.verifySystemToken(token);
  if (installationId === undefined) {
    ctx.counts.unauthorized += 1;
    const challenge = bearerChallenge(token === undefined ? undefined : 'The system token is expired or invalid');
    return json(401, { code: 401, message: 'Unauthorized' }, { 'WWW-Authenticate': challenge });
  }
  const body = call.json as { query?: unknown; variables?: unknown } | undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return graphqlError(400, 'The body must be a JSON object (content-type: application/json)');
  if (typeof body.query !== 'string') return graphqlError(400, 'The body needs a "query" string');
  const variables = body.variables ?? {};
  if (variables === null || typeof variables !== 'object' || Array.isArray(variables))
    return graphqlError(400, '"variables" must be an object');
  const request = parseMintMutation(body.query, variables as Record<string, unknown>);
  if (typeof request === 'string') return graphqlError(400, request);
  const retryAfter = ctx.forge.admit();
  if (retryAfter !== undefined) {
    ctx.counts.rateLimited += 1;
    return json(
      429,
      { errors: [{ message: 'Rate limit exceeded', extensions: { statusCode: 429 } }] },
      { 'Retry-After': String(retryAfter) },
    );
  }
  if (!ctx.forge.mayImpersonate(installationId, request.contextIds, request.userId)) {
    const message = `Could not load permissions for app user in the provided contextIds of [${request.contextIds.join(', ')}]`;
    return json(200, {
      data: { offlineUserAuthToken: { success: false, errors: [{ message }], authToken: null } },
      extensions: extensions(),
    });
  }
  const minted = ctx.forge.mint(installationId, request.contextIds, request.userId);
  ctx.counts.mint += 1;
  return json(200, {
    data: { offlineUserAuthToken: { success: true, errors: minted.errors, authToken: { token: minted.token, ttl: minted.ttl } } },
    extensions: extensions(),
  });
}
