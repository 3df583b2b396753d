/**
 * Cross-process lock for the SQLite store: a lease table in the same database file. SQLite
 * serialises writers across processes, so one UPSERT decides who holds a lease.
 *
 * @module
 */
import type { LeaseBackend } from './lease.js';

/** Name of the lease table created next to Keyv's table. */
export const SQLITE_LOCK_TABLE = 'persistent_session_locks';

/**
 * Epoch milliseconds from SQLite's own clock (the OS clock, read by the database engine), so that a
 * process running under a fake JavaScript clock still agrees with the others on when a lease ends.
 * SQLite keeps 'now' fixed within one statement.
 */
const DB_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/** @internal Runs one statement on the store's connection and returns its rows. */
export type SqliteQuery = (sql: string, ...values: unknown[]) => Promise<Array<Record<string, unknown>>>;

/**
 * @internal Lease operations over SQLite.
 * @param query - runs a statement on the store's database
 * @param lockKey - maps a store key to its namespaced lock key, so namespaces never contend
 * @returns the lease backend for {@link leaseLock}
 */
export function sqliteLease(query: SqliteQuery, lockKey: (key: string) => string): LeaseBackend {
  let ready: Promise<unknown> | undefined;
  const init = () =>
    (ready ??= query(
      `CREATE TABLE IF NOT EXISTS ${SQLITE_LOCK_TABLE}(key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
    ).catch((err: unknown) => {
      ready = undefined;
      throw err;
    }));
  return {
    async tryAcquire(key, owner, ttlMS) {
      await init();
      const rows = await query(
        `INSERT INTO ${SQLITE_LOCK_TABLE}(key, owner, expires_at) VALUES(?, ?, ${DB_NOW_MS} + ?)
         ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE ${SQLITE_LOCK_TABLE}.expires_at <= ${DB_NOW_MS} RETURNING owner`,
        lockKey(key),
        owner,
        Math.ceil(ttlMS),
      );
      return rows.length === 1 && rows[0]!.owner === owner;
    },
    async renew(key, owner, ttlMS) {
      const rows = await query(
        `UPDATE ${SQLITE_LOCK_TABLE} SET expires_at = ${DB_NOW_MS} + ? WHERE key = ? AND owner = ? RETURNING key`,
        Math.ceil(ttlMS),
        lockKey(key),
        owner,
      );
      return rows.length === 1;
    },
    async release(key, owner) {
      await query(`DELETE FROM ${SQLITE_LOCK_TABLE} WHERE key = ? AND owner = ?`, lockKey(key), owner);
    },
  };
}
