/**
 * The contract every TokenStore must meet, as a test suite that authors of custom stores can run
 * with their own test runner (mocha, node:test, vitest, jest: it needs only `describe` and `it`).
 * It uses node:assert, so it adds no test dependency. The project runs it against every store it
 * ships (spec/support/token-store-suite.ts).
 *
 * @module
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import type { TokenStore } from '../store/token-store.js';
import { grantTests, type ContractRun } from './grant-contract.js';

/** The test-runner functions the contract registers its tests with. */
export interface ContractTestFunctions {
  /** Groups tests, e.g. mocha's or node:test's `describe`. */
  describe(name: string, fn: () => void): unknown;
  /** Registers one asynchronous test, e.g. mocha's or node:test's `it`. */
  it(name: string, fn: () => Promise<void>): unknown;
}

/** Options of {@link tokenStoreContract}. */
export interface TokenStoreContractOptions {
  /**
   * Whether two stores made by the factory reach the same data (a database, a server). When false,
   * the tests that write with one store and read with another are left out.
   * @default true
   */
  sharedBackend?: boolean;
  /**
   * `true`: the store must implement `withLock`; `false`: it must not; undefined: the lock tests run
   * when it does.
   * @default undefined
   */
  lock?: boolean;
  /**
   * `true`: the store must implement `writeIf`; `false`: it must not; undefined: the `writeIf` tests
   * run when it does. (Sessions rely on `writeIf` to keep one result of a refresh raced by several
   * processes; a store without it is still usable.)
   * @default undefined
   */
  writeIf?: boolean;
}

/**
 * A TokenInfo with random tokens and every optional field, as the contract writes them.
 *
 * @param overrides - fields to replace
 * @returns a fresh TokenInfo
 */
export function sampleTokenInfo(overrides: Partial<TokenInfo> = {}): TokenInfo {
  return {
    accessToken: `at-${randomUUID()}`,
    refreshToken: `rt-${randomUUID()}`,
    accessTokenTTLMS: 3_600_000,
    acquiredAtMS: 1_700_000_000_000 + Math.floor(Math.random() * 1e6),
    scope: 'read write',
    tokenType: 'Bearer',
    ...overrides,
  };
}

/** The own fields of a TokenInfo as a plain object, for deep comparison. */
const fields = (info: TokenInfo | undefined) => (info === undefined ? undefined : { ...info });

type Closable = TokenStore & { close?(): Promise<void> };

/** What one test works with: stores from the factory, and a key prefix no other test uses. */
type Run = ContractRun;

/**
 * Registers the tests every {@link TokenStore} must pass: reads, writes, clears, the grant health
 * stored with the tokens, key listing (when the store has `keys`), the conditional write (when it has
 * `writeIf`) and mutual exclusion (when it has `withLock`). Each test uses keys of its
 * own, clears them afterwards, and closes the stores it made (when they have `close`), so the
 * factory may return stores over a database that holds other data.
 *
 * @param name - title of the group of tests
 * @param makeStore - makes a store; stores made during one test must reach the same data unless
 *   `sharedBackend` is false
 * @param test - the runner's `describe` and `it`
 * @param options - see {@link TokenStoreContractOptions}
 * @example
 * ```ts
 * import { describe, it } from 'node:test';
 * import { tokenStoreContract } from 'persistent-session/testing';
 *
 * tokenStoreContract('DbTokenStore', () => new DbTokenStore(db), { describe, it });
 * ```
 */
export function tokenStoreContract(
  name: string,
  makeStore: () => TokenStore | Promise<TokenStore>,
  test: ContractTestFunctions,
  options: TokenStoreContractOptions = {},
): void {
  const shared = options.sharedBackend !== false;
  const { describe } = test;
  const it = (title: string, body: (run: Run) => Promise<void>) =>
    test.it(title, async () => {
      const prefix = `contract-${randomUUID().slice(0, 8)}:`;
      const opened: Closable[] = [];
      const written = new Set<string>();
      let single: TokenStore | undefined;
      const open = async (): Promise<TokenStore> => {
        if (!shared && single !== undefined) return single;
        const store = (await makeStore()) as Closable;
        opened.push(store);
        single = store;
        // Remember what the test writes, to clear it afterwards.
        return new Proxy(store, {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (prop === 'write')
              return (key: string, info: TokenInfo) => {
                written.add(key);
                return target.write(key, info);
              };
            if (prop === 'writeIf' && typeof value === 'function') {
              return (key: string, info: TokenInfo, expected: { refreshToken: string | undefined }) => {
                written.add(key);
                return target.writeIf!(key, info, expected);
              };
            }
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      };
      try {
        await body({ open, key: (k) => prefix + k, prefix });
      } finally {
        const cleaner = opened[0];
        if (cleaner !== undefined) for (const k of written) await cleaner.clear(k).catch(() => {});
        for (const store of opened.reverse()) await store.close?.().catch(() => {});
      }
    });

  describe(`TokenStore contract: ${name}`, () => {
    it('reads an absent key as undefined', async ({ open, key }) => {
      assert.equal(await (await open()).read(key('absent')), undefined);
    });

    it('reads back what was written, field for field, with the real token values', async ({ open, key }) => {
      const store = await open();
      const full = sampleTokenInfo();
      const minimal = { accessToken: `at-${randomUUID()}`, accessTokenTTLMS: 1, acquiredAtMS: 1 };
      // Sessions write validated TokenInfos, whose JSON form shows fingerprints instead of tokens.
      const validated = validateTokenInfo(sampleTokenInfo());
      await store.write(key('full'), full);
      await store.write(key('minimal'), minimal);
      await store.write(key('validated'), validated);
      assert.deepEqual(fields(await store.read(key('full'))), full);
      assert.deepEqual(fields(await store.read(key('minimal'))), minimal);
      assert.deepEqual(fields(await store.read(key('validated'))), { ...validated });
    });

    it('overwrites, clears, and clears an absent key without error', async ({ open, key }) => {
      const store = await open();
      const [first, second] = [sampleTokenInfo(), sampleTokenInfo()];
      await store.write(key('k'), first);
      await store.write(key('k'), second);
      assert.deepEqual(fields(await store.read(key('k'))), second);
      await store.clear(key('k'));
      assert.equal(await store.read(key('k')), undefined);
      await store.clear(key('k'));
      await store.clear(key('never-written'));
    });

    it('keeps keys apart, however alike', async ({ open, key }) => {
      const store = await open();
      const names = ['a', 'b', 'a:b', 'ab', 'A', 'a b', 'a%', 'a_'];
      const infos = names.map(() => sampleTokenInfo());
      for (const [i, n] of names.entries()) await store.write(key(n), infos[i]!);
      await store.clear(key('b'));
      for (const [i, n] of names.entries()) assert.deepEqual(fields(await store.read(key(n))), n === 'b' ? undefined : infos[i], n);
    });

    if (shared) {
      it('lets another store instance read what one wrote', async ({ open, key }) => {
        const [a, b] = [await open(), await open()];
        const info = sampleTokenInfo();
        await a.write(key('k'), info);
        assert.deepEqual(fields(await b.read(key('k'))), info);
        await b.clear(key('k'));
        assert.equal(await a.read(key('k')), undefined);
      });
    }

    it('lists keys by prefix (when it has keys)', async ({ open, key, prefix }) => {
      const store = await open();
      if (store.keys === undefined) return;
      assert.deepEqual(await store.keys(prefix), []);
      for (const k of ['user:2', 'user:1', 'other:1', 'user_x', 'user%']) await store.write(key(k), sampleTokenInfo());
      const sorted = async (p: string) => [...(await store.keys!(p))].sort();
      assert.deepEqual(await sorted(key('user:')), [key('user:1'), key('user:2')]);
      assert.deepEqual(await sorted(prefix), ['other:1', 'user%', 'user:1', 'user:2', 'user_x'].map(key));
      assert.deepEqual(await sorted(key('nothing')), []);
    });

    grantTests(it, options.writeIf, shared);

    if (options.lock === false) {
      it('has no withLock', async ({ open }) => {
        assert.equal((await open()).withLock, undefined);
      });
      return;
    }
    lockTests(it, options.lock === true);
  });
}

/** The `withLock` part of the contract. */
function lockTests(it: (title: string, body: (run: Run) => Promise<void>) => unknown, required: boolean): void {
  const locking = async (run: Run): Promise<(Required<Pick<TokenStore, 'withLock'>> & TokenStore) | undefined> => {
    const store = await run.open();
    if (store.withLock === undefined && required) assert.fail('the store has no withLock');
    return store.withLock === undefined ? undefined : (store as Required<Pick<TokenStore, 'withLock'>> & TokenStore);
  };

  it('withLock: never lets two holders of one key overlap, across store instances', async (run) => {
    const stores = [await locking(run), await locking(run)];
    if (stores[0] === undefined || stores[1] === undefined) return;
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        stores[i % 2]!.withLock(
          run.key('k'),
          async () => {
            inside++;
            most = Math.max(most, inside);
            await new Promise((r) => setTimeout(r, 5));
            order.push(i);
            inside--;
            return i;
          },
          { ttlMS: 5_000 },
        ),
      ),
    );
    assert.equal(most, 1);
    assert.deepEqual(results, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual([...order].sort(), results);
  });

  it('withLock: releases the lock when fn rejects, and passes the rejection on', async (run) => {
    const store = await locking(run);
    if (store === undefined) return;
    const boom = new Error('boom');
    let caught: unknown;
    await store
      .withLock(run.key('k'), async () => {
        throw boom;
      })
      .catch((e: unknown) => {
        caught = e;
      });
    assert.equal(caught, boom);
    assert.equal(await store.withLock(run.key('k'), async () => 'again', { waitMS: 500 }), 'again');
  });

  it('withLock: does not block other keys; a waiter on a held key gives up after waitMS with ERR_TOKEN_STORE', async (run) => {
    const store = await locking(run);
    if (store === undefined) return;
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => {
      held = r;
    });
    const holder = store.withLock(
      run.key('k'),
      () => {
        held();
        return new Promise<void>((r) => {
          release = r;
        });
      },
      { ttlMS: 5_000 },
    );
    await isHeld;
    try {
      assert.equal(await store.withLock(run.key('other-key'), async () => 'free', { waitMS: 1_000 }), 'free');
      const err = await store
        .withLock(run.key('k'), async () => 'never', { waitMS: 150 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.equal((err as { code?: unknown } | undefined)?.code, 'ERR_TOKEN_STORE');
    } finally {
      release();
      await holder;
    }
  });
}
