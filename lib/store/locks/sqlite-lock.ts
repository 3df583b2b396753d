/**
 * Cross-process lock for the SQLite store: a lease table in the same database file. SQLite
 * serialises writers across processes, so one UPSERT decides who holds a lease.
 *
 * @module
 */
import type KeyvSqlite from '@keyv/sqlite';
import { leaseLock } from './lease.js';

/** Name of the lease table created next to Keyv's table. */
export const SQLITE_LOCK_TABLE = 'persistent_session_locks';

/**
 * Epoch milliseconds from SQLite's own clock (the OS clock, read by the database engine), so that a
 * process running under a fake JavaScript clock still agrees with the others on when a lease ends.
 * SQLite keeps 'now' fixed within one statement.
 */
const DB_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/**
 * @internal Builds `withLock` for a SQLite store.
 * @param store - the Keyv SQLite adapter (its connection runs the lease statements)
 * @param lockKey - maps a store key to its namespaced lock key, so namespaces never contend
 * @returns the lock function
 */
export function sqliteLock(store: KeyvSqlite, lockKey: (key: string) => string) {
  let ready: Promise<unknown> | undefined;
  const init = () => (ready ??= store.query(
    `CREATE TABLE IF NOT EXISTS ${SQLITE_LOCK_TABLE}(key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  ).catch((err: unknown) => { ready = undefined; throw err; }));
  return leaseLock({
    async tryAcquire(key, owner, ttlMS) {
      await init();
      const rows: Array<{ owner: string }> = await store.query(
        `INSERT INTO ${SQLITE_LOCK_TABLE}(key, owner, expires_at) VALUES(?, ?, ${DB_NOW_MS} + ?)
         ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE ${SQLITE_LOCK_TABLE}.expires_at <= ${DB_NOW_MS} RETURNING owner`,
        lockKey(key), owner, Math.ceil(ttlMS),
      );
      return rows.length === 1 && rows[0]!.owner === owner;
    },
    async renew(key, owner, ttlMS) {
      const rows: unknown[] = await store.query(
        `UPDATE ${SQLITE_LOCK_TABLE} SET expires_at = ${DB_NOW_MS} + ? WHERE key = ? AND owner = ? RETURNING key`,
        Math.ceil(ttlMS), lockKey(key), owner,
      );
      return rows.length === 1;
    },
    async release(key, owner) {
      await store.query(`DELETE FROM ${SQLITE_LOCK_TABLE} WHERE key = ? AND owner = ?`, lockKey(key), owner);
    },
  }, 'SQLite');
}
