/**
 * Opens what a KeyvTokenStore reads and writes through: an in-memory Map, a Keyv instance the caller
 * made, or the backend a connection URI names (lib/store/backends/registry.ts), whose driver is loaded
 * on the store's first operation and brings its own cross-process lock.
 *
 * @module
 */
import Keyv from 'keyv';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { LockOptions } from './token-store.js';
import { leaseLock } from './locks/lease.js';
import { localLock, sharedLocalLock } from './locks/local-lock.js';
import { driverFor, supportedSchemes, type DriverKind } from './backends/registry.js';
import { LazyStoreAdapter, lazyLease } from './lazy-adapter.js';

/** @internal What {@link openBackend} returns. */
export interface StoreBackend {
  /** Which backend this is. */
  kind: 'memory' | 'keyv' | DriverKind;
  /** The Keyv instance the store reads and writes through. */
  keyv: Keyv;
  /**
   * Mutual exclusion per key: a lease lock across processes for the URI backends; an in-process lock
   * for memory and for a given Keyv instance (which may reach anything).
   */
  withLock: <T>(key: string, fn: () => Promise<T>, options?: LockOptions) => Promise<T>;
  /** Logical keys (without the namespace) that start with `prefix`, in any order. */
  listKeys(prefix: string): Promise<string[]>;
  /**
   * Stores `value` (as Keyv serialised it) under the adapter key `key` only if the adapter still holds
   * exactly `expected` (`undefined`: nothing), atomically across every process that reaches the backend:
   * one statement or script for the URI backends, one synchronous step for a Map. Absent for any other
   * Keyv adapter, which offers no such primitive (so the store has no `writeIf`).
   */
  compareAndSet: ((key: string, expected: unknown, value: unknown, ttl: number | undefined) => Promise<boolean>) | undefined;
  /** Releases the backend's connections; idempotent. */
  close(): Promise<void>;
}

/** @internal Settings of {@link openBackend}. */
export interface OpenBackendOptions {
  /** Upper bound for connecting and for one lock operation. */
  timeoutMS: number;
}

/** Keys of a Keyv whose adapter is a Map: the Map holds `namespace:key`. */
function mapKeys(map: Map<unknown, unknown>, namespace: string | undefined, prefix: string): string[] {
  const head = namespace === undefined ? '' : `${namespace}:`;
  const out: string[] = [];
  for (const k of map.keys()) {
    if (typeof k === 'string' && k.startsWith(head + prefix)) out.push(k.slice(head.length));
  }
  return out;
}

/** A compare-and-set on a Map, atomic because it is synchronous. */
function mapCompareAndSet(map: Map<unknown, unknown>) {
  return async (key: string, expected: unknown, value: unknown): Promise<boolean> => {
    if (expected === undefined ? map.has(key) : map.get(key) !== expected) return false;
    map.set(key, value);
    return true;
  };
}

/** The iterator of a Keyv adapter, when it has one. */
type Iterable = { iterator?(namespace?: string): AsyncGenerator<unknown[], void, unknown> };

/**
 * Keys of a Keyv given by the user: read through its adapter's raw iterator rather than
 * `keyv.iterator`, which deserialises every value and stops at the first corrupt record.
 */
async function keyvKeys(keyv: Keyv, prefix: string): Promise<string[]> {
  const store = keyv.store as unknown;
  if (store instanceof Map) return mapKeys(store, keyv.useKeyPrefix ? keyv.namespace : undefined, prefix);
  const iterate = (store as Iterable).iterator;
  if (typeof iterate !== 'function') throw new Error('this Keyv adapter cannot list its keys');
  const head = keyv.useKeyPrefix && keyv.namespace !== undefined ? `${keyv.namespace}:` : '';
  const out: string[] = [];
  for await (const [k] of iterate.call(store, keyv.namespace)) {
    if (typeof k !== 'string' || !k.startsWith(head)) continue;
    const key = k.slice(head.length);
    if (key.startsWith(prefix)) out.push(key);
  }
  return out;
}

/**
 * @internal Opens a backend from a Keyv instance, a URI or nothing (memory). A URI backend's driver
 * and client package are imported on the first operation, so importing the library loads none.
 * @param keyvOrUri - a Keyv instance, a connection URI, or undefined for memory
 * @param namespace - key prefix (ignored for a Keyv instance, which has its own)
 * @param options - timeouts
 * @returns the backend
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for an unsupported URI
 */
export function openBackend(keyvOrUri: Keyv | string | undefined, namespace: string, options: OpenBackendOptions): StoreBackend {
  if (keyvOrUri === undefined) {
    const map = new Map<unknown, unknown>();
    const keyv = new Keyv({ store: map, namespace });
    // Only this process can reach the Map, so an in-process lock is a complete one.
    return {
      kind: 'memory',
      keyv,
      withLock: localLock('in-memory'),
      listKeys: async (prefix) => mapKeys(map, namespace, prefix),
      compareAndSet: mapCompareAndSet(map),
      close: async () => {},
    };
  }
  if (keyvOrUri instanceof Keyv) {
    let closing: Promise<void> | undefined;
    // Best effort: the adapter may be shared with other processes, which this lock cannot see.
    // Stores over the same adapter object in this process share it, namespace by namespace.
    const adapter = (keyvOrUri.store ?? keyvOrUri) as object;
    return {
      kind: 'keyv',
      keyv: keyvOrUri,
      withLock: sharedLocalLock(adapter, keyvOrUri.namespace ?? '', 'in-process'),
      listKeys: (prefix) => keyvKeys(keyvOrUri, prefix),
      compareAndSet: keyvOrUri.store instanceof Map ? mapCompareAndSet(keyvOrUri.store) : undefined,
      close: () => (closing ??= keyvOrUri.disconnect()),
    };
  }
  if (typeof keyvOrUri !== 'string') {
    throw new InvalidArgumentError('keyv', `Expected a Keyv instance or a connection URI, got ${describeValue(keyvOrUri)}`);
  }
  const uri = keyvOrUri;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  const entry = scheme === undefined ? undefined : driverFor(scheme);
  if (entry === undefined) {
    throw new InvalidArgumentError(
      'uri',
      `Unsupported token store URI scheme ${scheme === undefined ? '(none)' : `"${scheme}:"`}; expected ${supportedSchemes()}`,
    );
  }
  const driverOptions = { namespace, timeoutMS: options.timeoutMS };
  const adapter = new LazyStoreAdapter(entry.kind, async () => (await entry.load()).driver.open(uri, driverOptions));
  // The driver lays out keys itself (namespace included), so Keyv passes the store's keys through.
  const keyv = new Keyv({ store: adapter, namespace, useKeyPrefix: false });
  return {
    kind: entry.kind,
    keyv,
    withLock: leaseLock(lazyLease(adapter, options.timeoutMS), entry.label),
    listKeys: async (prefix) => (await adapter.connection()).listKeys(prefix),
    compareAndSet: (key, expected, value, ttl) => adapter.compareAndSet(key, expected as string | undefined, value as string, ttl),
    close: () => adapter.disconnect(),
  };
}
