import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import Keyv from 'keyv';
import sinon from 'sinon';
import { conditionalWrite, WRITE_IF_MAX_ATTEMPTS, type ConditionalWriteIO } from '../../lib/store/conditional-write.js';
import { KeyvTokenStore, type StoreWarning } from '../../lib/store/keyv-token-store.js';
import { EXPIRED_RECORD_GRACE_MS } from '../../lib/store/record-codec.js';
import type { TokenInfo } from '../../lib/token/token-info.js';
import { unavailable } from '../support/services.js';
import { emulator, seed, sessionFor, token } from '../support/oauth.js';
import { expectNoSecrets, recordSecret } from '../support/secrets.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';
import { runId, unreachable } from './helpers.js';

const HOUR = 3_600_000;
const fields = (info: TokenInfo | undefined) => (info === undefined ? undefined : { ...info });
const dir = mkdtempSync(join(tmpdir(), 'ps-write-if-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BACKENDS: Array<[string, string | undefined]> = [
  ['memory', undefined],
  ['SQLite', `sqlite://${join(dir, 'tokens.sqlite')}`],
  ['Redis', process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'],
  ['Postgres', process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test'],
];

for (const [title, uri] of BACKENDS) {
  describe(`KeyvTokenStore.writeIf: ${title}`, () => {
    let opened: KeyvTokenStore[];
    let warnings: StoreWarning[];
    let namespace: string;
    const open = (options: { encryptionKey?: Buffer | Buffer[] } = {}) => {
      const store = new KeyvTokenStore(uri, { namespace, onWarning: (w) => warnings.push(w), ...options });
      opened.push(store);
      expect(store.writeIf, 'every URI backend and memory have writeIf').to.be.a('function');
      return store as KeyvTokenStore & Required<Pick<KeyvTokenStore, 'writeIf'>>;
    };
    // The memory store has a Map per instance: tests that need two instances on one backend skip there.
    const shared = uri !== undefined;

    before(async function () {
      if (uri === undefined || uri.startsWith('sqlite')) return;
      const why = await unreachable(uri);
      if (why !== undefined) unavailable(this, `${title} writeIf tests skipped: ${uri} is unreachable (${why})`);
    });
    beforeEach(() => {
      opened = [];
      warnings = [];
      namespace = `ps-write-if-${runId()}`;
    });
    afterEach(async () => {
      sinon.restore();
      for (const store of opened) {
        for (const k of await store.keys().catch(() => [])) await store.clear(k).catch(() => {});
        await store.close();
      }
    });

    it('writes encrypted records with their health, and compares through decryption and key rotation', async () => {
      const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
      const a = sampleTokenInfo({ grant: { failures: 4, lastErrorCode: 'ERR_TOKEN_REQUEST' } });
      const b = sampleTokenInfo({ grant: { lastRefreshedAtMS: Date.now() } });
      recordSecret(a.accessToken, a.refreshToken, b.accessToken, b.refreshToken);
      const old = open({ encryptionKey: oldKey });
      expect(await old.writeIf('k', a, { refreshToken: undefined })).to.equal(true);
      const stored = String((await old.keyv.getRaw('k'))?.value);
      expect(stored).to.include('aes-256-gcm').and.not.include('ERR_TOKEN_REQUEST');
      expectNoSecrets(stored);
      if (!shared) return; // one Map per memory store: no second instance to rotate keys with
      const rotated = open({ encryptionKey: [newKey, oldKey] });
      expect(await rotated.writeIf('k', b, { refreshToken: 'rt-someone-else' })).to.equal(false);
      expect(await rotated.writeIf('k', b, { refreshToken: a.refreshToken })).to.equal(true);
      expect(fields(await open({ encryptionKey: newKey }).read('k'))).to.deep.equal(b);
    });

    it('treats a record that reads as absent (corrupt, undecryptable, expired) as absent, as read does', async () => {
      const store = open();
      const info = sampleTokenInfo();
      await store.keyv.set('corrupt', JSON.stringify({ v: 1, tokenInfo: { accessToken: 'x' } }));
      expect(await store.writeIf('corrupt', info, { refreshToken: info.refreshToken })).to.equal(false);
      expect(await store.writeIf('corrupt', info, { refreshToken: undefined })).to.equal(true);
      expect(fields(await store.read('corrupt'))).to.deep.equal(info);
      expect(warnings.map((w) => [w.code, w.key])).to.deep.include(['CORRUPT_RECORD', 'corrupt']);

      await open({ encryptionKey: randomBytes(32) }).write('other-key', sampleTokenInfo());
      if (shared) expect(await store.writeIf('other-key', info, { refreshToken: undefined })).to.equal(true);

      const user = sampleTokenInfo({ refreshToken: undefined, accessTokenTTLMS: HOUR });
      await store.write('expired', user);
      sinon.useFakeTimers({ now: Date.now() + HOUR + EXPIRED_RECORD_GRACE_MS + 1_000, toFake: ['Date'] });
      expect(await store.writeIf('expired', info, { refreshToken: undefined })).to.equal(true);
      sinon.restore();
      expect(fields(await store.read('expired'))).to.deep.equal(info);
    });

    it('answers true to a retry whose tokens are already stored (a timed-out write that went through), false to others', async () => {
      const store = open({ encryptionKey: randomBytes(32) });
      const [start, next] = [sampleTokenInfo(), sampleTokenInfo()];
      await store.write('k', start);
      expect(await store.writeIf('k', next, { refreshToken: start.refreshToken })).to.equal(true);
      expect(await store.writeIf('k', next, { refreshToken: start.refreshToken })).to.equal(true);
      const sameRefresh = sampleTokenInfo({ refreshToken: next.refreshToken });
      expect(await store.writeIf('k', sameRefresh, { refreshToken: start.refreshToken })).to.equal(false);
      expect(await store.writeIf('k', sampleTokenInfo(), { refreshToken: start.refreshToken })).to.equal(false);
      expect(fields(await store.read('k'))).to.deep.equal(next);
    });

    it('gives the record the TTL write gives it: lifetime plus grace without refresh token, none with one', async () => {
      const store = open();
      const before = Date.now();
      await store.writeIf('user', sampleTokenInfo({ refreshToken: undefined, accessTokenTTLMS: HOUR }), { refreshToken: undefined });
      const expires = (await store.keyv.getRaw('user'))?.expires;
      expect(expires).to.be.within(before + HOUR + EXPIRED_RECORD_GRACE_MS, Date.now() + HOUR + EXPIRED_RECORD_GRACE_MS);
      await store.writeIf('user', sampleTokenInfo(), { refreshToken: undefined });
      expect((await store.keyv.getRaw('user'))?.expires ?? undefined).to.equal(undefined);
    });

    it('rejects bad arguments with typed errors that quote no token, and fails with ERR_TOKEN_STORE once closed', async () => {
      const store = open();
      const info = sampleTokenInfo();
      const secret = `rt-${randomUUID()}`;
      recordSecret(secret);
      const cases: Array<[() => Promise<unknown>, string, string]> = [
        [() => store.writeIf('k', info, { refreshToken: '' }), 'ERR_INVALID_ARG_VALUE', 'expected.refreshToken'],
        [() => store.writeIf('k', info, null as never), 'ERR_INVALID_ARG_VALUE', 'expected'],
        [() => store.writeIf('', info, { refreshToken: secret }), 'ERR_INVALID_ARG_VALUE', 'key'],
        [() => store.writeIf('k', { ...info, accessToken: '' }, { refreshToken: secret }), 'ERR_INVALID_TOKEN_INFO', 'accessToken'],
        [
          () => store.writeIf('k', { ...info, grant: { failures: -1 } }, { refreshToken: secret }),
          'ERR_INVALID_TOKEN_INFO',
          'grant.failures',
        ],
      ];
      for (const [op, code, field] of cases) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, field).to.include({ code, field });
        expectNoSecrets(err);
      }
      expect(await store.read('k')).to.equal(undefined);
      await store.close();
      expect(await store.writeIf('k', info, { refreshToken: undefined }).catch((e: unknown) => e)).to.have.property(
        'code',
        'ERR_TOKEN_STORE',
      );
    });
  });
}

describe('KeyvTokenStore.writeIf over a Keyv instance the caller made', () => {
  /** A Keyv adapter with nothing but get/set/delete/clear: it may reach a database other processes share. */
  const plainAdapter = (data: Map<string, unknown>) => ({
    async get(k: string) {
      return data.get(k);
    },
    async set(k: string, v: unknown) {
      data.set(k, v);
      return true;
    },
    async delete(k: string) {
      return data.delete(k);
    },
    async clear() {
      data.clear();
    },
    on() {
      return this;
    },
  });

  it('is absent over an adapter that has no atomic compare-and-set, so sessions write plainly', async () => {
    const store = new KeyvTokenStore(new Keyv({ store: plainAdapter(new Map()), namespace: 'ns' }));
    expect(store.writeIf).to.equal(undefined);
    const info = sampleTokenInfo();
    await store.write('k', info);
    expect(fields(await store.read('k'))).to.deep.equal(info);
  });

  it('a PersistentSession over such a store refreshes and stores the rotated tokens with a plain write', async () => {
    const emu = await emulator();
    try {
      const { tokenInfo, issued } = seed(emu, { expired: true });
      const store = new KeyvTokenStore(new Keyv({ store: plainAdapter(new Map()), namespace: 'ns' }));
      let writes = 0;
      const write = store.write.bind(store);
      store.write = async (k, info) => {
        writes++;
        return write(k, info);
      };
      const session = sessionFor(emu, { tokenInfo, tokenStore: store });
      const fresh = await token(session);
      expect(fresh).to.not.equal(issued.accessToken);
      expect(emu.counts.refresh).to.equal(1);
      expect(writes).to.be.at.least(1);
      const stored = await store.read('default');
      expect(stored?.accessToken).to.equal(fresh);
      expect(stored?.refreshToken).to.not.equal(issued.refreshToken);
    } finally {
      await emu.close();
    }
  });

  it('is present and atomic over a Map, across stores over the same Map', async () => {
    const map = new Map();
    const stores = [0, 1].map(() => new KeyvTokenStore(new Keyv({ store: map, namespace: 'ns' })));
    const start = sampleTokenInfo();
    await stores[0]!.write('k', start);
    const candidates = Array.from({ length: 8 }, () => sampleTokenInfo());
    const results = await Promise.all(candidates.map((c, i) => stores[i % 2]!.writeIf!('k', c, { refreshToken: start.refreshToken })));
    expect(results.filter(Boolean)).to.have.length(1);
    expect(fields(await stores[1]!.read('k'))).to.deep.equal(candidates[results.indexOf(true)]);
  });
});

describe('conditionalWrite (the retry of writeIf)', () => {
  const record = (refreshToken: string) => JSON.stringify({ value: { v: 1, tokenInfo: { refreshToken } } });
  const io = (reads: string[], sets: boolean[]): ConditionalWriteIO & { calls: number } => {
    const state = { calls: 0 };
    return Object.assign(state, {
      rawGet: async () => reads[Math.min(state.calls, reads.length - 1)],
      deserialize: async (raw: unknown) => JSON.parse(String(raw)) as unknown,
      serialize: async (data: unknown) => JSON.stringify(data),
      decode: (value: unknown) => (value as { tokenInfo: TokenInfo }).tokenInfo,
      corrupt: () => {},
      compareAndSet: async () => sets[state.calls++] ?? false,
      now: () => 1,
    });
  };

  it('reads and compares again when the record changed but still holds the expected refresh token', async () => {
    const changing = io([record('rt-a'), record('rt-a')], [false, true]);
    expect(await conditionalWrite(changing, 'new', { accessToken: 'at-new', refreshToken: 'rt-new' }, undefined, 'rt-a', 'k')).to.equal(
      true,
    );
    expect(changing.calls).to.equal(2);
    const lost = io([record('rt-a'), record('rt-b')], [false, true]);
    expect(await conditionalWrite(lost, 'new', { accessToken: 'at-new', refreshToken: 'rt-new' }, undefined, 'rt-a', 'k')).to.equal(false);
    expect(lost.calls).to.equal(1);
  });

  it(`gives up with ERR_TOKEN_STORE after ${WRITE_IF_MAX_ATTEMPTS} changes in a row`, async () => {
    const busy = io([record('rt-a')], []);
    const err = await conditionalWrite(busy, 'new', { accessToken: 'at-new', refreshToken: 'rt-new' }, undefined, 'rt-a', 'k').catch(
      (e: unknown) => e,
    );
    expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
    expect(busy.calls).to.equal(WRITE_IF_MAX_ATTEMPTS);
  });
});
