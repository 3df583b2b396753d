/**
 * What a backend driver provides. A driver is one file under lib/store/backends/ that turns a
 * connection URI into a {@link DriverConnection}: a Keyv-style adapter, the lease operations of its
 * cross-process lock (from lib/store/locks/), key listing and closing. lib/store/backends/registry.ts
 * maps URI schemes to drivers and imports a driver's file only when a store with such a URI is first
 * used; the driver in turn loads its client package with {@link loadDriverPackage}, so that a package
 * that is missing or fails to load (a native module built for another Node) concerns the users of that
 * backend only, and reaches them as a TokenStoreError that says how to fix it.
 *
 * @module
 */
import { TokenStoreError } from '../../errors.js';
import type { LeaseBackend } from '../locks/lease.js';

/**
 * @internal The part of a Keyv storage adapter the store uses. Keys are the store's own keys: the
 * driver applies its namespace (and its key layout) itself. Values are Keyv's serialised strings.
 */
export interface RawStore {
  /** The stored string, or undefined when absent. */
  get(key: string): Promise<unknown>;
  /** Stores a string; with `ttl` (ms), a backend that can expire keys by itself does so. */
  set(key: string, value: string, ttl?: number): Promise<unknown>;
  /** Removes a key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /** Removes every key of the namespace. */
  clear(): Promise<void>;
  /**
   * Stores `value` only if the stored string is still exactly `expected` (`undefined`: only if the key
   * is absent), atomically across every process that reaches the backend: one statement or script,
   * holding no lock. `ttl` as for {@link RawStore.set}.
   * @returns true when it stored the value, false when the stored string differs
   */
  compareAndSet(key: string, expected: string | undefined, value: string, ttl?: number): Promise<boolean>;
}

/** @internal One store's connection to its backend, as a driver opens it. */
export interface DriverConnection {
  /** Storage adapter over the store's namespace. */
  adapter: RawStore;
  /** Atomic lease operations for the store's lock (lib/store/locks/lease.ts); keys are store keys. */
  lease: LeaseBackend;
  /** Store keys that start with `prefix`, read without their values, in any order. */
  listKeys(prefix: string): Promise<string[]>;
  /** Releases every connection; idempotent. */
  close(): Promise<void>;
}

/** @internal Settings every driver receives. */
export interface DriverOptions {
  /** Store namespace: prefix of data keys and of lock keys. */
  namespace: string;
  /** Upper bound for connecting and for one operation. */
  timeoutMS: number;
}

/** @internal A backend: what its file under lib/store/backends/ exports as `driver`. */
export interface BackendDriver {
  /**
   * Loads the client package and opens a connection. Nothing may connect before the first operation,
   * and an idle connection must not keep the process alive (unref'd sockets and timers).
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the client package cannot be loaded
   */
  open(uri: string, options: DriverOptions): Promise<DriverConnection>;
}

/**
 * @internal Rejects when `promise` has not settled within `ms` (the operation itself goes on).
 * @param promise - the operation
 * @param ms - the bound
 * @param what - named in the message
 * @param timedOut - the rejection; by default an Error saying that `what` timed out
 * @returns the operation's result
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, timedOut?: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut?.() ?? new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** @internal How a driver describes its client package, for the error raised when it cannot be loaded. */
export interface DriverPackage {
  /** The backend as users know it, e.g. `SQLite`. */
  backend: string;
  /** The packages involved, e.g. `@keyv/sqlite and its native module sqlite3`. */
  packages: string;
  /** What fixes it, e.g. `npm install @keyv/sqlite sqlite3, or rebuild the native module: npm rebuild sqlite3`. */
  fix: string;
}

/**
 * @internal Imports a driver's client package; a failure (not installed, native build missing or built
 * for another Node version) becomes a TokenStoreError naming the package and the fix.
 * @param what - the package and its fix
 * @param load - the dynamic import, e.g. `() => import('@keyv/sqlite')`
 * @returns the module
 * @throws {@link TokenStoreError} `ERR_TOKEN_STORE`
 */
export async function loadDriverPackage<T>(what: DriverPackage, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new TokenStoreError(`The ${what.backend} token store cannot load ${what.packages} (${reason}). To use it: ${what.fix}`, {
      cause: err,
    });
  }
}
