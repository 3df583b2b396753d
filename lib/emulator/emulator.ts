/**
 * `startEmulator`: the HTTP server, routing, counters, request log and fault application.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { EmulatorContext } from './context.js';
import { zeroCounts } from './context.js';
import type { Emulator } from './emulator-api.js';
import { FaultController, faultOutcome, rewrittenReply } from './faults.js';
import { handleGraphql } from './forge-gateway.js';
import { ForgeState } from './forge-state.js';
import { EgressProxy } from './egress-proxy.js';
import { InvocationSigner, handleJwks, signInvocation } from './invocations.js';
import { copyHeaders, json, readBody, toCall, type IncomingCall, type Reply } from './http.js';
import { handleResource, handleRevoke, handleToken, GRANT_REFRESH, GRANT_TOKEN_EXCHANGE } from './oauth-server.js';
import { OAuthState } from './oauth-state.js';
import { REQUEST_LOG_CAP, resolveOptions, type EmulatorOptions, type ResolvedEmulatorOptions } from './options.js';
import { handleProduct, PRODUCT_PATH } from './product-api.js';
import type {
  EmulatorEndpoint,
  EmulatorState,
  Fault,
  ForgeControls,
  GrantStats,
  IssuedTokens,
  IssueTokensOptions,
  RandomFaultOptions,
  RecordedRequest,
  TokenFamily,
  TokenState,
} from './types.js';

type Handler = (call: IncomingCall, ctx: EmulatorContext) => Reply | Promise<Reply>;

const HANDLERS: Record<EmulatorEndpoint, Handler> = {
  token: handleToken,
  revoke: handleRevoke,
  resource: handleResource,
  graphql: handleGraphql,
  product: handleProduct,
  jwks: (call, ctx) => handleJwks(call, ctx.invocations),
};

const PATHS: Record<string, EmulatorEndpoint> = {
  '/oauth/token': 'token',
  '/oauth/revoke': 'revoke',
  '/api/resource': 'resource',
  '/graphql': 'graphql',
  '/.well-known/jwks.json': 'jwks',
};

function route(pathname: string): EmulatorEndpoint | undefined {
  return PATHS[pathname] ?? (PRODUCT_PATH.test(pathname) ? 'product' : undefined);
}

class EmulatorServer implements Emulator {
  readonly counts = zeroCounts();
  readonly forge: ForgeControls;
  readonly egress: EgressProxy;
  readonly #options: ResolvedEmulatorOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #pendingDelays = new Set<() => void>();
  readonly #faults = new FaultController();
  readonly #oauth: OAuthState;
  readonly #invocations = new InvocationSigner();
  #log: RecordedRequest[] = [];
  #ctx: EmulatorContext | undefined;
  #url = '';
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedEmulatorOptions) {
    this.#options = options;
    this.#oauth = new OAuthState(options, this.#now);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.egress = new EgressProxy(() => this.#context());
    const forge = (): ForgeState => this.#context().forge;
    this.forge = {
      issueSystemToken: (opts) => forge().issueSystemToken(opts),
      addContext: (ari, users) => forge().addContext(ari, users),
      expireSystemToken: (token) => forge().expireSystemToken(token),
      expireUserToken: (token) => forge().expireUserToken(token),
      revokeUserToken: (token) => forge().revokeUserToken(token),
      userTokenState: (token) => forge().userTokenState(token),
      setMintsPerMinute: (n) => forge().setMintsPerMinute(n),
      appId: this.#invocations.appId,
      signInvocation: (opts) => signInvocation(this.#context(), this.#invocations, opts),
    };
  }

  // Read Date.now() at call time so sinon fake timers drive every expiry.
  readonly #now = (): number => Date.now() + this.#options.clockOffsetMS;

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('The emulator is not listening on a TCP port');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `http://${host}:${address.port}`;
    const forge = new ForgeState(this.#options, this.#now, this.#url);
    if (this.#options.state !== undefined) {
      this.#oauth.restore(this.#options.state.oauth);
      forge.restore(this.#options.state.forge);
    }
    this.#ctx = {
      options: this.#options,
      now: this.#now,
      counts: this.counts,
      oauth: this.#oauth,
      forge,
      url: this.#url,
      invocations: this.#invocations,
    };
    await this.egress.listen(this.#options.host);
  }

  #context(): EmulatorContext {
    if (!this.#ctx) throw new Error('The emulator is not listening yet');
    return this.#ctx;
  }

  get url(): string {
    return this.#url;
  }
  get tokenEndpoint(): string {
    return `${this.#url}/oauth/token`;
  }
  get revocationEndpoint(): string {
    return `${this.#url}/oauth/revoke`;
  }
  get resourceUrl(): string {
    return `${this.#url}/api/resource`;
  }
  get graphqlUrl(): string {
    return `${this.#url}/graphql`;
  }
  get egressProxyUrl(): string {
    return this.egress.url;
  }
  get jwksUrl(): string {
    return `${this.#url}/.well-known/jwks.json`;
  }
  productApiUrl(cloudId: string, product: 'jira' | 'confluence' = 'jira'): string {
    return `${this.#url}/ex/${product}/${encodeURIComponent(cloudId)}`;
  }

  resetCounts(): void {
    Object.assign(this.counts, zeroCounts());
  }
  requests(endpoint?: EmulatorEndpoint): RecordedRequest[] {
    const log = this.#log.length > REQUEST_LOG_CAP ? this.#log.slice(-REQUEST_LOG_CAP) : this.#log;
    return endpoint === undefined ? [...log] : log.filter((entry) => entry.endpoint === endpoint);
  }
  lastRequest(endpoint: EmulatorEndpoint): RecordedRequest | undefined {
    for (let i = this.#log.length - 1; i >= Math.max(0, this.#log.length - REQUEST_LOG_CAP); i--) {
      if (this.#log[i]!.endpoint === endpoint) return this.#log[i];
    }
    return undefined;
  }

  issueTokens(options?: IssueTokensOptions): IssuedTokens {
    return this.#oauth.issue(options);
  }
  expireAccessToken(accessToken: string): void {
    if (this.#context().forge.userTokenState(accessToken) !== 'unknown') this.#context().forge.expireUserToken(accessToken);
    else this.#oauth.expire(accessToken);
  }
  revokeToken(token: string): void {
    if (this.#oauth.revoke(token)) return;
    if (this.#context().forge.userTokenState(token) === 'unknown') throw new Error('revokeToken: unknown token');
    this.#context().forge.revokeUserToken(token);
  }
  tokenState(token: string): TokenState {
    const state = this.#oauth.state(token);
    return state === 'unknown' ? this.#context().forge.userTokenState(token) : state;
  }
  family(tokenOrFamilyId: string): TokenFamily | undefined {
    return this.#oauth.family(tokenOrFamilyId);
  }
  families(): TokenFamily[] {
    return this.#oauth.families();
  }
  grantStats(): GrantStats {
    return this.#oauth.grantStats();
  }

  exportState(): EmulatorState {
    return { version: 1, oauth: this.#oauth.snapshot(), forge: this.#context().forge.snapshot() };
  }

  inject(endpoint: EmulatorEndpoint, ...faults: Fault[]): void {
    this.#faults.inject(endpoint, faults);
  }
  setRandomFaults(endpoint: EmulatorEndpoint | '*', options: RandomFaultOptions | undefined): void {
    this.#faults.setRandom(endpoint, options);
  }
  clearFaults(): void {
    this.#faults.clear();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const cancel of [...this.#pendingDelays]) cancel();
      const egress = this.egress.close();
      this.#server.close(() => void egress.then(() => resolve()));
      this.#server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  /** Waits with the global setTimeout of the moment (fake or real); false when closed meanwhile. */
  #delay(ms: number): Promise<boolean> {
    const set = globalThis.setTimeout;
    const clear = globalThis.clearTimeout;
    return new Promise((resolve) => {
      const cancel = (): void => {
        clear(handle);
        this.#pendingDelays.delete(cancel);
        resolve(false);
      };
      const handle = set(() => {
        this.#pendingDelays.delete(cancel);
        resolve(true);
      }, ms);
      this.#pendingDelays.add(cancel);
    });
  }

  #count(endpoint: EmulatorEndpoint, call: IncomingCall): void {
    if (endpoint !== 'token') {
      this.counts[endpoint] += 1;
      return;
    }
    if (call.method !== 'POST') return;
    this.counts.token += 1;
    const grantType = call.form?.get('grant_type');
    if (grantType === GRANT_REFRESH) this.counts.refresh += 1;
    else if (grantType === GRANT_TOKEN_EXCHANGE) this.counts.exchange += 1;
  }

  #record(entry: RecordedRequest): void {
    this.#log.push(entry);
    // Trimmed in batches (a splice per request would move the whole log each time); readers see the newest REQUEST_LOG_CAP.
    if (this.#log.length >= 2 * REQUEST_LOG_CAP) this.#log.splice(0, this.#log.length - REQUEST_LOG_CAP);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const ctx = this.#context();
      const raw = await readBody(req);
      if (raw === undefined) return this.#send(res, json(413, { error: 'invalid_request', error_description: 'Body too large' }));
      const call = toCall(req, raw);
      const endpoint = route(call.pathname);
      if (!endpoint) return this.#send(res, json(404, { error: 'not_found', error_description: `No route for ${call.pathname}` }));
      const entry: RecordedRequest = {
        endpoint,
        method: call.method,
        path: call.target,
        headers: copyHeaders(call.headers),
        body: call.logBody,
        status: 0,
      };
      this.#record(entry);
      this.#count(endpoint, call);
      const fault = this.#faults.next(endpoint);
      if (fault?.delayMS !== undefined && !(await this.#delay(fault.delayMS))) return;
      let outcome = fault && !fault.afterHandling ? faultOutcome(fault, endpoint) : undefined;
      if (outcome === undefined) {
        const handled = await HANDLERS[endpoint](call, ctx);
        outcome = (fault?.afterHandling ? faultOutcome(fault, endpoint) : undefined) ?? rewrittenReply(fault, handled);
      }
      if (outcome === 'hang') return;
      if (outcome === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      entry.status = outcome.status;
      this.#send(res, outcome);
    } catch {
      this.#send(res, json(500, { error: 'server_error', error_description: 'The emulator failed to handle the request' }));
    }
  }

  #send(res: ServerResponse, reply: Reply): void {
    if (res.headersSent || res.destroyed) return;
    const payload = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    const headers: Record<string, string> = { Date: new Date(this.#now()).toUTCString() };
    if (reply.raw === undefined && reply.body !== undefined) headers['Content-Type'] = 'application/json';
    Object.assign(headers, reply.headers, { 'Content-Length': String(Buffer.byteLength(payload)) });
    res.writeHead(reply.status, headers);
    res.end(payload);
  }
}

/**
 * Starts an emulator of the token servers on a real HTTP port (ephemeral by default).
 * @param options - see {@link EmulatorOptions}.
 * @returns the running emulator; always `close()` it.
 * @throws TypeError for an invalid option (the message names it).
 * @example
 * ```ts
 * const emulator = await startEmulator({ accessTokenTTLSeconds: 60 });
 * const { refreshToken } = emulator.issueTokens();
 * const res = await fetch(emulator.tokenEndpoint, {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa('test-client:test-secret')}` },
 *   body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
 * });
 * await emulator.close();
 * ```
 */
export async function startEmulator(options?: EmulatorOptions): Promise<Emulator> {
  const emulator = new EmulatorServer(resolveOptions(options));
  await emulator.listen();
  return emulator;
}
