import { expect } from 'chai';
import type { ContractStore } from '../../support/token-store-suite.js';
import { runFixture } from '../helpers.js';

/**
 * The withLock part of the store contract (registered by tokenStoreContract for stores that lock).
 *
 * @param open - opens a store on the shared backend (in the test's namespace unless one is given)
 * @param namespace - the current test's namespace
 * @param uri - when given, a child process opens the same backend for the SIGKILL test
 */
export function lockContract(open: (o?: { namespace?: string }) => Promise<ContractStore>, namespace: () => string, uri: string | undefined): void {
  describe('withLock', () => {
    it('never lets two holders of one key overlap, across store instances', async () => {
      const stores = [await open(), await open()];
      let inside = 0;
      let most = 0;
      const order: number[] = [];
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 2]!.withLock!('k', async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 5));
        order.push(i);
        inside--;
        return i;
      }, { ttlMS: 5_000 })));
      expect(most).to.equal(1);
      expect(results).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
      expect([...order].sort()).to.deep.equal(results);
    });

    it('releases the lock when fn rejects, and passes the rejection on', async () => {
      const store = await open();
      const boom = new Error('boom');
      let caught: unknown;
      await store.withLock!('k', async () => { throw boom; }).catch((e: unknown) => { caught = e; });
      expect(caught).to.equal(boom);
      expect(await store.withLock!('k', async () => 'again', { waitMS: 500 })).to.equal('again');
    });

    it('does not block other keys or other namespaces; a waiter on a held key times out with ERR_TOKEN_STORE', async () => {
      const store = await open();
      const other = await open({ namespace: `${namespace()}-other` });
      let release!: () => void;
      let held!: () => void;
      const isHeld = new Promise<void>((r) => { held = r; });
      const holder = store.withLock!('k', () => { held(); return new Promise<void>((r) => { release = r; }); }, { ttlMS: 5_000 });
      await isHeld;
      expect(await store.withLock!('other-key', async () => 'free', { waitMS: 1_000 })).to.equal('free');
      expect(await other.withLock!('k', async () => 'free', { waitMS: 1_000 })).to.equal('free');
      const err = await store.withLock!('k', async () => 'never', { waitMS: 150 }).catch((e: unknown) => e);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      release();
      await holder;
    });

    if (uri === undefined) return;

    it('survives a SIGKILLed holder: the lease is renewed while it lives and expires within ttl after', async function () {
      this.timeout(15_000);
      const ttlMS = 1_000; // the shortest lease accepted (MIN_LOCK_TTL_MS)
      const store = await open();
      const child = runFixture('hold-lock', [uri, namespace(), 'k', String(ttlMS)]);
      try {
        await child.waitForLine('locked');
        // Longer than one lease: only renewal keeps the child's lease alive this long.
        const early = await store.withLock!('k', async () => 'stolen', { waitMS: ttlMS * 1.5 }).catch((e: unknown) => e);
        expect(early).to.have.property('code', 'ERR_TOKEN_STORE');
        child.child.kill('SIGKILL');
        await child.exit;
        const killedAt = Date.now();
        expect(await store.withLock!('k', async () => 'taken over', { ttlMS: 5_000, waitMS: ttlMS + 2_000 })).to.equal('taken over');
        expect(Date.now() - killedAt).to.be.at.most(ttlMS + 500);
      } finally {
        child.child.kill('SIGKILL');
      }
    });
  });
}
