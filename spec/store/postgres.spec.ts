import { createRequire } from 'node:module';
import { expect } from 'chai';
import sinon from 'sinon';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { POSTGRES_LOCK_TABLE } from '../../lib/store/locks/postgres-lock.js';
import { sampleTokenInfo, keyvStoreContract } from '../support/token-store-suite.js';
import { runId, unreachable, expectFailFast } from './helpers.js';
import { unavailable } from '../support/services.js';

interface Pool {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
  on(e: 'error', f: () => void): Pool;
}
const { Pool: PgPool } = createRequire(import.meta.resolve('@keyv/postgres'))('pg') as { Pool: new (config: object) => Pool };
// pool.end() resolves before its sockets are closed; DROP DATABASE … WITH (FORCE) may then hit one.
const pool = (connectionString: string) => new PgPool({ connectionString, max: 2 }).on('error', () => {});

const BASE_URL = process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

describe('KeyvTokenStore on Postgres', () => {
  // A database of this run's own, so that dropping tables cannot disturb anybody; when the role may
  // not create databases, the tests run in the given one.
  const dbName = `ps_store_${runId()}`;
  const ownUrl = Object.assign(new URL(BASE_URL), { pathname: `/${dbName}` }).toString();
  let url = ownUrl;
  let admin: Pool | undefined;
  let db: Pool;
  let ownDatabase = false;

  before(async function () {
    const why = await unreachable(BASE_URL);
    if (why !== undefined) {
      unavailable(this, `Postgres tests skipped: ${BASE_URL} is unreachable (${why}); set PERSISTENT_SESSION_TEST_POSTGRES_URL`);
    }
    admin = pool(BASE_URL);
    ownDatabase = await admin.query(`CREATE DATABASE ${dbName}`).then(
      () => true,
      () => false,
    );
    if (!ownDatabase) url = BASE_URL;
    db = pool(url);
  });
  after(async () => {
    await db?.end();
    if (ownDatabase) await admin!.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.end();
  });

  keyvStoreContract('Postgres', async (options) => new KeyvTokenStore(url, options), {
    lock: true,
    get uri() {
      return url;
    },
    namespacePrefix: dbName,
    rawWrite: async (store, key, value) => {
      await db.query('INSERT INTO keyv(key, value) VALUES($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [
        `${store.keyv!.namespace}:${key}`,
        value,
      ]);
    },
    rawRead: async (store, key) =>
      (await db.query('SELECT value FROM keyv WHERE key = $1', [`${store.keyv!.namespace}:${key}`])).rows[0]?.value as string | undefined,
  });

  it('fails fast with ERR_TOKEN_STORE when the server is unreachable (no hang, no silent miss)', async () => {
    await expectFailFast('postgresql://postgres@127.0.0.1:1/test', expect, sampleTokenInfo);
  });

  it('gives each store its own pool: closing one leaves another on the same URI working', async () => {
    const [a, b] = [new KeyvTokenStore(url, { namespace: `${dbName}-pool` }), new KeyvTokenStore(url, { namespace: `${dbName}-pool` })];
    const info = sampleTokenInfo();
    await a.write('k', info);
    expect((await b.read('k'))!.accessToken).to.equal(info.accessToken);
    await a.close();
    expect((await b.read('k'))!.accessToken).to.equal(info.accessToken);
    await b.clear('k');
    await b.close();
  });

  it('namespaces lock keys and takes expiry from the database clock, not the process clock', async () => {
    const store = new KeyvTokenStore(url, { namespace: `${dbName}-clock` });
    await store.withLock!('warm-up', async () => {});
    sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    const rows = await store.withLock!(
      'k',
      async () => (await db.query(`SELECT expires_at FROM ${POSTGRES_LOCK_TABLE} WHERE key = $1`, [`${dbName}-clock:k`])).rows,
      { ttlMS: 10_000 },
    );
    sinon.restore();
    expect(rows).to.have.length(1);
    expect(Number(rows[0]!.expires_at)).to.be.within(Date.now() + 5_000, Date.now() + 10_000);
    expect((await db.query(`SELECT 1 FROM ${POSTGRES_LOCK_TABLE} WHERE key = $1`, [`${dbName}-clock:k`])).rows).to.deep.equal([]);
    await store.close();
  });

  it('creates its tables in an empty database, and again when they are dropped while it runs', async function () {
    if (!ownDatabase) this.skip();
    await db.query(`DROP TABLE IF EXISTS keyv, ${POSTGRES_LOCK_TABLE}`);
    const store = new KeyvTokenStore(url, { namespace: `${dbName}-ddl` });
    const info = sampleTokenInfo();
    await store.write('k', info);
    expect(await store.withLock!('k', async () => 'locked')).to.equal('locked');
    await db.query('DROP TABLE keyv');
    expect(await store.read('k')).to.equal(undefined);
    await store.write('k', info);
    expect(await store.keys()).to.deep.equal(['k']);
    await store.close();
  });
});
