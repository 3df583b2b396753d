import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import KeyvSqlite from '@keyv/sqlite';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { SQLITE_LOCK_TABLE } from '../../lib/store/locks/sqlite-lock.js';
import { sampleTokenInfo, keyvStoreContract, type ContractStore } from '../support/token-store-suite.js';

describe('KeyvTokenStore on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ps-store-sqlite-'));
  const file = join(dir, 'tokens.sqlite');
  // A connection of the test's own to the same file, for reads and writes that bypass the store.
  let direct: KeyvSqlite | undefined;
  const sqliteOf = (_store?: ContractStore) => (direct ??= new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 5_000 }));
  after(async () => {
    await direct?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  keyvStoreContract('SQLite file', async (options) => new KeyvTokenStore(`sqlite://${file}`, options), {
    lock: true,
    uri: `sqlite://${file}`,
    rawWrite: async (store, key, value) => {
      await sqliteOf(store).query(
        'INSERT INTO keyv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
        `${store.keyv!.namespace}:${key}`,
        value,
      );
    },
    rawRead: async (store, key) => {
      const rows: Array<{ value: string }> = await sqliteOf(store).query(
        'SELECT value FROM keyv WHERE key = ?',
        `${store.keyv!.namespace}:${key}`,
      );
      return rows[0]?.value;
    },
  });

  describe('backend failures are TokenStoreError, never a miss', () => {
    const expectStoreErrors = async (store: KeyvTokenStore) => {
      const ops = [
        () => store.read('k'),
        () => store.write('k', sampleTokenInfo()),
        () => store.clear('k'),
        () => store.keys(),
        () => store.withLock!('k', async () => {}, { waitMS: 100 }),
      ];
      for (const op of ops) {
        const err = await op().then(
          () => 'resolved',
          (e: unknown) => e,
        );
        expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
        expect((err as Error).cause ?? (err as Error).message).to.not.equal(undefined);
      }
    };

    it('a file that is not a database', async () => {
      const bad = join(dir, 'not-a-database.sqlite');
      writeFileSync(bad, 'this is not a SQLite database file, just text that is long enough to have a header');
      const store = new KeyvTokenStore(`sqlite://${bad}`);
      await expectStoreErrors(store);
      const err = await store.read('k').catch((e: unknown) => e as Error);
      expect(String((err as Error).cause)).to.match(/SQLITE_NOTADB|not a database/);
      await store.close();
    });

    it('a path under a regular file (cannot be created)', async () => {
      const blocker = join(dir, 'blocker');
      writeFileSync(blocker, '');
      const store = new KeyvTokenStore(`sqlite://${join(blocker, 'sub', 'tokens.sqlite')}`);
      await expectStoreErrors(store);
      await store.close();
    });

    it('a store that was closed', async () => {
      const store = new KeyvTokenStore(`sqlite://${file}`);
      await store.write('k', sampleTokenInfo());
      await store.close();
      await store.close();
      await expectStoreErrors(store);
    });
  });

  describe('file permissions: tokens are private to their owner', () => {
    const mode = (path: string) => statSync(path).mode & 0o777;
    // A common umask, which would leave files 0644 and directories 0755 if the store did not choose.
    let umask: number;
    beforeEach(() => {
      umask = process.umask(0o022);
    });
    afterEach(() => {
      process.umask(umask);
    });

    it('creates the database (and its -wal and -shm files) 0600 and each directory it creates 0700', async () => {
      const nested = join(dir, 'private', 'deeper', 'tokens.sqlite');
      const store = new KeyvTokenStore(`sqlite://${nested}`);
      await store.write('k', sampleTokenInfo());
      await store.withLock!('k', async () => {});
      try {
        expect(existsSync(`${nested}-wal`), 'WAL file').to.equal(true);
        expect(existsSync(`${nested}-shm`), 'shared-memory file').to.equal(true);
        for (const f of [nested, `${nested}-wal`, `${nested}-shm`]) expect(mode(f), f).to.equal(0o600);
        for (const d of [join(dir, 'private'), join(dir, 'private', 'deeper')]) expect(mode(d), d).to.equal(0o700);
      } finally {
        await store.close();
      }
    });

    it('leaves the mode of an existing file and directory alone', async () => {
      const shared = join(dir, 'shared.sqlite');
      writeFileSync(shared, '');
      chmodSync(shared, 0o640);
      const before = mode(dir);
      const store = new KeyvTokenStore(`sqlite://${shared}`);
      await store.write('k', sampleTokenInfo());
      await store.close();
      expect(mode(shared)).to.equal(0o640);
      expect(mode(dir)).to.equal(before);
    });
  });

  describe('lease table', () => {
    it('namespaces lock keys and takes expiry from the database clock, not the process clock', async () => {
      const store = new KeyvTokenStore(`sqlite://${file}`, { namespace: 'clock-ns' });
      sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
      const rows = (await store.withLock!(
        'k',
        async () => sqliteOf(store).query(`SELECT key, expires_at FROM ${SQLITE_LOCK_TABLE} WHERE key = ?`, 'clock-ns:k'),
        { ttlMS: 10_000 },
      )) as Array<{ expires_at: number }>;
      sinon.restore();
      expect(rows).to.have.length(1);
      expect(rows[0]!.expires_at).to.be.within(Date.now() + 5_000, Date.now() + 10_000);
      const after: unknown[] = await sqliteOf(store).query(`SELECT key FROM ${SQLITE_LOCK_TABLE} WHERE key = ?`, 'clock-ns:k');
      expect(after).to.deep.equal([]);
      await store.close();
    });
  });
});
