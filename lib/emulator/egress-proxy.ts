/**
 * The emulated Forge Containers egress sidecar (`FORGE_EGRESS_PROXY_URL`), on a port of its own so
 * that it is an origin of its own: it reads `forge-proxy-authorization`, impersonates the app or
 * the user it names on `/jira/…` and `/confluence/…`, mints user tokens on `/atlassian/graphql/`,
 * and lists installations on `/v1/installations` (100 requests a minute). It records every request
 * with the credential headers it carried, so that tests can count them.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { EmulatorContext } from './context.js';
import { parseMintMutation } from './forge-gateway.js';
import { MINT_WINDOW_MS, parseContextAri } from './forge-state.js';
import { bearerToken, json, readBody, toCall, type IncomingCall, type Reply } from './http.js';
import { assertNumber, assertUsers } from './options.js';
import type { EgressControls, EgressInstallation, EgressRequest } from './types.js';

/** The documented limit of `GET /v1/installations`, per app and minute. */
export const INSTALLATIONS_PER_MINUTE = 100;
/** Largest (and default) page of `GET /v1/installations`. */
export const MAX_INSTALLATIONS_PAGE = 100;

interface Installation extends EgressInstallation {
  users: string[] | '*';
}
interface Invocation {
  installationId: string;
  accountId: string | undefined;
}
interface Principal {
  as: 'app' | 'user';
  accountId: string | null;
  installation: Installation;
  via: 'invocation' | 'installation' | 'token';
}

/** Parses `Forge as=user,accountId=…,id=…`; undefined when it is not of that form. */
export function parseProxyAuthorization(value: string): Record<string, string> | undefined {
  const match = /^Forge\s+(.*)$/.exec(value.trim());
  if (!match) return undefined;
  const fields: Record<string, string> = {};
  for (const part of match[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return fields;
}

/** The emulated sidecar. */
export class EgressProxy implements EgressControls {
  readonly #ctx: () => EmulatorContext;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #installations = new Map<string, Installation>();
  readonly #invocations = new Map<string, Invocation>();
  #log: EgressRequest[] = [];
  #window: number[] = [];
  #perMinute = INSTALLATIONS_PER_MINUTE;
  #url = '';

  constructor(ctx: () => EmulatorContext) {
    this.#ctx = ctx;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  get url(): string {
    return this.#url;
  }

  async listen(host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address() as { address: string; family: string; port: number };
    this.#url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  addInstallation(options: { id?: string; contextAri?: string; users?: string[] | '*'; version?: string } = {}): EgressInstallation {
    const id = options.id ?? randomUUID();
    const contextAri = options.contextAri ?? `ari:cloud:jira::site/${randomUUID()}`;
    const users = assertUsers('users', options.users ?? '*');
    const version = options.version ?? '1.0.0';
    const record: Installation = { id, installationContext: contextAri, version, secondaryInstallationContexts: [], users };
    this.#installations.set(id, record);
    this.#ctx().forge.addContext(contextAri, users);
    return { id, installationContext: contextAri, version: record.version, secondaryInstallationContexts: [] };
  }

  startInvocation(options: { installationId: string; accountId?: string }): string {
    if (!this.#installations.has(options.installationId)) throw new Error('startInvocation: unknown installation');
    const id = randomUUID();
    this.#invocations.set(id, { installationId: options.installationId, accountId: options.accountId });
    return id;
  }

  setInstallationsPerMinute(n: number): void {
    this.#perMinute = assertNumber('installationsPerMinute', n, 0, true);
  }

  requests(): EgressRequest[] {
    return this.#log.map((r) => ({ ...r, proxyAuthorization: [...r.proxyAuthorization] }));
  }

  resetRequests(): void {
    this.#log = [];
  }

  /** Who a request acts as, from its one `forge-proxy-authorization` header or a user token; a string says why not. */
  #principal(call: IncomingCall, header: string | undefined): Principal | string {
    const ctx = this.#ctx();
    if (header === undefined) {
      const token = bearerToken(call.headers);
      const user = token === undefined ? undefined : ctx.forge.activeUserToken(token);
      const installation = user === undefined ? undefined : this.#installations.get(user.installationId);
      if (user === undefined || installation === undefined) return 'No forge-proxy-authorization header and no valid user token';
      return { as: 'user', accountId: user.accountId, installation, via: 'token' };
    }
    const fields = parseProxyAuthorization(header);
    if (fields === undefined) return 'The forge-proxy-authorization header is not of the form `Forge key=value,…`';
    let installation: Installation | undefined;
    let invoker: string | undefined;
    let via: Principal['via'];
    if (fields.id !== undefined) {
      const invocation = this.#invocations.get(fields.id);
      installation = invocation === undefined ? undefined : this.#installations.get(invocation.installationId);
      invoker = invocation?.accountId;
      via = 'invocation';
    } else if (fields.installationId !== undefined) {
      installation = this.#installations.get(fields.installationId);
      via = 'installation';
    } else {
      return 'The forge-proxy-authorization header names neither an invocation (id=) nor an installation (installationId=)';
    }
    if (installation === undefined) return 'Unknown invocation or installation';
    if ((fields.as ?? 'app') === 'app') return { as: 'app', accountId: null, installation, via };
    if (fields.as !== 'user') return `Unknown \`as=${fields.as}\``;
    const accountId = fields.accountId ?? invoker;
    if (accountId === undefined) return 'as=user without accountId, outside an invocation with a user';
    const known = ctx.options.users;
    if ((known && !known.includes(accountId)) || (installation.users !== '*' && !installation.users.includes(accountId))) {
      return 'The account cannot be impersonated in this installation';
    }
    return { as: 'user', accountId, installation, via };
  }

  #listInstallations(call: IncomingCall): Reply {
    const now = this.#ctx().now();
    this.#window = this.#window.filter((t) => t > now - MINT_WINDOW_MS);
    if (this.#window.length >= this.#perMinute) {
      const retryAfter = Math.max(1, Math.ceil((this.#window[0]! + MINT_WINDOW_MS - now) / 1000));
      return json(429, { message: 'Rate limit exceeded' }, { 'Retry-After': String(retryAfter) });
    }
    this.#window.push(now);
    const query = new URLSearchParams(call.target.split('?')[1] ?? '');
    const asked = Number(query.get('pageSize') ?? MAX_INSTALLATIONS_PAGE) || MAX_INSTALLATIONS_PAGE;
    const pageSize = Math.min(MAX_INSTALLATIONS_PAGE, Math.max(1, asked));
    const cursor = query.get('cursor');
    const offset = cursor === null ? 0 : Number(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Number.isSafeInteger(offset) || offset < 0) return json(400, { message: 'Invalid cursor' });
    const all = [...this.#installations.values()];
    const page = all.slice(offset, offset + pageSize).map(({ users: _users, ...rest }) => ({
      ...rest,
      secondaryInstallationContexts: [...rest.secondaryInstallationContexts],
    }));
    const next = offset + pageSize < all.length ? Buffer.from(String(offset + pageSize)).toString('base64url') : null;
    return json(200, { installations: page, cursor: next });
  }

  #graphql(call: IncomingCall, who: Principal): Reply {
    const ctx = this.#ctx();
    if (who.as !== 'app') return json(403, { errors: [{ message: 'offlineUserAuthToken needs the app context (as=app)' }] });
    const body = call.json as { query?: unknown; variables?: unknown } | undefined;
    if (body === null || typeof body !== 'object' || typeof body.query !== 'string') {
      return json(400, { errors: [{ message: 'The body needs a "query" string' }] });
    }
    const request = parseMintMutation(body.query, (body.variables ?? {}) as Record<string, unknown>);
    if (typeof request === 'string') return json(400, { errors: [{ message: request }] });
    const retryAfter = ctx.forge.admit();
    if (retryAfter !== undefined) {
      ctx.counts.rateLimited += 1;
      return json(429, { errors: [{ message: 'Rate limit exceeded' }] }, { 'Retry-After': String(retryAfter) });
    }
    const installationId = who.installation.id;
    if (!ctx.forge.mayImpersonate(installationId, request.contextIds, request.userId)) {
      const message = `Could not load permissions for app user in the provided contextIds of [${request.contextIds.join(', ')}]`;
      return json(200, { data: { offlineUserAuthToken: { success: false, errors: [{ message }], authToken: null } } });
    }
    const minted = ctx.forge.mint(installationId, request.contextIds, request.userId);
    ctx.counts.mint += 1;
    const authToken = { token: minted.token, ttl: minted.ttl };
    return json(200, { data: { offlineUserAuthToken: { success: true, errors: minted.errors, authToken } } });
  }

  #route(call: IncomingCall, entry: EgressRequest): Reply {
    if (/^\/v[01]\/installations\/?$/.test(call.pathname) && call.method === 'GET') return this.#listInstallations(call);
    const product = /^\/(jira|confluence)(\/.*)?$/.exec(call.pathname);
    const graphql = /^\/atlassian\/graphql\/?$/.test(call.pathname);
    if (!product && !graphql) return json(404, { message: `No route for ${call.pathname}` });
    if (entry.proxyAuthorization.length > 1) return json(400, { message: 'More than one forge-proxy-authorization header' });
    const who = this.#principal(call, entry.proxyAuthorization[0]);
    if (typeof who === 'string') {
      this.#ctx().counts.unauthorized += 1;
      return json(401, { message: who });
    }
    Object.assign(entry, { as: who.as, accountId: who.accountId, installationId: who.installation.id, via: who.via });
    if (graphql) return this.#graphql(call, who);
    const cloudId = parseContextAri(who.installation.installationContext)?.cloudId;
    return json(200, {
      as: who.as,
      accountId: who.accountId,
      installationId: who.installation.id,
      cloudId,
      product: product![1],
      path: product![2] ?? '/',
      method: call.method,
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const raw = await readBody(req);
      if (raw === undefined) return void res.writeHead(413).end();
      const call = toCall(req, raw);
      const proxyAuthorization: string[] = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i]!.toLowerCase() === 'forge-proxy-authorization') proxyAuthorization.push(req.rawHeaders[i + 1]!);
      }
      const authorization = typeof req.headers.authorization === 'string';
      const entry: EgressRequest = { method: call.method, path: call.target, proxyAuthorization, authorization, status: 0 };
      this.#log.push(entry);
      reply = this.#route(call, entry);
      entry.status = reply.status;
    } catch {
      reply = json(500, { message: 'The emulated egress proxy failed to handle the request' });
    }
    if (res.headersSent || res.destroyed) return;
    const payload = reply.body === undefined ? '' : JSON.stringify(reply.body);
    const length = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': length, ...reply.headers });
    res.end(payload);
  }
}
