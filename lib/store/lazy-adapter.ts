/**
 * The seam between KeyvTokenStore and the backend drivers (lib/store/backends/). A store is
 * constructed synchronously, but a driver and its client package are loaded on the store's first
 * operation: Keyv gets a {@link LazyStoreAdapter} at construction, which imports and opens the driver
 * when it is first needed. Importing the library thus loads no client package (a Redis user never
 * loads sqlite3, and the reverse), and a missing package fails only that backend's operations.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { LeaseBackend } from './locks/lease.js';
import { withTimeout, type DriverConnection, type RawStore } from './backends/driver.js';

/**
 * @internal A Keyv storage adapter that opens its driver connection on first use. Keyv only needs
 * get/set/delete/clear.
 */
export class LazyStoreAdapter extends EventEmitter implements RawStore {
  /** Read by Keyv. */
  readonly opts: { dialect: string; url: string };
  /** Set by Keyv; unused here (drivers apply the namespace themselves). */
  namespace: string | undefined;
  readonly #open: () => Promise<DriverConnection>;
  #connection: Promise<DriverConnection> | undefined;
  #closed = false;

  /**
   * @param dialect - the backend kind, e.g. `sqlite`
   * @param open - loads the driver and opens it (called at most once)
   */
  constructor(dialect: string, open: () => Promise<DriverConnection>) {
    super();
    this.opts = { dialect, url: `${dialect}://` };
    this.#open = open;
  }

  /** The connection, opened on first call. A driver that failed to load keeps failing the same way. */
  connection(): Promise<DriverConnection> {
    if (this.#closed) return Promise.reject(new Error(`the ${this.opts.dialect} store is closed`));
    this.#connection ??= this.#open();
    return this.#connection;
  }

  /** @see RawStore.get */
  async get(key: string): Promise<unknown> {
    return (await this.connection()).adapter.get(key);
  }
  /** @see RawStore.set */
  async set(key: string, value: string, ttl?: number): Promise<unknown> {
    return (await this.connection()).adapter.set(key, value, ttl);
  }
  /** @see RawStore.delete */
  async delete(key: string): Promise<boolean> {
    return (await this.connection()).adapter.delete(key);
  }
  /** @see RawStore.compareAndSet */
  async compareAndSet(key: string, expected: string | undefined, value: string, ttl?: number): Promise<boolean> {
    return (await this.connection()).adapter.compareAndSet(key, expected, value, ttl);
  }
  /** @see RawStore.clear */
  async clear(): Promise<void> {
    await (await this.connection()).adapter.clear();
  }

  /** Closes the connection if it was ever opened; later operations reject. */
  async disconnect(): Promise<void> {
    const connection = this.#connection;
    this.#closed = true;
    if (connection === undefined) return;
    let opened: DriverConnection;
    try {
      opened = await connection;
    } catch {
      return;
    }
    await opened.close();
  }
}

/**
 * @internal Lease operations that go through a lazily opened connection, each bounded in time (a
 * half-open connection must not leave a waiter stuck).
 * @param adapter - the lazy adapter
 * @param timeoutMS - bound of one lease operation
 * @returns the lease backend
 */
export function lazyLease(adapter: LazyStoreAdapter, timeoutMS: number): LeaseBackend {
  const run = async <T>(what: string, op: (lease: LeaseBackend) => Promise<T>): Promise<T> =>
    withTimeout((async () => op((await adapter.connection()).lease))(), timeoutMS, `lock ${what}`);
  return {
    tryAcquire: (key, owner, ttlMS) => run('acquire', (l) => l.tryAcquire(key, owner, ttlMS)),
    renew: (key, owner, ttlMS) => run('renew', (l) => l.renew(key, owner, ttlMS)),
    release: (key, owner) => run('release', (l) => l.release(key, owner)),
  };
}
