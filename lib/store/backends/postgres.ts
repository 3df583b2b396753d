/**
 * The Postgres backend (`postgresql://…`, `postgres://…`), loaded only when such a URI is used.
 * Records live in @keyv/postgres's table (`public.keyv`, keys `namespace:key`), leases in
 * `persistent_session_locks`.
 *
 * Each store owns its connection pool. @keyv/postgres keeps one pool per process in a module-wide
 * variable: opening a second URI replaces it without closing it, and closing any store ends it for
 * every other store. The subclass below overrides its `connect`/`disconnect` hooks to use a pool of
 * its own, which also lets an idle pool stop holding the process open (`allowExitOnIdle`), fails a
 * connection attempt after a bounded time, and recreates the table when the database was
 * unreachable at the moment the adapter first tried to create it.
 *
 * @keyv/postgres cannot expire rows: Keyv keeps the expiry inside the value, and
 * KeyvTokenStore.prune() removes what can no longer be used.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { postgresLease, type PgQuery } from '../locks/postgres-lock.js';
import { loadDriverPackage, type BackendDriver, type DriverConnection, type DriverOptions, type DriverPackage } from './driver.js';

/** Upper bound for establishing a connection. */
export const POSTGRES_CONNECT_TIMEOUT_MS = 5_000;
/** Connections per store; token traffic is light. */
export const POSTGRES_POOL_SIZE = 5;

/** The little of pg's Pool used here (pg ships no types, and @types/pg is not a dependency). */
interface PgPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'connect', listener: (client: { on(event: 'error', listener: () => void): unknown }) => void): unknown;
}

const PACKAGE: DriverPackage = {
  backend: 'Postgres',
  packages: '@keyv/postgres and its dependency pg',
  fix: 'install it: npm install @keyv/postgres',
};

const isDuplicate = (err: unknown) => ['23505', '42P07'].includes(String((err as { code?: unknown }).code));

type KeyvPostgresClass = typeof import('@keyv/postgres')['default'];
type PooledKeyvPostgres = InstanceType<ReturnType<typeof pooledClass>>;

/** The adapter with a pool of its own, over the loaded package and its pg Pool. */
function pooledClass(KeyvPostgres: KeyvPostgresClass, Pool: new (config: object) => PgPool) {
  return class PooledKeyvPostgres extends KeyvPostgres {
    // Assigned by connect(), which the base constructor calls: `declare` keeps a field initialiser
    // from resetting it afterwards.
    declare pool: PgPool;

    override async connect(): Promise<(sql: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>> {
      const opts = this.opts as {
        uri: string;
        schema: string;
        table: string;
        keySize: number;
        connectTimeoutMS: number;
        queryTimeoutMS: number;
      };
      this.pool ??= new Pool({
        connectionString: opts.uri,
        connectionTimeoutMillis: opts.connectTimeoutMS,
        // A query that gets no answer (half-open connection) fails after this, and the pool discards
        // its connection; without it, stuck connections would exhaust the pool for good.
        query_timeout: opts.queryTimeoutMS,
        keepAlive: true,
        max: POSTGRES_POOL_SIZE,
        allowExitOnIdle: true,
      });
      // A connection that the server drops emits 'error' (on the pool when idle, on the client while it
      // is being closed); unhandled, either would crash the process. Queries report their own errors.
      this.pool.on('error', () => {});
      this.pool.on('connect', (client) => {
        client.on('error', () => {});
      });
      const pool = this.pool;
      const ddl = `CREATE TABLE IF NOT EXISTS ${opts.schema}.${opts.table}(key VARCHAR(${Number(opts.keySize)}) PRIMARY KEY, value TEXT )`;
      return async (sql, values) => {
        try {
          return (await pool.query(sql, values)).rows;
        } catch (err) {
          if ((err as { code?: unknown }).code !== '42P01') throw err; // undefined_table
          await pool.query(ddl).catch((e: unknown) => {
            if (!isDuplicate(e)) throw e;
          });
          return (await pool.query(sql, values)).rows;
        }
      };
    }

    override async disconnect(): Promise<void> {
      await this.pool.end();
    }
  };
}

/** The Postgres driver. */
export const driver: BackendDriver = {
  async open(uri, options) {
    const { default: KeyvPostgres } = await loadDriverPackage(PACKAGE, () => import('@keyv/postgres'));
    // pg is resolved from @keyv/postgres's location: it is that package's dependency, not ours, and
    // this way it is the very copy the adapter was written against, whatever the package manager's layout.
    const { Pool } = await loadDriverPackage(
      PACKAGE,
      async () => createRequire(import.meta.resolve('@keyv/postgres'))('pg') as { Pool: new (config: object) => PgPool },
    );
    return openPostgres(pooledClass(KeyvPostgres, Pool), uri, options);
  },
};

/** Opens a connection; the pool connects on demand. */
function openPostgres(Pooled: ReturnType<typeof pooledClass>, uri: string, { namespace, timeoutMS }: DriverOptions): DriverConnection {
  const store: PooledKeyvPostgres = new Pooled({
    uri,
    connectTimeoutMS: Math.min(POSTGRES_CONNECT_TIMEOUT_MS, timeoutMS),
    queryTimeoutMS: timeoutMS,
  } as object);
  // Table-creation failures are emitted; the operations report their own failures.
  store.on('error', () => {});
  const table = `${store.opts.schema}.${store.opts.table}`;
  const raw: PgQuery = async (sql, values) => (await store.pool.query(sql, values)).rows;
  let closing: Promise<void> | undefined;
  const full = (key: string) => `${namespace}:${key}`;
  return {
    adapter: {
      get: (key) => store.get(full(key)),
      set: (key, value) => store.set(full(key), value),
      delete: (key) => store.delete(full(key)),
      clear: async () => {
        await store.query(`DELETE FROM ${table} WHERE left(key, char_length($1::text)) = $1::text`, [full('')]);
      },
      // One statement each. Under READ COMMITTED an UPDATE that finds the row being changed waits for that
      // transaction and evaluates its WHERE again on the new row, and ON CONFLICT DO NOTHING loses to a
      // concurrent insert: the comparison and the write are one atomic step.
      compareAndSet: async (key, expected, value) => {
        const insert = `INSERT INTO ${table}(key, value) VALUES($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key`;
        const rows =
          expected === undefined
            ? await store.query(insert, [full(key), value])
            : await store.query(`UPDATE ${table} SET value = $1 WHERE key = $2 AND value = $3 RETURNING key`, [value, full(key), expected]);
        return (rows as unknown[]).length === 1;
      },
    },
    lease: postgresLease(raw, full),
    async listKeys(prefix) {
      const head = full(prefix);
      // Compared with the database's own character counting; LIKE would treat `_` and `%` as wildcards.
      const rows = (await store.query(`SELECT key FROM ${table} WHERE left(key, char_length($1::text)) = $1::text`, [head])) as Array<{
        key: string;
      }>;
      return rows.map((r) => r.key.slice(namespace.length + 1));
    },
    close: () => (closing ??= store.disconnect()),
  };
}
