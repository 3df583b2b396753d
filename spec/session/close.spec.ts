// Sessions end their work with close() (or `await using`): a refresh or mint still on the wire is
// waited for, so its rotated tokens reach the store before the block ends; the given store stays open.
import { expect } from 'chai';
import type { Emulator } from '../../lib/emulator/index.js';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { recordSecret } from '../support/secrets.js';
import { type Forge, startForge } from './user-session/support.js';

describe('sessions: close() and await using', () => {
  describe('PersistentSession', () => {
    let emu: Emulator;
    let store: KeyvTokenStore;
    beforeEach(async () => {
      emu = await emulator();
      store = new KeyvTokenStore();
    });
    afterEach(async () => {
      await store.close();
      await emu.close();
    });

    it('close() resolves only once the refresh on the wire has written its rotated tokens', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      await store.write('default', tokenInfo);
      const session = sessionFor(emu, { tokenStore: store });
      emu.inject('token', { delayMS: 50 });
      const pending = session.getAccessToken();
      await session.close();
      expect(emu.counts.refresh).to.equal(1);
      const stored = await store.read('default');
      expect(stored?.refreshToken).to.not.equal(tokenInfo.refreshToken);
      const token = await pending;
      recordSecret(token);
      expect(stored?.accessToken).to.equal(token);
      // The store was the caller's: still open.
      expect(await store.read('default')).to.deep.equal(stored);
    });

    it('await using: the block ends after the refresh it started has written its tokens', async () => {
      const { tokenInfo } = seed(emu, { expired: true });
      await store.write('default', tokenInfo);
      emu.inject('token', { delayMS: 50 });
      let pending: Promise<string> | undefined;
      {
        await using session = sessionFor(emu, { tokenStore: store });
        pending = session.getAccessToken();
        pending.catch(() => {});
      }
      expect(emu.counts.refresh).to.equal(1);
      expect((await store.read('default'))?.refreshToken).to.not.equal(tokenInfo.refreshToken);
      recordSecret(await pending);
    });

    it('close() on an idle session resolves at once, sending nothing', async () => {
      const session = sessionFor(emu, { tokenStore: store });
      await session.close();
      expect(emu.counts.token).to.equal(0);
    });
  });

  describe('UserSession', () => {
    let forge: Forge;
    beforeEach(async () => {
      forge = await startForge();
    });
    afterEach(async () => {
      await forge.emu.close();
    });

    it('close() resolves only once the mints on the wire have stored their tokens', async () => {
      const store = new KeyvTokenStore();
      const users = forge.session({ tokenStore: store, namespace: 'close' });
      forge.emu.inject('graphql', { delayMS: 50 });
      const pending = Promise.all(['a1', 'a2'].map((a) => users.getAccessToken(a)));
      await users.close();
      expect(forge.emu.counts.mint).to.equal(2);
      const tokens = await pending;
      for (const t of tokens) recordSecret(t);
      expect((await store.read('close:a1'))?.accessToken).to.equal(tokens[0]);
      expect((await store.read('close:a2'))?.accessToken).to.equal(tokens[1]);
      await store.close();
    });

    it('await using: the block ends after its mint', async () => {
      const store = new KeyvTokenStore();
      forge.emu.inject('graphql', { delayMS: 50 });
      let pending: Promise<string> | undefined;
      {
        await using users = forge.session({ tokenStore: store, namespace: 'using' });
        pending = users.getAccessToken('b1');
        pending.catch(() => {});
      }
      expect(forge.emu.counts.mint).to.equal(1);
      const token = await pending;
      recordSecret(token);
      expect((await store.read('using:b1'))?.accessToken).to.equal(token);
      await store.close();
    });
  });
});
