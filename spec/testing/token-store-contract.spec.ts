import { expect } from 'chai';
import { TokenStoreError } from '../../lib/errors.js';
import { tokenStoreContract } from '../../lib/testing/index.js';
import type { TokenInfo } from '../../lib/token/token-info.js';
import type { LockOptions, TokenStore } from '../../lib/store/token-store.js';

/** Registers the contract with a collecting describe/it, runs every test, and reports which failed. */
async function runContract(
  makeStore: () => TokenStore,
  options?: Parameters<typeof tokenStoreContract>[3],
): Promise<{ passed: string[]; failed: string[] }> {
  const tests: Array<{ name: string; fn: () => Promise<void> }> = [];
  const path: string[] = [];
  tokenStoreContract(
    'under test',
    makeStore,
    {
      describe: (name, fn) => {
        path.push(name);
        fn();
        path.pop();
      },
      it: (name, fn) => {
        tests.push({ name: [...path, name].join(' > '), fn });
      },
    },
    options,
  );
  const passed: string[] = [];
  const failed: string[] = [];
  for (const t of tests)
    await t.fn().then(
      () => passed.push(t.name),
      () => failed.push(t.name),
    );
  return { passed, failed };
}

/** A correct hand-written store over one shared Map, with an in-process lock. */
class MapStore implements TokenStore {
  constructor(
    readonly data: Map<string, string>,
    readonly locks: Map<string, Promise<void>>,
    readonly serialise = (info: TokenInfo) => JSON.stringify({ ...info }),
  ) {}
  async read(key: string): Promise<TokenInfo | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as TokenInfo);
  }
  async write(key: string, info: TokenInfo): Promise<void> {
    this.data.set(key, this.serialise(info));
  }
  async clear(key: string): Promise<void> {
    this.data.delete(key);
  }
  async keys(prefix = ''): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix));
  }
  async withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const deadline = Date.now() + (options.waitMS ?? 35_000);
    while (this.locks.has(key)) {
      if (Date.now() > deadline) throw new TokenStoreError(`Timed out waiting for the lock on "${key}"`, { key });
      await Promise.race([this.locks.get(key), new Promise((r) => setTimeout(r, 10))]);
    }
    let release!: () => void;
    this.locks.set(
      key,
      new Promise<void>((r) => {
        release = r;
      }),
    );
    try {
      return await fn();
    } finally {
      this.locks.delete(key);
      release();
    }
  }
}

/** MapStore with a conditional write: atomic (one synchronous step), or read, compare and write a tick apart. */
function withWriteIf(store: MapStore, atomic: boolean): MapStore & Required<Pick<TokenStore, 'writeIf'>> {
  return Object.assign(store, {
    async writeIf(key: string, info: TokenInfo, expected: { refreshToken: string | undefined }): Promise<boolean> {
      if (!atomic) await new Promise((r) => setImmediate(r));
      const current = store.data.get(key);
      const held = current === undefined ? undefined : (JSON.parse(current) as TokenInfo).refreshToken;
      if (held !== expected.refreshToken) return false;
      if (!atomic) await new Promise((r) => setImmediate(r));
      store.data.set(key, store.serialise(info));
      return true;
    },
  });
}

const CONTRACT = 'TokenStore contract: under test > ';

describe('tokenStoreContract (persistent-session/testing)', () => {
  it('tests writeIf when the store has it: passes an atomic one, fails one that can let two writers win', async () => {
    const [data, locks] = [new Map<string, string>(), new Map<string, Promise<void>>()];
    const atomic = await runContract(() => withWriteIf(new MapStore(data, locks), true), { writeIf: true });
    expect(atomic.failed).to.deep.equal([]);
    expect(atomic.passed.filter((n) => n.includes('writeIf'))).to.have.length(3);
    const racy = await runContract(() => withWriteIf(new MapStore(data, locks), false));
    expect(racy.failed).to.deep.equal([
      `${CONTRACT}writeIf: of concurrent writers expecting one refresh token, exactly one wins, and its record stays`,
    ]);
    const missing = await runContract(() => new MapStore(data, locks), { writeIf: true });
    expect(missing.failed.filter((n) => n.includes('writeIf'))).to.have.length(3);
    const unwanted = await runContract(() => withWriteIf(new MapStore(data, locks), true), { writeIf: false });
    expect(unwanted.failed).to.deep.equal([`${CONTRACT}has no writeIf`]);
    expect(data.size).to.equal(0);
  });

  it('fails a store that drops the grant health', async () => {
    const [data, locks] = [new Map<string, string>(), new Map<string, Promise<void>>()];
    const dropping = await runContract(() => new MapStore(data, locks, ({ grant: _grant, ...rest }) => JSON.stringify(rest)));
    expect(dropping.failed).to.deep.equal([
      `${CONTRACT}reads back the grant health stored with the tokens, and new tokens written without it clear it`,
    ]);
  });

  it('passes a correct store, and needs nothing but describe and it', async () => {
    const [data, locks] = [new Map<string, string>(), new Map<string, Promise<void>>()];
    const { passed, failed } = await runContract(() => new MapStore(data, locks), { lock: true });
    expect(failed).to.deep.equal([]);
    expect(passed).to.have.length.of.at.least(9);
    expect(data.size).to.equal(0); // every test clears what it wrote
  });

  it('fails a store that serialises a validated TokenInfo as is (fingerprints instead of tokens)', async () => {
    const [data, locks] = [new Map<string, string>(), new Map<string, Promise<void>>()];
    const { failed } = await runContract(() => new MapStore(data, locks, (info) => JSON.stringify(info)));
    expect(failed).to.deep.equal([
      'TokenStore contract: under test > reads back what was written, field for field, with the real token values',
    ]);
  });

  it('fails a store whose instances do not share data, or whose lock does not exclude', async () => {
    const locks = new Map<string, Promise<void>>();
    const isolated = await runContract(() => new MapStore(new Map(), locks));
    expect(isolated.failed).to.deep.equal(['TokenStore contract: under test > lets another store instance read what one wrote']);
    const data = new Map<string, string>();
    const noLock = await runContract(() =>
      Object.assign(new MapStore(data, new Map()), { withLock: <T>(_k: string, fn: () => Promise<T>) => fn() }),
    );
    expect(noLock.failed).to.include(
      'TokenStore contract: under test > withLock: never lets two holders of one key overlap, across store instances',
    );
    const missing = await runContract(() => Object.assign(new MapStore(data, locks), { withLock: undefined }), { lock: true });
    expect(missing.failed.filter((n) => n.includes('withLock'))).to.have.length(3);
  });
});
