// revokeTokens() of every user takes no lock, so a mint's store write can land after the clear: the
// mint checks for a revocation after its write and takes its own token back out of the store and of
// memory, leaving alone any token that has already replaced it.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { UserSession } from '../../../lib/session/user-session.js';
import { deferred } from '../../fetch/support.js';
import { recordSecret } from '../../support/secrets.js';

function exchanger() {
  return {
    minted: 0,
    async exchange(): Promise<TokenInfo> {
      this.minted++;
      const accessToken = `user-${randomUUID()}`;
      recordSecret(accessToken);
      return { accessToken, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() };
    },
    describe: () => 'ns',
  };
}

/** A hand-written store (raw JSON in a Map, with keys()) whose writes wait for `gate` once `hold` is set. */
function gatedStore() {
  const map = new Map<string, string>();
  const state = { hold: false, gate: deferred<void>(), writing: deferred<void>() };
  const store: TokenStore = {
    async read(key) {
      const v = map.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as TokenInfo);
    },
    async write(key, info) {
      if (state.hold) {
        state.writing.resolve();
        await state.gate.promise;
      }
      map.set(key, JSON.stringify({ ...info }));
    },
    async clear(key) {
      map.delete(key);
    },
    async keys(prefix = '') {
      return [...map.keys()].filter((k) => k.startsWith(prefix));
    },
  };
  return { map, store, state };
}

describe('UserSession: revokeTokens() of every user while a mint is writing', () => {
  it('a mint whose write lands after the clear leaves nothing in the store or in memory; its caller still gets the token', async () => {
    const { map, store, state } = gatedStore();
    const ex = exchanger();
    const users = new UserSession({ exchanger: ex, tokenStore: store });
    await users.getAccessToken('bob'); // a user the revocation finds in the store
    state.hold = true;
    const pending = users.getAccessToken('alice');
    await state.writing.promise; // alice's token is minted; its write is under way
    await users.revokeTokens();
    expect([...map.keys()]).to.deep.equal([]);
    state.gate.resolve();
    expect(await pending).to.be.a('string');
    expect([...map.keys()]).to.deep.equal([]);
    expect(users.size).to.equal(0);
    state.hold = false;
    await users.getAccessToken('alice');
    expect(ex.minted).to.equal(3); // alice is minted again, not served a revoked token
  });

  it('the same through a memory KeyvTokenStore (whose lock revoking every user does not take)', async () => {
    const store = new KeyvTokenStore();
    const ex = exchanger();
    const users = new UserSession({ exchanger: ex, tokenStore: store });
    const gate = deferred<void>(),
      writing = deferred<void>();
    const write = store.write.bind(store);
    sinon.stub(store, 'write').callsFake(async (key, info) => {
      writing.resolve();
      await gate.promise;
      return write(key, info);
    });
    const pending = users.getAccessToken('alice');
    await writing.promise;
    await users.revokeTokens();
    gate.resolve();
    await pending;
    expect(await store.keys()).to.deep.equal([]);
    expect(users.size).to.equal(0);
    await store.close();
  });

  it('leaves a token that is not its own: a later mint that already replaced it stays', async () => {
    const { map, store, state } = gatedStore();
    const users = new UserSession({ exchanger: exchanger(), tokenStore: store });
    state.hold = true;
    const pending = users.getAccessToken('alice');
    await state.writing.promise;
    await users.revokeTokens();
    // Another process mints alice after the revocation and writes first; then the old write lands.
    const newer = { accessToken: `other-${randomUUID()}`, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() };
    recordSecret(newer.accessToken);
    const read = store.read.bind(store);
    let reads = 0;
    store.read = async (key) => {
      reads++;
      map.set(key, JSON.stringify(newer));
      return read(key);
    };
    state.gate.resolve();
    await pending;
    expect(reads).to.equal(1);
    expect(JSON.parse(map.get('ns:alice')!)).to.have.property('accessToken', newer.accessToken);
  });
});
