/**
 * The Redis backend (`redis://host:port[/db]`, `rediss://` for TLS), loaded only when such a URI is
 * used. Configured to fail fast and heal by itself:
 *
 * - no offline queue: while the server is unreachable a command rejects at once instead of waiting
 *   (node-redis would otherwise queue it until the server returns, i.e. forever);
 * - a connection is tried once per operation that needs one (refused → immediate failure, silent
 *   network → `connectTimeout`); a connection lost while operations run is re-established in the
 *   background with a backoff capped at {@link REDIS_MAX_RECONNECT_DELAY_MS}, one lost while idle by
 *   the next operation, so the same store works again as soon as Redis is back.
 *
 * Keys are `namespace::key`, the @keyv/redis convention, so a `createKeyv(url, { namespace })` Keyv
 * sees the same records; records with a TTL expire in Redis itself (PX). Lease keys are
 * `namespace:lock::key`.
 *
 * An idle store does not keep the process alive, even while Redis is unreachable: the socket and the
 * ping timer are unref'd, and nothing waits to reconnect.
 *
 * @module
 */
import { redisLease } from '../locks/redis-lock.js';
import {
  loadDriverPackage,
  withTimeout,
  type BackendDriver,
  type DriverConnection,
  type DriverOptions,
  type DriverPackage,
} from './driver.js';

/** Upper bound for establishing a connection. */
export const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** Longest pause between two reconnection attempts after a connection is lost. */
export const REDIS_MAX_RECONNECT_DELAY_MS = 1_000;
/** Separator @keyv/redis puts between namespace and key. */
const SEPARATOR = '::';

/**
 * Sets KEYS[1] to ARGV[2] only while it holds ARGV[1] (or, when ARGV[1] is empty, only while it is
 * absent), with PX ARGV[3] when that is not empty: 1 when set, 0 when the stored value differs. A
 * stored value is never empty (it is Keyv's JSON), so the empty string can stand for "absent".
 */
export const REDIS_COMPARE_AND_SET_SCRIPT = [
  "local current = redis.call('get', KEYS[1])",
  "if ARGV[1] == '' then if current then return 0 end elseif current ~= ARGV[1] then return 0 end",
  "if ARGV[3] ~= '' then redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('set', KEYS[1], ARGV[2]) end",
  'return 1',
].join('\n');

/** Escapes the glob characters of SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

const PACKAGE: DriverPackage = { backend: 'Redis', packages: '@keyv/redis', fix: 'install it: npm install @keyv/redis' };

/** The Redis driver. */
export const driver: BackendDriver = {
  async open(uri, options) {
    const { default: KeyvRedis, createClient } = await loadDriverPackage(PACKAGE, () => import('@keyv/redis'));
    return openRedis(KeyvRedis, createClient, uri, options);
  },
};

type RedisModule = typeof import('@keyv/redis');

/** Opens a connection; nothing connects before the first operation. */
function openRedis(
  KeyvRedis: RedisModule['default'],
  createClient: RedisModule['createClient'],
  uri: string,
  { namespace, timeoutMS }: DriverOptions,
): DriverConnection {
  let closed = false;
  /** Operations under way; while there are none, nothing may keep the process alive. */
  let busy = 0;
  /** True while an operation waits for a connection attempt it started. */
  let initiating = false;
  const pingMS = Math.max(500, Math.floor(timeoutMS / 2));
  const client = createClient({
    url: uri,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: Math.min(REDIS_CONNECT_TIMEOUT_MS, timeoutMS),
      socketTimeout: Math.max(timeoutMS, 2 * pingMS),
      reconnectStrategy: (retries: number, cause: Error) => {
        if (closed) return false;
        // An operation waits on this attempt: give up now, so that it fails fast; the next operation
        // tries again.
        if (initiating) return cause;
        // Lost while idle: stop, as a pending reconnection timer would keep the process alive; the next
        // operation connects again.
        if (busy === 0) return false;
        return Math.min(50 * 2 ** retries, REDIS_MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 50);
      },
    },
  });
  // Connection errors are reported through the rejected commands; an unhandled 'error' event
  // would crash the process.
  client.on('error', () => {});
  // An idle store must not keep the process alive, but one with an operation under way must (or a
  // script awaiting it would just end): every socket the client opens is unref'd, and a ref'd timer
  // holds the process open while operations run. (Ref'ing the socket instead would pile up listeners
  // on a socket that is still connecting.)
  client.unref();
  let holdOpen: NodeJS.Timeout | undefined;
  // A server that accepts but never answers (stopped process, proxy with no backend, half-open
  // connection) would leave the client waiting forever, and the store would never recover: a PING
  // sent pingMS after the previous one was answered keeps a healthy connection busy, so a connection
  // silent for a whole socketTimeout is dead, and is dropped and re-established. (node-redis's own
  // pingInterval does the same with a timer that would keep the process alive; this one is unref'd.)
  let pinger: NodeJS.Timeout | undefined;
  const schedulePing = (): void => {
    if (closed) return;
    pinger = setTimeout(() => {
      if (client.isReady) client.ping().then(schedulePing, schedulePing);
      else schedulePing();
    }, pingMS);
    pinger.unref();
  };
  schedulePing();

  let connecting: Promise<unknown> | undefined;
  const connected = async () => {
    if (closed) throw new Error('the Redis store is closed');
    // isOpen turns true as soon as connect() starts, before the handshake: callers that arrive
    // meanwhile wait for the same attempt (with no offline queue, a command sent now would fail).
    if (connecting === undefined && !client.isOpen) {
      initiating = true;
      connecting = client.connect().finally(() => {
        connecting = undefined;
        initiating = false;
      });
    }
    if (connecting !== undefined) await connecting;
    return client;
  };
  /** Runs one operation on the connected client, holding the process open meanwhile. */
  const using = async <T>(op: (c: typeof client) => Promise<T>): Promise<T> => {
    if (busy++ === 0) holdOpen = setInterval(() => {}, 2 ** 30);
    try {
      return await op(await connected());
    } finally {
      if (--busy === 0) clearInterval(holdOpen);
    }
  };

  const keyvRedis = new KeyvRedis(client, { namespace, throwOnErrors: true, throwOnConnectError: true });
  keyvRedis.on('error', () => {});
  const prefix = `${namespace}${SEPARATOR}`;
  let closing: Promise<void> | undefined;

  return {
    adapter: {
      get: (key) => using(() => keyvRedis.get(key)),
      set: (key, value, ttl) => using(() => keyvRedis.set(key, value, ttl)),
      delete: (key) => using(() => keyvRedis.delete(key)),
      clear: () => using(() => keyvRedis.clear()),
      // A script runs atomically in Redis: the comparison and the write are one step for every client.
      compareAndSet: (key, expected, value, ttl) =>
        using(
          async (c) =>
            Number(
              await c.eval(REDIS_COMPARE_AND_SET_SCRIPT, {
                keys: [prefix + key],
                arguments: [expected ?? '', value, ttl ? String(Math.ceil(ttl)) : ''],
              }),
            ) === 1,
        ),
    },
    lease: redisLease(using, (key) => `${namespace}:lock${SEPARATOR}${key}`),
    listKeys: (keyPrefix) =>
      using(async (c) => {
        const match = `${globEscape(prefix + keyPrefix)}*`;
        const out = new Set<string>();
        let cursor = '0';
        do {
          const reply = await c.scan(cursor, { MATCH: match, COUNT: 1000 });
          cursor = String(reply.cursor);
          for (const k of reply.keys) out.add(k.slice(prefix.length)); // SCAN may repeat a key
        } while (cursor !== '0');
        return [...out];
      }),
    close: () =>
      (closing ??= (async () => {
        closed = true;
        clearTimeout(pinger);
        if (!client.isOpen) return;
        // QUIT waits for the replies in flight; a client that is (re)connecting has none to wait for.
        if (client.isReady)
          await withTimeout(client.close(), timeoutMS, 'Redis QUIT').catch(() => {
            if (client.isOpen) client.destroy();
          });
        else client.destroy();
      })()),
  };
}
