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

/** @internal */
export function sqliteLock(store: KeyvSqlite, _busyTimeoutMS: number) {
  let ready: Promise<unknown> | undefined;
  const init = () => (ready ??= store.query(
    `CREATE TABLE IF NOT EXISTS ${SQLITE_LOCK_TABLE}(key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
  ).catch((err: unknown) => { ready = undefined; throw err; }));
  return leaseLock({
    async tryAcquire(key, owner, ttlMS) {
      await init();
      const now = Date.now();
      const rows: Array<{ owner: string }> = await store.query(
        `INSERT INTO ${SQLITE_LOCK_TABLE}(key, owner, expires_at) VALUES(?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE ${SQLITE_LOCK_TABLE}.expires_at <= ? RETURNING owner`,
        key, owner, now + ttlMS, now,
      );
      return rows.length === 1 && rows[0]!.owner === owner;
    },
    async renew(key, owner, ttlMS) {
      const rows: unknown[] = await store.query(
        `UPDATE ${SQLITE_LOCK_TABLE} SET expires_at = ? WHERE key = ? AND owner = ? RETURNING key`,
        Date.now() + ttlMS, key, owner,
      );
      return rows.length === 1;
    },
    async release(key, owner) {
      await store.query(`DELETE FROM ${SQLITE_LOCK_TABLE} WHERE key = ? AND owner = ?`, key, owner);
    },
  }, 'SQLite');
}
