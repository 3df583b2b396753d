/**
 * Opens the Keyv backend that a connection URI names, with the settings each one needs to be safe
 * for tokens (busy timeouts, WAL), and the cross-process lock that goes with it.
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Keyv from 'keyv';
import KeyvSqlite from '@keyv/sqlite';
import { InvalidArgumentError, describeValue } from './errors.js';
import type { LockOptions } from './token-store.js';
import { sqliteLock } from './locks/sqlite-lock.js';

/** @internal What {@link openBackend} returns. */
export interface StoreBackend {
  kind: 'memory' | 'sqlite' | 'redis' | 'postgres' | 'keyv';
  keyv: Keyv;
  withLock?: <T>(key: string, fn: () => Promise<T>, options?: LockOptions) => Promise<T>;
  close(): Promise<void>;
}

/** How long SQLite waits for another process's write lock before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/** @internal Resolves the file path of a `sqlite://` URI (`sqlite://./a.sqlite`, `sqlite:///abs/a.sqlite`). */
export function sqlitePath(uri: string): string {
  const path = uri.replace(/^sqlite:\/\//, '');
  if (path.length === 0) throw new InvalidArgumentError('uri', 'Expected a file path after `sqlite://`');
  return path === ':memory:' ? path : resolve(path);
}

function openSqlite(uri: string, namespace: string): StoreBackend {
  const file = sqlitePath(uri);
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const store = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: SQLITE_BUSY_TIMEOUT_MS });
  // WAL lets readers proceed while a writer commits, and cuts a write from ~1.1 ms to ~0.17 ms here
  // (STACK.md). Errors are left to surface on the first real operation.
  const ready = store.query('PRAGMA journal_mode=WAL').then(() => store.query('PRAGMA synchronous=NORMAL')).catch(() => {});
  void ready;
  const keyv = new Keyv({ store, namespace });
  return {
    kind: 'sqlite',
    keyv,
    withLock: sqliteLock(store, SQLITE_BUSY_TIMEOUT_MS),
    close: async () => { await store.disconnect(); },
  };
}

/**
 * @internal Opens a backend from a Keyv instance, a URI or nothing (memory).
 * Redis and Postgres adapters are loaded lazily so that users of the embedded default never load them.
 */
export function openBackend(keyvOrUri: Keyv | string | undefined, namespace: string): StoreBackend {
  if (keyvOrUri === undefined) {
    const keyv = new Keyv({ namespace });
    return { kind: 'memory', keyv, close: async () => {} };
  }
  if (keyvOrUri instanceof Keyv) {
    return { kind: 'keyv', keyv: keyvOrUri, close: async () => { await keyvOrUri.disconnect(); } };
  }
  if (typeof keyvOrUri !== 'string') {
    throw new InvalidArgumentError('keyv', `Expected a Keyv instance or a connection URI, got ${describeValue(keyvOrUri)}`);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(keyvOrUri)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite':
      return openSqlite(keyvOrUri, namespace);
    default:
      throw new InvalidArgumentError('uri', `Unsupported token store URI scheme ${scheme === undefined ? '(none)' : `"${scheme}:"`}; expected sqlite://, redis:// or postgresql://`);
  }
}
