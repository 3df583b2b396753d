import { expect } from 'chai';
import { authorizedFetch } from '../../../lib/fetch/authorized-fetch.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { recordSecret } from '../../support/secrets.js';
import { CLOUD_ID, startForge, type Forge } from './support.js';

// A token an API refused stays refused while its store clear is under way: a concurrent caller
// cannot read it back from the store, and the first caller's retry gets a fresh token.
describe('UserSession: a refused token is never taken back from the store', () => {
  let forge: Forge;
  beforeEach(async () => {
    forge = await startForge();
  });
  afterEach(async () => {
    await forge.emu.close();
  });

  it('concurrent callers on a slow store recover from a refused token with 200s only', async () => {
    const inner = new KeyvTokenStore();
    // A store whose reads take a few ms (a remote Redis, a busy SQLite file): real I/O latency, not a timer under test.
    const slowRead = (ms: number) =>
      new Promise((r) => {
        setTimeout(r, ms);
      });
    const store: TokenStore = {
      read: async (k) => {
        const v = await inner.read(k);
        await slowRead(20);
        return v;
      },
      write: (k, v) => inner.write(k, v),
      clear: (k) => inner.clear(k),
    };
    const users = forge.session({ tokenStore: store });
    const refused = 'ut_refused_by_the_server_0123456789';
    recordSecret(refused);
    const seedRefused = (): Promise<void> =>
      store.write(`${users.namespace}:alice`, { accessToken: refused, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() } as TokenInfo);
    const call = async () => {
      const res = await authorizedFetch(users.forUser('alice'), `${forge.emu.productApiUrl(CLOUD_ID)}/rest/api/3/myself`);
      await res.body?.cancel();
      return res.status;
    };
    const failures: string[] = [];
    for (let delay = 0; delay < 60; delay += 4) {
      await users.revokeTokens('alice');
      await seedRefused();
      const first = call();
      await slowRead(delay);
      const second = call();
      const [a, b] = [await first, await second];
      if (a !== 200 || b !== 200) failures.push(`delay ${delay}: ${a}/${b}`);
    }
    expect(failures).to.deep.equal([]);
  });
});
