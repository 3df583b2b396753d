import { expect } from 'chai';
import type { ContractStore } from '../../support/token-store-suite.js';
import { runFixture } from '../helpers.js';

/**
 * The withLock tests that only a KeyvTokenStore's lock promises (registered by keyvStoreContract for
 * stores that lock): namespaces apart, and a lease that outlives a killed holder by at most its ttl.
 *
 * @param open - opens a store on the shared backend (in the test's namespace unless one is given)
 * @param namespace - the current test's namespace
 * @param uri - when given, a child process opens the same backend for the SIGKILL test
 */
export function lockContract(
  open: (o?: { namespace?: string }) => Promise<ContractStore>,
  namespace: () => string,
  uri: string | undefined,
): void {
  describe('withLock', () => {
    // Overlap, release on rejection, other keys and waitMS: the published contract (lib/testing/).
    it('does not block the same key in another namespace', async () => {
      const store = await open();
      const other = await open({ namespace: `${namespace()}-other` });
      let release!: () => void;
      let held!: () => void;
      const isHeld = new Promise<void>((r) => {
        held = r;
      });
      const holder = store.withLock!(
        'k',
        () => {
          held();
          return new Promise<void>((r) => {
            release = r;
          });
        },
        { ttlMS: 5_000 },
      );
      await isHeld;
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
