// Inside a server's refresh-token reuse grace window, sessions that share a store but not a lock (a store
// without withLock here) may all refresh with one refresh token. The result is written with a
// compare-and-swap on the refresh token sent (TokenStore.writeIf): one wins, the others adopt its tokens.
// A refusal (invalid_grant) is checked against the store before the grant is taken for dead.
import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import type { RefreshEvent } from '../../../lib/events.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { validateTokenInfo, type TokenInfo } from '../../../lib/token/token-info.js';
import { authorizedFetch } from '../../../lib/fetch/authorized-fetch.js';
import { emulator, seed, sessionFor } from '../../support/oauth.js';
import { recordSecret } from '../../support/secrets.js';

/** A store without a lock whose writeIf is atomic (no await between the compare and the set), counting lost swaps. */
function casStore(): TokenStore & { lost: number; records: Map<string, TokenInfo> } {
  const records = new Map<string, TokenInfo>();
  const store = {
    lost: 0,
    records,
    read: async (key: string) => records.get(key),
    write: async (key: string, info: TokenInfo) => {
      records.set(key, validateTokenInfo(info));
    },
    clear: async (key: string) => {
      records.delete(key);
    },
    writeIf: async (key: string, info: TokenInfo, expected: { refreshToken: string | undefined }) => {
      if (records.get(key)?.refreshToken !== expected.refreshToken) {
        store.lost++;
        return false;
      }
      records.set(key, validateTokenInfo(info));
      return true;
    },
  };
  return store;
}

describe('PersistentSession: reuse grace windows without a lock', () => {
  let emu: Emulator | undefined;
  afterEach(async () => {
    await emu?.close();
  });

  for (const mode of ['fork', 'same'] as const) {
    it(`'${mode}' mode: 4 sessions refreshing one refresh token at once end on one grant, the store's`, async () => {
      emu = await emulator({ refreshTokenReuseGraceMS: 60_000, refreshTokenReuseMode: mode });
      const { tokenInfo } = seed(emu, { expired: true });
      const store = casStore();
      await store.write('default', tokenInfo);
      const sessions = Array.from({ length: 4 }, () => sessionFor(emu!, { tokenStore: store }));
      const adopted: RefreshEvent[] = [];
      for (const s of sessions)
        s.on('refresh', (e) => {
          if (e.source === 'store') adopted.push(e);
        });
      const tokens = await Promise.all(sessions.map((s) => s.getAccessToken()));
      for (const t of tokens) recordSecret(t);
      const stored = store.records.get('default')!;
      expect(emu.counts.refresh).to.equal(4); // no lock: all four sent it, inside the window
      expect(emu.counts.invalidGrant).to.equal(0);
      expect(store.lost).to.equal(3);
      expect(adopted.length).to.equal(3);
      expect(new Set(tokens)).to.deep.equal(new Set([stored.accessToken]));
      expect(emu.tokenState(stored.refreshToken!)).to.equal('active');
      // Every session goes on with the stored grant: one more round, one at a time, no error.
      for (const s of sessions) recordSecret(await s.getAccessToken({ forceRefresh: true }));
      expect(emu.counts.invalidGrant).to.equal(0);
      expect(emu.grantStats()).to.include({ lostGrants: 0, revokedFamilies: 0 });
      if (mode === 'same') expect(emu.grantStats().forkedFamilies).to.equal(0);
    });
  }

  it('an invalid_grant for a refresh token another session rotated meanwhile adopts the stored tokens', async () => {
    emu = await emulator({ reuseDetection: false });
    const { tokenInfo } = seed(emu, { expired: true });
    const store = casStore();
    await store.write('default', tokenInfo);
    const a = sessionFor(emu, { tokenStore: store });
    const fromA = await a.getAccessToken();
    recordSecret(fromA);
    // B's first reads are stale (it still sees the refresh token A rotated out), as a lagging replica or a
    // read just before A's write would be; later reads see A's tokens.
    let reads = 0;
    const lagging: TokenStore = { ...store, read: async (key) => (reads++ < 2 ? tokenInfo : store.read(key)) };
    const b = sessionFor(emu, { tokenStore: lagging });
    expect(await b.getAccessToken()).to.equal(fromA);
    expect(emu.counts.invalidGrant).to.equal(1);
    expect(emu.counts.refresh).to.equal(2);
    expect(store.records.get('default')?.accessToken).to.equal(fromA);
    // B goes on with A's grant.
    recordSecret(await b.getAccessToken({ forceRefresh: true }));
    expect(emu.counts.invalidGrant).to.equal(1);
  });

  it('a 401 (the server revoked the old access token early) is answered from the store when another session refreshed', async () => {
    emu = await emulator();
    const { tokenInfo } = seed(emu);
    const store = casStore();
    await store.write('default', tokenInfo);
    const a = sessionFor(emu, { tokenStore: store });
    const b = sessionFor(emu, { tokenStore: store });
    expect(await b.getAccessToken()).to.equal(tokenInfo.accessToken);
    const fromA = await a.getAccessToken({ forceRefresh: true });
    recordSecret(fromA);
    emu.revokeToken(tokenInfo.accessToken);
    const res = await authorizedFetch(b, emu.resourceUrl);
    await res.arrayBuffer();
    expect(res.status).to.equal(200);
    expect(emu.counts.refresh).to.equal(1); // A's only: B found A's token in the store
    expect(await b.getAccessToken()).to.equal(fromA);
  });
});
