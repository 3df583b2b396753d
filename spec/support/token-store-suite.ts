import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { sampleTokenInfo, tokenStoreContract } from '../../lib/testing/index.js';
import type Keyv from 'keyv';
import type { EncryptionKey } from '../../lib/store/record-codec.js';
import type { KeyvTokenStore, StoreWarning } from '../../lib/store/keyv-token-store.js';
import { EXPIRED_RECORD_GRACE_MS } from '../../lib/store/record-codec.js';
import type { TokenInfo } from '../../lib/token/token-info.js';
import type { TokenStore } from '../../lib/store/token-store.js';
import { pollUntil, runFixture } from '../store/helpers.js';
import { lockContract } from '../store/locks/lock-contract.js';

/** What the contract asks of a store factory: stores made within one test share one backend. */
export interface ContractStoreOptions {
  /** Namespace of the store; a fresh one per test unless the test needs two stores in one namespace. */
  namespace: string;
  /** Encryption key(s) for the store. */
  encryptionKey?: EncryptionKey | EncryptionKey[];
  /** Receives the store's warnings. */
  onWarning: (warning: StoreWarning) => void;
}

/** A store under test. */
export type ContractStore = TokenStore & { close?(): Promise<void>; keyv?: Keyv };

/** Backend-specific hooks of the contract. */
export interface ContractOptions {
  /** False when two stores from the factory do not share a backend (then cross-store tests are left out). */
  sharedBackend?: boolean;
  /**
   * True when the store must implement `writeIf`, false when it must not: a KeyvTokenStore has it on the URI
   * backends, in memory and over a Keyv whose adapter is a Map, and not over any other Keyv adapter. @default true
   */
  writeIf?: boolean;
  /** True when the store must implement `withLock` (false: it must not). */
  lock?: boolean;
  /** A URI a child process can open to reach the same backend: enables the SIGKILL and exit tests. */
  uri?: string;
  /** Start of every namespace the suite uses, so that a spec can sweep leftovers. @default 'contract' */
  namespacePrefix?: string;
  /** Writes a string to the backend under the store's key, bypassing Keyv (a record that is not even JSON). */
  rawWrite?(store: ContractStore, key: string, value: string): Promise<void>;
  /** Reads the stored string for the store's key straight from the backend. */
  rawRead?(store: ContractStore, key: string): Promise<string | undefined>;
}

export { sampleTokenInfo };

const fields = (info: TokenInfo | undefined) => (info === undefined ? undefined : { ...info });

/**
 * Registers the tests of a KeyvTokenStore: the published TokenStore contract (lib/testing/), then
 * what only a KeyvTokenStore promises (namespaces, warnings, encryption, exit after close, locks
 * across namespaces and processes).
 *
 * @param name - title of the describe block
 * @param makeStore - opens a store; all stores opened during one test must reach the same backend
 * @param options - backend hooks
 */
export function keyvStoreContract(
  name: string,
  makeStore: (options: ContractStoreOptions) => Promise<ContractStore>,
  options: ContractOptions = {},
): void {
  const shared = options.sharedBackend !== false;
  const contractNamespace = `${options.namespacePrefix ?? 'contract'}-${randomUUID().slice(0, 8)}`;
  tokenStoreContract(
    name,
    () => makeStore({ namespace: contractNamespace, onWarning: () => {} }),
    { describe, it },
    {
      sharedBackend: shared,
      writeIf: options.writeIf ?? true,
      ...(options.lock === undefined ? {} : { lock: options.lock }),
    },
  );
  describe(`KeyvTokenStore: ${name}`, () => {
    let opened: ContractStore[];
    let warnings: StoreWarning[];
    let ns: string;
    const open = async (o: Partial<Omit<ContractStoreOptions, 'onWarning'>> = {}) => {
      const store = await makeStore({ namespace: ns, onWarning: (w) => warnings.push(w), ...o });
      opened.push(store);
      return store;
    };
    const raw = async (store: ContractStore, key: string) => (options.rawRead ? options.rawRead(store, key) : store.keyv!.get(key));
    const expectWarning = (code: StoreWarning['code'], key: string, info?: TokenInfo) => {
      expect(warnings.map((w) => [w.code, w.key])).to.deep.include([code, key]);
      for (const w of warnings) for (const t of [info?.accessToken, info?.refreshToken]) if (t) expect(w.message).not.to.include(t);
    };

    beforeEach(() => {
      opened = [];
      warnings = [];
      ns = `${options.namespacePrefix ?? 'contract'}-${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      for (const store of opened.reverse()) {
        if (store.keys) for (const k of await store.keys().catch(() => [])) await store.clear(k).catch(() => {});
        await store.close?.();
      }
    });

    it('keeps keys apart, including a key that starts with the namespace', async () => {
      const store = await open();
      const [a, b, c] = [sampleTokenInfo(), sampleTokenInfo(), sampleTokenInfo()];
      await store.write('a', a);
      await store.write('b', b);
      await store.write(`${ns}:a`, c);
      await store.clear('b');
      expect(fields(await store.read('a'))).to.deep.equal(a);
      expect(await store.read('b')).to.equal(undefined);
      expect(fields(await store.read(`${ns}:a`))).to.deep.equal(c);
    });

    it('treats a record that is not a TokenInfo as absent and warns with its key', async function () {
      const store = await open();
      if (!store.keyv) this.skip();
      const info = sampleTokenInfo();
      await store.keyv.set('garbage', 'not an envelope');
      await store.keyv.set('shape', JSON.stringify({ v: 1, tokenInfo: { ...info, accessTokenTTLMS: 'soon' } }));
      await store.keyv.set('json', '{"v":1,');
      expect(await store.read('garbage')).to.equal(undefined);
      expect(await store.read('shape')).to.equal(undefined);
      expect(await store.read('json')).to.equal(undefined);
      for (const k of ['garbage', 'shape', 'json']) expectWarning('CORRUPT_RECORD', k, info);
    });

    if (options.rawWrite) {
      it('treats a raw non-JSON value in the backend as absent and warns', async () => {
        const store = await open();
        await options.rawWrite!(store, 'raw', 'not json at all{');
        expect(await store.read('raw')).to.equal(undefined);
        expectWarning('CORRUPT_RECORD', 'raw');
        const info = sampleTokenInfo();
        await store.write('raw', info);
        expect(fields(await store.read('raw'))).to.deep.equal(info);
      });
    }

    it('lists keys by prefix, corrupt records included', async function () {
      const store = await open();
      if (!store.keys) this.skip();
      expect(await store.keys()).to.deep.equal([]);
      for (const k of ['user:2', 'user:1', 'other:1', 'user_x']) await store.write(k, sampleTokenInfo());
      if (options.rawWrite) await options.rawWrite(store, 'user:corrupt', 'garbage{');
      else await store.keyv?.set('user:corrupt', 'garbage');
      expect(await store.keys('user:')).to.deep.equal(['user:1', 'user:2', 'user:corrupt']);
      expect(await store.keys()).to.deep.equal(['other:1', 'user:1', 'user:2', 'user:corrupt', 'user_x']);
      expect(await store.keys('nothing')).to.deep.equal([]);
    });

    describe('encryption at rest', () => {
      const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

      it('stores no token in the backend and reads it back', async () => {
        const store = await open({ encryptionKey: newKey });
        const info = sampleTokenInfo();
        await store.write('k', info);
        const stored = String(await raw(store, 'k'));
        expect(stored).to.include('aes-256-gcm');
        expect(stored).not.to.include(info.accessToken);
        expect(stored).not.to.include(info.refreshToken!);
        expect(fields(await store.read('k'))).to.deep.equal(info);
      });

      it('treats a tampered ciphertext, or one moved to another key, as absent and warns', async function () {
        const store = await open({ encryptionKey: newKey });
        if (!store.keyv) this.skip();
        const info = sampleTokenInfo();
        await store.write('k', info);
        const envelope = JSON.parse(String(await store.keyv.get('k'))) as { data: string };
        await store.keyv.set('moved', JSON.stringify(envelope));
        const data = Buffer.from(envelope.data, 'base64');
        data[0]! ^= 1;
        await store.keyv.set('k', JSON.stringify({ ...envelope, data: data.toString('base64') }));
        expect(await store.read('k')).to.equal(undefined);
        expect(await store.read('moved')).to.equal(undefined);
        expectWarning('UNDECRYPTABLE_RECORD', 'k', info);
        expectWarning('UNDECRYPTABLE_RECORD', 'moved', info);
      });

      if (!shared) return;

      it('treats a record as absent under a wrong key, or with no key, and warns', async () => {
        const info = sampleTokenInfo();
        await (await open({ encryptionKey: oldKey })).write('k', info);
        expect(await (await open({ encryptionKey: newKey })).read('k')).to.equal(undefined);
        expect(await (await open()).read('k')).to.equal(undefined);
        expect(warnings.filter((w) => w.code === 'UNDECRYPTABLE_RECORD')).to.have.length(2);
        expectWarning('UNDECRYPTABLE_RECORD', 'k', info);
      });

      it('rotates keys: [new, old] reads old records and writes with the new key', async () => {
        const [before, after] = [sampleTokenInfo(), sampleTokenInfo()];
        await (await open({ encryptionKey: oldKey })).write('old', before);
        const rotated = await open({ encryptionKey: [newKey, oldKey] });
        expect(fields(await rotated.read('old'))).to.deep.equal(before);
        await rotated.write('new', after);
        expect(fields(await (await open({ encryptionKey: newKey })).read('new'))).to.deep.equal(after);
        expect(await (await open({ encryptionKey: oldKey })).read('new')).to.equal(undefined);
        expectWarning('UNDECRYPTABLE_RECORD', 'new', after);
      });
    });

    describe('bounded growth: records that cannot be renewed expire', () => {
      const HOUR = 3_600_000;
      const userToken = (acquiredAtMS = Date.now()) => sampleTokenInfo({ refreshToken: undefined, accessTokenTTLMS: HOUR, acquiredAtMS });
      /** The stored string straight from the backend, or undefined when the record is gone. */
      const stored = async (store: ContractStore, key: string) =>
        options.rawRead ? options.rawRead(store, key) : (store.keyv!.store as Map<string, string>).get(`${store.keyv!.namespace}:${key}`);

      it('gives a record without a refresh token a TTL of its lifetime plus the grace, and one with a refresh token none', async () => {
        const store = await open();
        const before = Date.now();
        await store.write('user', userToken());
        await store.write('refreshable', sampleTokenInfo({ acquiredAtMS: 1 }));
        const expires = (await store.keyv!.getRaw('user'))?.expires;
        expect(expires).to.be.within(before + HOUR + EXPIRED_RECORD_GRACE_MS, Date.now() + HOUR + EXPIRED_RECORD_GRACE_MS);
        expect((await store.keyv!.getRaw('refreshable'))?.expires ?? undefined).to.equal(undefined);
        // Rewriting with a refresh token lifts the expiry.
        await store.write('user', sampleTokenInfo());
        expect((await store.keyv!.getRaw('user'))?.expires ?? undefined).to.equal(undefined);
      });

      it('an expired user-token record is gone from the backend once its TTL has passed', async () => {
        const store = await open();
        await store.write('user', userToken());
        await store.write('refreshable', sampleTokenInfo());
        expect(await stored(store, 'user')).to.be.a('string');
        sinon.useFakeTimers({ now: Date.now() + HOUR + EXPIRED_RECORD_GRACE_MS + 1_000, toFake: ['Date'] });
        expect(await store.read('user')).to.equal(undefined);
        expect(await (store as KeyvTokenStore).prune()).to.equal(0); // nothing left to prune: read removed it
        sinon.restore();
        expect(await stored(store, 'user')).to.equal(undefined);
        expect(await store.read('refreshable')).not.to.equal(undefined);
      });

      it('prune() deletes expired records without refresh token and corrupt records, and keeps the rest', async () => {
        const store = (await open()) as KeyvTokenStore & ContractStore;
        const started = Date.now();
        await store.write('fresh-user', userToken());
        await store.write('expired-user', userToken(Date.now() - 2 * HOUR));
        await store.write('old-refreshable', sampleTokenInfo({ acquiredAtMS: 1 }));
        await store.keyv.set('shape', JSON.stringify({ v: 1, tokenInfo: { accessToken: 'x' } }));
        await store.keyv.set('json', '{"v":1,');
        if (options.rawWrite) await options.rawWrite(store, 'not-json', 'garbage{');
        // Encrypted with a key this store does not have: kept until its own TTL has passed.
        if (shared) await (await open({ encryptionKey: randomBytes(32) })).write('other-key', userToken());
        const other = shared ? ['other-key'] : [];
        expect(await store.prune()).to.equal(options.rawWrite ? 4 : 3);
        expect(await store.keys()).to.deep.equal(['fresh-user', 'old-refreshable', ...other]);
        for (const k of ['expired-user', 'shape', 'json', 'not-json']) expect(await stored(store, k), k).to.equal(undefined);
        // Once the tokens and the TTLs have run out, only the record with a refresh token is left.
        sinon.useFakeTimers({ now: started + HOUR + EXPIRED_RECORD_GRACE_MS + 1_000, toFake: ['Date'] });
        expect(await store.prune()).to.equal(1 + other.length);
        sinon.restore();
        expect(await store.keys()).to.deep.equal(['old-refreshable']);
        expect(await store.prune()).to.equal(0);
      });
    });

    if (shared) {
      it('keeps namespaces apart on one backend', async () => {
        const a = await open({ namespace: `${ns}-a` });
        const b = await open({ namespace: `${ns}-b` });
        const [ia, ib] = [sampleTokenInfo(), sampleTokenInfo()];
        await a.write('k', ia);
        await a.write('only-a', ia);
        await b.write('k', ib);
        expect(fields(await a.read('k'))).to.deep.equal(ia);
        expect(fields(await b.read('k'))).to.deep.equal(ib);
        expect(await b.read('only-a')).to.equal(undefined);
        await a.clear('k');
        expect(fields(await b.read('k'))).to.deep.equal(ib);
        if (a.keys && b.keys) expect([await a.keys(), await b.keys()]).to.deep.equal([['only-a'], ['k']]);
      });
    }

    if (options.uri !== undefined) {
      const uri = options.uri;
      it('lets a process that closes its store exit by itself', async function () {
        this.timeout(15_000);
        const child = runFixture('open-close', [uri, ns]);
        const exited = await pollUntil(async () => child.child.exitCode !== null, 8_000);
        child.child.kill('SIGKILL');
        expect(exited, `child still running; output: ${child.output()}`).to.equal(true);
        expect(child.output().trim()).to.equal('ok');
        expect(child.child.exitCode).to.equal(0);
      });
    }

    if (options.lock === true) lockContract(open, () => ns, options.uri);
  });
}
