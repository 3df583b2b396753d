import { expect } from 'chai';
import Keyv from 'keyv';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { sampleTokenInfo, keyvStoreContract } from '../support/token-store-suite.js';
import { lockContract } from './locks/lock-contract.js';

describe('KeyvTokenStore in memory', () => {
  // Each store has a Map of its own, so only the single-store part of the contract applies.
  keyvStoreContract(
    'memory (new KeyvTokenStore())',
    async ({ namespace, ...options }) => new KeyvTokenStore(undefined, { namespace, ...options }),
    {
      sharedBackend: false,
    },
  );

  // Its in-process lock, against the lock contract: "store instances" of one namespace are one store
  // here (each new KeyvTokenStore() has a Map, and a lock, of its own).
  describe('memory (new KeyvTokenStore()): lock', () => {
    let byNamespace: Map<string, KeyvTokenStore>;
    let ns: string;
    beforeEach(() => {
      byNamespace = new Map();
      ns = `lock-${Math.random().toString(36).slice(2, 8)}`;
    });
    const open = async (o: { namespace?: string } = {}) => {
      const namespace = o.namespace ?? ns;
      let store = byNamespace.get(namespace);
      if (store === undefined) {
        store = new KeyvTokenStore(undefined, { namespace });
        byNamespace.set(namespace, store);
      }
      return store;
    };
    lockContract(open, () => ns, undefined);
  });

  // Stores over one Keyv Map, one Keyv per namespace: the whole contract, through the Keyv-instance path.
  let map: Map<unknown, unknown>;
  beforeEach(() => {
    map = new Map();
  });
  keyvStoreContract(
    'memory (shared Keyv instance)',
    async ({ namespace, ...options }) => new KeyvTokenStore(new Keyv({ store: map, namespace }), options),
    {
      lock: true, // in-process, shared by the stores over one adapter
      rawWrite: async (store, key, value) => {
        map.set(`${store.keyv!.namespace}:${key}`, value);
      },
      rawRead: async (store, key) => map.get(`${store.keyv!.namespace}:${key}`) as string | undefined,
    },
  );

  it('keeps records under `namespace:key` and serialises them (no shared object references)', async () => {
    const store = new KeyvTokenStore(undefined, { namespace: 'ns' });
    const info = sampleTokenInfo();
    await store.write('k', info);
    expect(store.backend).to.equal('memory');
    const stored = (store.keyv.store as Map<string, unknown>).get('ns:k');
    expect(stored).to.be.a('string');
    info.accessToken = 'changed-after-write';
    expect((await store.read('k'))!.accessToken).not.to.equal('changed-after-write');
  });

  it('rejects every operation with ERR_TOKEN_STORE after close, and closes twice without error', async () => {
    const store = new KeyvTokenStore();
    await store.close();
    await store.close();
    for (const op of [() => store.read('k'), () => store.write('k', sampleTokenInfo()), () => store.clear('k'), () => store.keys()]) {
      const err = await op().catch((e: unknown) => e);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
    }
  });
});
