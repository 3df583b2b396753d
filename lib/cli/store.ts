/**
 * Opening the token store a command names with `--store`.
 *
 * @module
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { KeyvTokenStore, type StoreWarning } from '../store/keyv-token-store.js';
import { resolveSecret } from './args.js';
import { UsageError } from './exit.js';

/** The file of a `sqlite://` URI, or undefined for other schemes. */
export function sqliteFile(uri: string): string | undefined {
  const m = /^sqlite:\/\/(.+)$/i.exec(uri);
  if (m === null || m[1] === ':memory:') return undefined;
  return resolve(m[1]!);
}

/**
 * Refuses a SQLite file whose directory does not exist: the store would create every missing
 * directory on the way, and a mistyped path would leave a tree of them behind. With
 * `createDirectory`, the directory is made instead.
 * @returns the SQLite file, or undefined for other schemes
 * @throws UsageError naming the path
 */
export function checkStoreLocation(uri: string, options: { createDirectory?: boolean } = {}): string | undefined {
  const file = sqliteFile(uri);
  if (file === undefined) return undefined;
  const directory = dirname(file);
  if (options.createDirectory === true) mkdirSync(directory, { recursive: true });
  let isDirectory: boolean;
  try {
    isDirectory = statSync(directory).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) throw new UsageError(`--store names ${file}, but the directory ${directory} does not exist; create it first`);
  return file;
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Key prefix inside the backend (`--namespace`). */
  namespace?: string;
  /** `--encryption-key` as given: 64 hex digits, base64, or `env:VAR`. */
  encryptionKey?: string;
  /** Refuse a SQLite file that does not exist yet (reading commands), instead of creating it. */
  mustExist?: boolean;
  /** Create a missing directory for the SQLite file (the demo's default store only). */
  createDirectory?: boolean;
  /** Where `env:VAR` values are looked up. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Opens a KeyvTokenStore for a `--store` URI; unreadable records are collected as warnings rather
 * than printed by Node.
 * @throws UsageError for a URI, namespace or key the store rejects (naming the flag)
 */
export function openStore(uri: string, options: OpenStoreOptions = {}): { store: KeyvTokenStore; warnings: StoreWarning[] } {
  const file = checkStoreLocation(uri, options);
  if (options.mustExist === true && file !== undefined && !existsSync(file)) {
    throw new UsageError(`--store names ${file}, which does not exist`);
  }
  const warnings: StoreWarning[] = [];
  try {
    const store = new KeyvTokenStore(uri, {
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      ...(options.encryptionKey === undefined
        ? {}
        : { encryptionKey: resolveSecret('--encryption-key', options.encryptionKey, options.env) }),
      onWarning: (w) => {
        warnings.push(w);
      },
    });
    return { store, warnings };
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      const flag = err.field === 'namespace' ? '--namespace' : err.field === 'encryptionKey' ? '--encryption-key' : '--store';
      throw new UsageError(`${flag}: ${err.message}`);
    }
    throw err;
  }
}
