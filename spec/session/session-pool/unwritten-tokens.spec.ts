import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { TokenStoreError } from '../../../lib/errors.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { SessionPool, type SessionPoolOptions } from '../../../lib/session/session-pool.js';
import { waitFor } from '../../support/clock.js';
import { emulator, seed } from '../../support/oauth.js';
import { recordSecret, rejection } from '../../support/secrets.js';
import { outageStore, type OutageStore } from './outage-store.js';

const DAY = 86_400_000;

describe('SessionPool never drops tokens a store outage kept in memory (rotating refresh tokens)', () => {
  let emu: Emulator;
  let inner: KeyvTokenStore;
  let outage: OutageStore;
  beforeEach(async () => {
    emu = await emulator();
    inner = new KeyvTokenStore();
    outage = outageStore(inner);
  });
  afterEach(async () => {
    await inner.close();
    await emu.close();
  });

  function poolFor(options: Partial<SessionPoolOptions> = {}): SessionPool {
    return new SessionPool({
      tokenStore: outage.store,
      client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' },
      retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 2_000, maxAttempts: 1 },
      ...options,
    });
  }

  /** Stores a grant under `key` whose access token has expired; returns its family id at the emulator. */
  async function expiredGrant(key: string): Promise<string> {
    const { tokenInfo, issued } = seed(emu, { expired: true });
    await inner.write(key, { ...tokenInfo, acquiredAtMS: Date.now() - 2 * DAY });
    return issued.familyId;
  }

  /** The grant still works from the store alone: a new pool refreshes it without invalid_grant. */
  async function grantAlive(key: string, family: string): Promise<void> {
    expect((await inner.read(key))?.refreshToken).to.equal(emu.family(family)!.currentRefreshToken);
    const fresh = poolFor();
    recordSecret(await fresh.getAccessToken(key, { forceRefresh: true }));
    await fresh.close();
    expect(emu.counts.invalidGrant).to.equal(0);
  }

  it('a sweep keeps the session it made for a key not in memory when the store refused its new tokens', async () => {
    const family = await expiredGrant('customer:0');
    const pool = poolFor();
    outage.down = true;
    const result = await pool.sweep({ olderThanMS: DAY });
    expect(result).to.include({ total: 1, refreshed: 0, failed: 1 });
    expect(emu.counts.refresh).to.equal(1);
    // The store still holds the refresh token the server has just retired; the session holding the
    // new one joined the pool's memory.
    expect((await inner.read('customer:0'))?.refreshToken).to.not.equal(emu.family(family)!.currentRefreshToken);
    expect(pool.size).to.equal(1);
    const session = pool.get('customer:0');
    expect(session.hasUnwrittenTokens).to.equal(true);
    outage.down = false;
    recordSecret(await pool.getAccessToken('customer:0'));
    expect(emu.counts.refresh, 'served from memory, no second refresh').to.equal(1);
    await session.flush();
    await grantAlive('customer:0', family);
    await pool.close();
  });

  it('get() beyond maxSessions keeps a session with unwritten tokens until flush() wrote them', async () => {
    const family = await expiredGrant('a');
    await expiredGrant('b');
    await expiredGrant('c');
    const pool = poolFor({ maxSessions: 1 });
    outage.down = true;
    const a = pool.get('a');
    expect(await rejection(a.getAccessToken())).to.be.instanceOf(TokenStoreError);
    expect(a.hasUnwrittenTokens).to.equal(true);
    pool.get('b');
    // 'a' is the least recently used but cannot go: the bound is exceeded instead.
    expect(pool.size).to.equal(2);
    await waitFor(() => outage.refused === 2, 'the failed flush of a');
    expect(a.hasUnwrittenTokens).to.equal(true);
    outage.down = false;
    // The next overflow retries the flush; once written, 'a' is dropped and the bound holds again.
    pool.get('c');
    await waitFor(() => !a.hasUnwrittenTokens && pool.size === 1, "a's tokens written and a dropped");
    expect(pool.get('a')).to.not.equal(a);
    await grantAlive('a', family);
    await pool.close();
  });

  it('close() writes unwritten tokens; while the store still fails it rejects and keeps the session for a retry', async () => {
    const family = await expiredGrant('a');
    const pool = poolFor();
    outage.down = true;
    const a = pool.get('a');
    expect(await rejection(a.getAccessToken())).to.be.instanceOf(TokenStoreError);
    const err = await rejection(pool.close());
    expect(err).to.be.instanceOf(TokenStoreError);
    expect((err as TokenStoreError).cause).to.be.instanceOf(TokenStoreError);
    expect(pool.size).to.equal(1);
    expect(pool.get('a')).to.equal(a);
    expect(() => pool.get('other')).to.throw('closed');
    outage.down = false;
    await pool.close();
    expect(pool.size).to.equal(0);
    expect(a.hasUnwrittenTokens).to.equal(false);
    await grantAlive('a', family);
    expect(emu.counts.refresh).to.equal(2);
  });
});
