import { Readable } from 'node:stream';
import { Agent, fetch, request, type Dispatcher } from 'undici';
import type { AuthSession } from '../../lib/fetch/auth-session.js';
import { authorizedFetch } from '../../lib/fetch/authorized-fetch.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';

/** A request as the table describes it; each client maps it onto its own API. */
export interface Call {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | URLSearchParams | { stream: string[] };
}

/** What came back, in a client-neutral form. */
export interface Outcome {
  status: number;
  header(name: string): string | undefined;
  text: string;
}

/** One way of calling an API with a session: authorizedFetch, or undici through the interceptor. */
export interface Client {
  name: string;
  send(session: AuthSession, url: string, call?: Call): Promise<Outcome>;
  /** The session's error from a rejection (fetch wraps it as `cause` of "fetch failed"). */
  unwrap(err: Error): unknown;
  close(): Promise<void>;
}

const webStream = (chunks: string[]): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
      controller.close();
    },
  });

/** The body as undici's fetch takes it. */
function fetchInit(call: Call): Record<string, unknown> {
  const b = call.body;
  const body = b !== undefined && typeof b === 'object' && 'stream' in b ? webStream(b.stream) : b;
  return { method: call.method ?? 'GET', headers: call.headers ?? {}, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) };
}

/** Either fetch's response: undici's, or the global type authorizedFetch declares. */
async function fromFetch(res: Pick<Response, 'status' | 'headers' | 'text'>): Promise<Outcome> {
  return { status: res.status, header: (n) => res.headers.get(n) ?? undefined, text: await res.text() };
}

/** authorizedFetch over a plain Agent. */
export function authorizedFetchClient(): Client {
  const agent = new Agent();
  return {
    name: 'authorizedFetch',
    send: async (session, url, call = {}) => fromFetch(await authorizedFetch(session, url, { ...fetchInit(call), dispatcher: agent })),
    unwrap: (err) => err,
    close: () => agent.close(),
  };
}

/** undici `request` through `new Agent().compose(sessionAuth(session))`, one dispatcher per session. */
export function interceptorRequestClient(): Client {
  const agents = new Map<AuthSession, Dispatcher>();
  const dispatcherFor = (s: AuthSession) => agents.get(s) ?? agents.set(s, new Agent().compose(sessionAuth(s))).get(s)!;
  return {
    name: 'interceptor + undici.request',
    async send(session, url, call = {}) {
      const b = call.body;
      const headers = { ...call.headers };
      let body: string | Buffer | Readable | undefined;
      if (b instanceof URLSearchParams) {
        // undici's request() has no URLSearchParams support (it would iterate it): send its string form.
        body = b.toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded';
      } else if (b !== undefined && typeof b === 'object' && 'stream' in b) {
        body = Readable.from(b.stream.map((s) => Buffer.from(s)));
      } else body = b;
      const res = await request(url, {
        method: (call.method ?? 'GET') as Dispatcher.HttpMethod,
        headers,
        body,
        dispatcher: dispatcherFor(session),
      });
      const text = await res.body.text();
      return {
        status: res.statusCode,
        header: (n) => {
          const v = res.headers[n.toLowerCase()];
          return Array.isArray(v) ? v.join(', ') : v;
        },
        text,
      };
    },
    unwrap: (err) => err,
    close: async () => {
      await Promise.all([...agents.values()].map((a) => a.close()));
    },
  };
}

/** undici `fetch` through `new Agent().compose(sessionAuth(session))`. */
export function interceptorFetchClient(): Client {
  const agents = new Map<AuthSession, Dispatcher>();
  const dispatcherFor = (s: AuthSession) => agents.get(s) ?? agents.set(s, new Agent().compose(sessionAuth(s))).get(s)!;
  return {
    name: 'interceptor + undici.fetch',
    send: async (session, url, call = {}) => fromFetch(await fetch(url, { ...fetchInit(call), dispatcher: dispatcherFor(session) })),
    unwrap: (err) => (err instanceof TypeError && err.message === 'fetch failed' ? err.cause : err),
    close: async () => {
      await Promise.all([...agents.values()].map((a) => a.close()));
    },
  };
}

/** Every client the table runs against. */
export const CLIENTS: Array<() => Client> = [authorizedFetchClient, interceptorRequestClient, interceptorFetchClient];
