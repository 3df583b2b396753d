// Lease length and lost leases: a lease under MIN_LOCK_TTL_MS (shorter than a renewal round trip
// could keep alive) is refused, and a renewal that finds the lease gone stops renewing and emits
// PERSISTENT_SESSION_LEASE_LOST, so the holder learns that it no longer holds the lock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import KeyvSqlite from '@keyv/sqlite';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { LEASE_LOST_WARNING, MIN_LOCK_TTL_MS } from '../../../lib/store/locks/lease.js';
import { SQLITE_LOCK_TABLE } from '../../../lib/store/locks/sqlite-lock.js';
import { SystemTokenCache } from '../../../lib/forge/system-token-cache.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lease length and lost leases', () => {
  let dir: string;
  const stores: KeyvTokenStore[] = [];
  const sqlite = (namespace = 'lease') => {
    const store = new KeyvTokenStore(`sqlite://${join(dir, 'tokens.sqlite')}`, { namespace });
    stores.push(store);
    return store;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-lease-'));
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it(`refuses a ttlMS under ${MIN_LOCK_TTL_MS} ms with ERR_INVALID_ARG_VALUE naming ttlMS, before taking the lock`, async () => {
    for (const store of [sqlite(), new KeyvTokenStore()]) {
      let ran = false;
      const err = await store.withLock!(
        'k',
        async () => {
          ran = true;
        },
        { ttlMS: MIN_LOCK_TTL_MS - 1 },
      ).catch((e: unknown) => e);
      expect(err, store.backend).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(err, store.backend).to.have.property('field', 'ttlMS');
      expect((err as Error).message).to.include('`ttlMS`');
      expect(ran).to.equal(false);
    }
    expect(await sqlite().withLock!('k', async () => 'ok', { ttlMS: MIN_LOCK_TTL_MS })).to.equal('ok');
  });

  it('SystemTokenCache refuses a lockTTLMS under the minimum at construction', () => {
    let caught: unknown;
    try {
      new SystemTokenCache({ lockTTLMS: 500 });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(caught).to.have.property('field', 'lockTTLMS');
  });

  it('warns once with PERSISTENT_SESSION_LEASE_LOST, naming the key, when the lease vanishes while fn runs', async function () {
    this.timeout(10_000);
    const warn = sinon.stub(process, 'emitWarning');
    const store = sqlite();
    // A connection of the test's own to the store's file.
    const db = new KeyvSqlite({ uri: `sqlite://${join(dir, 'tokens.sqlite')}`, busyTimeout: 5_000 });
    const lost = () => warn.getCalls().filter((c) => (c.args[1] as { code?: string } | undefined)?.code === LEASE_LOST_WARNING);
    const result = await store.withLock!(
      'refresh:k',
      async () => {
        await db.query(`DELETE FROM ${SQLITE_LOCK_TABLE} WHERE key = ?`, 'lease:refresh:k');
        // Renewals run every ttlMS / 3; wait for the first to notice, then two more periods.
        for (let waited = 0; lost().length === 0 && waited < 2_000; waited += 25) await sleep(25);
        await sleep(2 * (MIN_LOCK_TTL_MS / 3) + 50);
        return 'fn finished';
      },
      { ttlMS: MIN_LOCK_TTL_MS },
    );
    warn.restore();
    await db.disconnect();
    expect(result).to.equal('fn finished');
    expect(lost()).to.have.length(1);
    expect(String(lost()[0]!.args[0])).to.include('"refresh:k"');
  });

  it('does not warn while the lease is held normally', async () => {
    const warn = sinon.stub(process, 'emitWarning');
    await sqlite().withLock!('k', () => sleep((MIN_LOCK_TTL_MS / 3) * 2 + 100), { ttlMS: MIN_LOCK_TTL_MS });
    warn.restore();
    expect(warn.getCalls().filter((c) => (c.args[1] as { code?: string } | undefined)?.code === LEASE_LOST_WARNING)).to.deep.equal([]);
  });
});
