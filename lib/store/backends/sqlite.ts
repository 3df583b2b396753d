/**
 * The embedded SQLite backend (`sqlite://path`): one database file shared by the processes of one
 * machine, with WAL, a busy timeout, and the lease-table lock of lib/store/locks/sqlite-lock.ts.
 * Records are rows `namespace:key` of @keyv/sqlite's table `keyv`.
 *
 * The file holds tokens, so it is created private to its owner (0600), and so is every directory
 * created for it (0700); SQLite gives its -wal and -shm files the mode of the database file.
 *
 * @module
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { sqliteLease } from '../locks/sqlite-lock.js';
import { loadDriverPackage, type BackendDriver, type DriverConnection, type DriverPackage } from './driver.js';

/** How long SQLite waits for another process's write lock before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/** Mode of a database file the store creates. */
export const SQLITE_FILE_MODE = 0o600;
/** Mode of each directory the store creates for its database file. */
export const SQLITE_DIRECTORY_MODE = 0o700;

const PACKAGE: DriverPackage = {
  backend: 'SQLite',
  packages: '@keyv/sqlite and its native module sqlite3',
  fix:
    'install them (npm install @keyv/sqlite sqlite3), or, when sqlite3 is installed but its native build is missing ' +
    'or was built for another Node.js version, rebuild it: npm rebuild sqlite3',
};

/** @internal Resolves the file path of a `sqlite://` URI (`sqlite://./a.sqlite`, `sqlite:///abs/a.sqlite`). */
export function sqlitePath(uri: string): string {
  const path = uri.replace(/^sqlite:\/\//i, '');
  if (path.length === 0) throw new InvalidArgumentError('uri', 'Expected a file path after `sqlite://`');
  return path === ':memory:' ? path : resolve(path);
}

/**
 * Creates the file's directories (0700) and the file itself (0600) unless they exist; an existing
 * file keeps its mode. Failures are left to SQLite, which reports them on the first operation.
 */
function createPrivately(file: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: SQLITE_DIRECTORY_MODE });
  } catch {
    return;
  }
  try {
    closeSync(openSync(file, 'wx', SQLITE_FILE_MODE));
  } catch {
    /* exists, or reported by SQLite */
  }
}

/** The SQLite driver. */
export const driver: BackendDriver = {
  async open(uri, { namespace }): Promise<DriverConnection> {
    const { default: KeyvSqlite } = await loadDriverPackage(PACKAGE, async () => {
      // The native module first, with require() from @keyv/sqlite's location: a CommonJS module that throws
      // while an ES module imports it leaves Node 20 an unhandled rejection that ends the process even when
      // the import's own rejection is caught. A failed require() is an ordinary exception; a successful one
      // leaves sqlite3 in the CommonJS cache, where the import below finds it.
      createRequire(import.meta.resolve('@keyv/sqlite'))('sqlite3');
      return import('@keyv/sqlite');
    });
    const file = sqlitePath(uri);
    if (file !== ':memory:') createPrivately(file);
    const store = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: SQLITE_BUSY_TIMEOUT_MS });
    let openFailed = false;
    store.on('error', () => {
      openFailed = true;
    });
    // WAL lets readers proceed while a writer commits, and makes a write several times cheaper
    // (bench/ measures it). Errors are left to surface on the first real operation.
    void store
      .query('PRAGMA journal_mode=WAL')
      .then(() => store.query('PRAGMA synchronous=NORMAL'))
      .catch(() => {});
    const table = store.opts.table as string;
    const head = `${namespace}:`;
    const full = (key: string) => head + key;
    // Compared in SQL with SQL's own character counting; LIKE would treat `_` and `%` as wildcards.
    const startsWith = `substr(key, 1, length(?)) = ?`;
    let closing: Promise<void> | undefined;
    return {
      adapter: {
        get: (key) => store.get(full(key)),
        // No TTL in @keyv/sqlite: Keyv keeps the expiry inside the value, and KeyvTokenStore.prune() sweeps.
        set: (key, value) => store.set(full(key), value),
        delete: (key) => store.delete(full(key)),
        clear: async () => {
          await store.query(`DELETE FROM ${table} WHERE ${startsWith}`, head, head);
        },
        // One statement each: SQLite serialises writers across processes, so the comparison and the write
        // cannot be separated by another process's write.
        compareAndSet: async (key, expected, value) => {
          const rows: unknown[] =
            expected === undefined
              ? await store.query(
                  `INSERT INTO ${table}(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING RETURNING key`,
                  full(key),
                  value,
                )
              : await store.query(`UPDATE ${table} SET value = ? WHERE key = ? AND value = ? RETURNING key`, value, full(key), expected);
          return rows.length === 1;
        },
      },
      lease: sqliteLease((sql, ...values) => store.query(sql, ...values), full),
      async listKeys(prefix) {
        const rows: Array<{ key: string }> = await store.query(
          `SELECT key FROM ${table} WHERE ${startsWith}`,
          head + prefix,
          head + prefix,
        );
        return rows.map((r) => r.key.slice(head.length));
      },
      close: () =>
        (closing ??= store.disconnect().catch((err: unknown) => {
          if (!openFailed) throw err; // a database that never opened has nothing to close
        })),
    };
  },
};
