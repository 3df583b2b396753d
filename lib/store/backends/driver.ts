/**
 * The seam between the token store and the network backends (Redis, Postgres). Their client
 * libraries cost ~120 ms to import, so users of the embedded default never load them: Keyv gets a
 * {@link LazyStoreAdapter} at construction, and the driver module is imported on the first operation.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { LeaseBackend } from '../locks/lease.js';

/** @internal The part of a Keyv storage adapter the store uses. Values are Keyv's serialised strings. */
export interface RawStore {
  /** The stored string, or undefined when absent. */
  get(key: string): Promise<unknown>;
  /** Stores a string. */
  set(key: string, value: string): Promise<unknown>;
  /** Removes a key; true when it existed. */
  delete(key: string): Promise<boolean>;
  /** Removes every key of the adapter's namespace. */
  clear(): Promise<void>;
  /** Yields `[key, raw value]` pairs of a namespace. */
  iterator?(namespace?: string): AsyncGenerator<unknown[], void, unknown>;
}

/** @internal What a backend module opens for one store. */
export interface BackendDriver {
  /** Storage adapter, namespaced the way the backend expects. */
  adapter: RawStore;
  /** Atomic lease operations for {@link leaseLock}; keys are already namespaced. */
  lease: LeaseBackend;
  /** Logical keys (namespace removed) that start with `prefix`, read without their values. */
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

/**
 * @internal Rejects with an Error when `promise` has not settled within `ms`.
 * @param promise - the operation
 * @param ms - the bound
 * @param what - named in the message
 * @returns the operation's result
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @internal A Keyv storage adapter that imports and opens its driver on first use. Keyv only needs
 * get/set/delete/clear (and `opts.dialect` plus `iterator` to offer `keyv.iterator`).
 */
export class LazyStoreAdapter extends EventEmitter implements RawStore {
  /** Read by Keyv to decide whether the adapter can be iterated. */
  readonly opts: { dialect: string; url: string };
  /** Set by Keyv; unused here (drivers are namespaced at open). */
  namespace: string | undefined;
  readonly #open: () => Promise<BackendDriver>;
  #driver: Promise<BackendDriver> | undefined;
  #closed = false;

  /**
   * @param dialect - `redis` or `postgres`
   * @param open - imports the driver module and opens it (called at most once)
   */
  constructor(dialect: string, open: () => Promise<BackendDriver>) {
    super();
    this.opts = { dialect, url: `${dialect}://` };
    this.#open = open;
  }

  /** The driver, opened on first call. */
  driver(): Promise<BackendDriver> {
    if (this.#closed) return Promise.reject(new Error(`the ${this.opts.dialect} store is closed`));
    return (this.#driver ??= this.#open());
  }

  /** @see RawStore.get */
  async get(key: string): Promise<unknown> { return (await this.driver()).adapter.get(key); }
  /** @see RawStore.set */
  async set(key: string, value: string): Promise<unknown> { return (await this.driver()).adapter.set(key, value); }
  /** @see RawStore.delete */
  async delete(key: string): Promise<boolean> { return (await this.driver()).adapter.delete(key); }
  /** @see RawStore.clear */
  async clear(): Promise<void> { await (await this.driver()).adapter.clear(); }

  /** @see RawStore.iterator */
  async *iterator(namespace?: string): AsyncGenerator<unknown[], void, unknown> {
    const { adapter } = await this.driver();
    if (adapter.iterator === undefined) throw new Error(`the ${this.opts.dialect} adapter cannot be iterated`);
    yield* adapter.iterator(namespace);
  }

  /** Closes the driver if it was ever opened; later operations reject. */
  async disconnect(): Promise<void> {
    const driver = this.#driver;
    this.#closed = true;
    if (driver === undefined) return;
    let opened: BackendDriver;
    try { opened = await driver; } catch { return; }
    await opened.close();
  }
}

/**
 * @internal Lease operations that go through a lazily opened driver, each bounded in time (a
 * half-open connection must not leave a waiter stuck).
 * @param adapter - the lazy adapter
 * @param timeoutMS - bound of one lease operation
 * @returns the lease backend
 */
export function lazyLease(adapter: LazyStoreAdapter, timeoutMS: number): LeaseBackend {
  const run = async <T>(what: string, op: (lease: LeaseBackend) => Promise<T>): Promise<T> =>
    withTimeout((async () => op((await adapter.driver()).lease))(), timeoutMS, `lock ${what}`);
  return {
    tryAcquire: (key, owner, ttlMS) => run('acquire', (l) => l.tryAcquire(key, owner, ttlMS)),
    renew: (key, owner, ttlMS) => run('renew', (l) => l.renew(key, owner, ttlMS)),
    release: (key, owner) => run('release', (l) => l.release(key, owner)),
  };
}
