/**
 * The Redis backend (`redis://host:port[/db]`, `rediss://` for TLS), loaded only when such a URI is
 * used. Configured to fail fast and heal by itself:
 *
 * - no offline queue: while the server is unreachable a command rejects at once instead of waiting
 *   (node-redis would otherwise queue it until the server returns, i.e. forever);
 * - the first connection is tried once per operation (refused → immediate failure, silent network →
 *   `connectTimeout`); once connected, the client reconnects in the background with a backoff capped
 *   at {@link REDIS_MAX_RECONNECT_DELAY_MS}, so the same store works again soon after Redis is back.
 *
 * Keys are `namespace::key`, the @keyv/redis convention, so a `createKeyv(url, { namespace })` Keyv
 * sees the same records. Lease keys are `namespace:lock::key`.
 *
 * @module
 */
import KeyvRedis, { createClient } from '@keyv/redis';
import { redisLease } from '../locks/redis-lock.js';
import { withTimeout, type BackendDriver, type DriverOptions } from './driver.js';

/** Upper bound for establishing a connection. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** Longest pause between two reconnection attempts after a connection is lost. */
export const REDIS_MAX_RECONNECT_DELAY_MS = 1_000;
/** Separator @keyv/redis puts between namespace and key. */
const SEPARATOR = '::';

/** Escapes the glob characters of SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * @internal Opens (lazily: nothing connects before the first operation) a Redis driver.
 * @param uri - `redis://…` or `rediss://…`
 * @param options - namespace and timeout
 * @returns the driver
 */
export function openRedisDriver(uri: string, { namespace, timeoutMS }: DriverOptions): BackendDriver {
  let everReady = false;
  let closed = false;
  const pingMS = Math.max(500, Math.floor(timeoutMS / 2));
  const client = createClient({
    url: uri,
    disableOfflineQueue: true,
    // A server that accepts but never answers (stopped process, proxy with no backend, half-open
    // connection) would leave the client waiting forever, and the store would never recover: PING
    // keeps a healthy connection busy, so a connection silent for a whole operation timeout (and two
    // ping intervals) is dead, and is dropped and re-established.
    pingInterval: pingMS,
    socket: {
      connectTimeout: Math.min(REDIS_CONNECT_TIMEOUT_MS, timeoutMS),
      socketTimeout: Math.max(timeoutMS, 2 * pingMS),
      reconnectStrategy: (retries: number, cause: Error) => {
        if (closed) return false;
        // Never connected: give up now, so that the operation that triggered the connection fails
        // fast; the next operation tries again.
        if (!everReady) return cause;
        return Math.min(50 * 2 ** retries, REDIS_MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 50);
      },
    },
  });
  // Connection errors are reported through the rejected commands; an unhandled 'error' event
  // would crash the process.
  client.on('error', () => {});
  client.on('ready', () => { everReady = true; });

  let connecting: Promise<unknown> | undefined;
  const connected = async () => {
    if (closed) throw new Error('the Redis store is closed');
    // isOpen turns true as soon as connect() starts, before the handshake: callers that arrive
    // meanwhile wait for the same attempt (with no offline queue, a command sent now would fail).
    if (connecting === undefined && !client.isOpen) connecting = client.connect().finally(() => { connecting = undefined; });
    if (connecting !== undefined) await connecting;
    return client;
  };

  const keyvRedis = new KeyvRedis(client, { namespace, throwOnErrors: true, throwOnConnectError: true });
  keyvRedis.on('error', () => {});
  const prefix = `${namespace}${SEPARATOR}`;
  let closing: Promise<void> | undefined;

  return {
    adapter: {
      get: async (key) => { await connected(); return keyvRedis.get(key); },
      set: async (key, value) => { await connected(); await keyvRedis.set(key, value); },
      delete: async (key) => { await connected(); return keyvRedis.delete(key); },
      clear: async () => { await connected(); await keyvRedis.clear(); },
      iterator: async function* (ns?: string) { await connected(); yield* keyvRedis.iterator(ns); },
    },
    lease: redisLease(connected, (key) => `${namespace}:lock${SEPARATOR}${key}`),
    async listKeys(keyPrefix) {
      const c = await connected();
      const match = `${globEscape(prefix + keyPrefix)}*`;
      const out = new Set<string>();
      let cursor = '0';
      do {
        const reply = await c.scan(cursor, { MATCH: match, COUNT: 1000 });
        cursor = String(reply.cursor);
        for (const k of reply.keys) out.add(k.slice(prefix.length)); // SCAN may repeat a key
      } while (cursor !== '0');
      return [...out];
    },
    close: () => (closing ??= (async () => {
      closed = true;
      if (!client.isOpen) return;
      // QUIT waits for the replies in flight; a client that is (re)connecting has none to wait for.
      if (client.isReady) await withTimeout(client.close(), timeoutMS, 'Redis QUIT').catch(() => { if (client.isOpen) client.destroy(); });
      else client.destroy();
    })()),
  };
}
