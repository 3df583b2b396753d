// Memory stores (and stores over a given Keyv instance, within this process) lock per key, so two
// PersistentSessions of one process sharing one createTokenStore() refresh once between them instead
// of both presenting the same refresh token (invalid_grant, and the token family revoked).
import { expect } from 'chai';
import Keyv from 'keyv';
import type { Emulator } from '../../lib/emulator/index.js';
import { KeyvTokenStore, createTokenStore } from '../../lib/store/keyv-token-store.js';
import { localLock } from '../../lib/store/locks/local-lock.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { recordSecret } from '../support/secrets.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('in-process lock of the memory store', () => {
  describe('two PersistentSessions sharing one memory store', () => {
    let emu: Emulator;
    afterEach(async () => {
      await emu?.close();
    });

    it('50 concurrent callers on each, all on an expired token: exactly 1 refresh, 0 invalid_grant', async () => {
      emu = await emulator();
      const store = createTokenStore();
      const { issued, tokenInfo } = seed(emu, { expired: true });
      await store.write('k', tokenInfo);
      const a = sessionFor(emu, { tokenStore: store, key: 'k' });
      const b = sessionFor(emu, { tokenStore: store, key: 'k' });
      emu.resetCounts();
      const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).getAccessToken()));
      const failed = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { code?: string });
      expect(failed.map((e) => e.code)).to.deep.equal([]);
      const tokens = new Set(results.map((r) => (r as PromiseFulfilledResult<string>).value));
      for (const t of tokens) recordSecret(t);
      expect(tokens.size).to.equal(1);
      expect(emu.requests('token')).to.have.length(1);
      expect(emu.requests('token').filter((r) => r.status !== 200)).to.deep.equal([]);
      expect(emu.family(issued.refreshToken)?.revoked).to.equal(false);
      await store.close();
    });
  });

  describe('localLock', () => {
    it('runs holders of one key one at a time, in arrival order, and other keys alongside', async () => {
      const withLock = localLock('test');
      const log: string[] = [];
      let inside = 0;
      let most = 0;
      const hold = (key: string, name: string) =>
        withLock(key, async () => {
          inside++;
          most = Math.max(most, inside);
          log.push(`${name}+`);
          await tick();
          log.push(`${name}-`);
          inside--;
          return name;
        });
      const results = await Promise.all([hold('k', 'a'), hold('k', 'b'), hold('k', 'c')]);
      expect(results).to.deep.equal(['a', 'b', 'c']);
      expect(log).to.deep.equal(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
      expect(most).to.equal(1);
      const both: string[] = [];
      await Promise.all([
        withLock('x', async () => {
          both.push('x+');
          await tick();
          both.push('x-');
        }),
        withLock('y', async () => {
          both.push('y+');
          await tick();
          both.push('y-');
        }),
      ]);
      expect(both).to.deep.equal(['x+', 'y+', 'x-', 'y-']);
    });

    it('passes a rejection on and releases the lock', async () => {
      const withLock = localLock('test');
      const boom = new Error('boom');
      expect(
        await withLock('k', async () => {
          throw boom;
        }).catch((e: unknown) => e),
      ).to.equal(boom);
      expect(await withLock('k', async () => 'again', { waitMS: 10 })).to.equal('again');
    });

    it('a waiter gives up after waitMS with ERR_TOKEN_STORE and leaves the queue; the next waiter still gets the lock', async () => {
      const withLock = localLock('in-memory');
      let release!: () => void;
      const holder = withLock(
        'k',
        () =>
          new Promise<void>((r) => {
            release = r;
          }),
      );
      const started = Date.now();
      const err = await withLock('k', async () => 'never', { waitMS: 50 }).catch((e: unknown) => e);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      expect((err as Error).message).to.include('in-memory lock on key "k"');
      expect(Date.now() - started).to.be.at.least(45);
      const next = withLock('k', async () => 'next');
      release();
      await holder;
      expect(await next).to.equal('next');
    });

    it('validates its options as the lease locks do', async () => {
      const withLock = localLock('test');
      for (const [options, field] of [
        [{ ttlMS: 999 }, 'ttlMS'],
        [{ waitMS: -1 }, 'waitMS'],
        [{ ttlMS: Number.NaN }, 'ttlMS'],
      ] as const) {
        const err = await withLock('k', async () => 'ran', options).catch((e: unknown) => e);
        expect(err).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
        expect(err).to.have.property('field', field);
      }
    });
  });

  describe('stores', () => {
    it('a memory store has withLock; two memory stores do not share it (nothing to share)', async () => {
      const [a, b] = [new KeyvTokenStore(), new KeyvTokenStore()];
      expect(a.withLock).to.be.a('function');
      let release!: () => void;
      const holder = a.withLock!(
        'k',
        () =>
          new Promise<void>((r) => {
            release = r;
          }),
      );
      expect(await b.withLock!('k', async () => 'free', { waitMS: 20 })).to.equal('free');
      const err = await a.withLock!('k', async () => 'held', { waitMS: 20 }).catch((e: unknown) => e);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      release();
      await holder;
    });

    it('stores over one given Keyv instance share an in-process lock, namespace by namespace', async () => {
      const shared = new Keyv({ namespace: 'ns' });
      const [a, b] = [new KeyvTokenStore(shared), new KeyvTokenStore(shared)];
      const other = new KeyvTokenStore(new Keyv({ store: shared.store, namespace: 'other' }));
      expect(a.backend).to.equal('keyv');
      let release!: () => void;
      const holder = a.withLock!(
        'k',
        () =>
          new Promise<void>((r) => {
            release = r;
          }),
      );
      const err = await b.withLock!('k', async () => 'held', { waitMS: 20 }).catch((e: unknown) => e);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      expect(await other.withLock!('k', async () => 'free', { waitMS: 20 })).to.equal('free');
      release();
      await holder;
      expect(await b.withLock!('k', async () => 'now', { waitMS: 20 })).to.equal('now');
    });
  });
});
