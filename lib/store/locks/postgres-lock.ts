/**
 * Cross-process lock for the Postgres store: a lease row per key. One `INSERT … ON CONFLICT DO
 * UPDATE … WHERE expires_at <= now` decides who holds it, so a holder that is killed blocks others
 * for at most one lease, and it works through transaction poolers (no session state, unlike
 * advisory locks). Expiry uses the database clock, so processes with skewed or fake clocks agree.
 *
 * @module
 */
import type { LeaseBackend } from './lease.js';

/** Name of the lease table, created on first use. */
export const POSTGRES_LOCK_TABLE = 'persistent_session_locks';

/** The database's own clock in epoch milliseconds (clock_timestamp advances within a transaction). */
const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** @internal Runs one statement and returns its rows. */
export type PgQuery = (sql: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/**
 * @internal Lease operations over Postgres.
 * @param query - runs a statement on the store's pool
 * @param lockKey - maps a store key to its namespaced lock key
 * @returns the lease backend for {@link leaseLock}
 */
export function postgresLease(query: PgQuery, lockKey: (key: string) => string): LeaseBackend {
  let ready: Promise<unknown> | undefined;
  const init = () =>
    (ready ??= query(
      `CREATE TABLE IF NOT EXISTS ${POSTGRES_LOCK_TABLE}(key text PRIMARY KEY, owner text NOT NULL, expires_at bigint NOT NULL)`,
    ).catch((err: unknown) => {
      // Two processes creating the table at once: the loser sees a duplicate, which means it exists.
      const code = (err as { code?: unknown }).code;
      if (code === '23505' || code === '42P07') return;
      ready = undefined;
      throw err;
    }));
  return {
    async tryAcquire(key, owner, ttlMS) {
      await init();
      const rows = await query(
        `INSERT INTO ${POSTGRES_LOCK_TABLE} AS l (key, owner, expires_at) VALUES ($1, $2, ${DB_NOW_MS} + $3::bigint)
         ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE l.expires_at <= ${DB_NOW_MS} RETURNING owner`,
        [lockKey(key), owner, Math.ceil(ttlMS)],
      );
      return rows.length === 1 && rows[0]!.owner === owner;
    },
    async renew(key, owner, ttlMS) {
      await init();
      const rows = await query(
        `UPDATE ${POSTGRES_LOCK_TABLE} SET expires_at = ${DB_NOW_MS} + $3::bigint WHERE key = $1 AND owner = $2 RETURNING key`,
        [lockKey(key), owner, Math.ceil(ttlMS)],
      );
      return rows.length === 1;
    },
    async release(key, owner) {
      await init();
      await query(`DELETE FROM ${POSTGRES_LOCK_TABLE} WHERE key = $1 AND owner = $2`, [lockKey(key), owner]);
    },
  };
}
