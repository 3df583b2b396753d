import { expect } from 'chai';
import sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { ExpiredTokensError } from '../../../lib/errors.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { SessionPool, type SweepResult } from '../../../lib/session/session-pool.js';
import { useFakeClock, waitFor } from '../../support/clock.js';
import { emulator, seed } from '../../support/oauth.js';
import { recordSecret } from '../../support/secrets.js';

const DAY = 86_400_000;

describe('SessionPool keep-alive (fake time, refresh tokens that die after 7 idle days)', () => {
  let clock: sinon.SinonFakeTimers;
  let emu: Emulator;
  beforeEach(async () => {
    clock = useFakeClock();
    emu = await emulator({ refreshTokenIdleTTLMS: 7 * DAY });
  });
  afterEach(async () => {
    await emu.close();
    sinon.restore();
  });

  function poolOver(store: KeyvTokenStore, keepAlive?: { everyMS: number }): SessionPool {
    return new SessionPool({
      tokenStore: store,
      client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' },
      retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 2_000, maxAttempts: 1 },
      ...(keepAlive === undefined ? {} : { keepAlive }),
    });
  }

  it('keeps a grant alive through 30 idle days with a daily sweep; without it the grant dies', async () => {
    const kept = new KeyvTokenStore();
    const unkept = new KeyvTokenStore();
    await kept.write('customer:a', seed(emu).tokenInfo);
    await unkept.write('customer:b', seed(emu).tokenInfo);
    const withKeepAlive = poolOver(kept, { everyMS: DAY });
    const without = poolOver(unkept);
    const sweeps: SweepResult[] = [];
    withKeepAlive.on('sweepDone', (r) => sweeps.push(r));
    for (let day = 1; day <= 30; day++) {
      await clock.tickAsync(DAY);
      await waitFor(() => sweeps.length === day, `sweep of day ${day}`);
    }
    // Each daily sweep found the grant a day old: refreshed every day, never failed.
    expect(sweeps.map((r) => r.refreshed)).to.deep.equal(Array(30).fill(1));
    expect(sweeps.every((r) => r.failed === 0 && r.dead === 0)).to.equal(true);
    expect(emu.counts.refresh).to.equal(30);
    recordSecret(await withKeepAlive.getAccessToken('customer:a'));
    const err = await without.getAccessToken('customer:b').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ExpiredTokensError);
    expect(emu.counts.invalidGrant).to.equal(1);
    await withKeepAlive.close();
    await without.close();
    await kept.close();
    await unkept.close();
  });

  it('reports a sweep that could not list the keys as sweepError, and tries again at the next tick', async () => {
    const store = new KeyvTokenStore();
    await store.write('customer:a', seed(emu).tokenInfo);
    const keys = store.keys.bind(store);
    let fail = true;
    store.keys = async (prefix) => {
      if (fail) throw new Error('connection refused');
      return keys(prefix);
    };
    const pool = poolOver(store, { everyMS: DAY });
    const errors: Array<{ code: string }> = [];
    const done: SweepResult[] = [];
    pool.on('sweepError', (e) => errors.push(e));
    pool.on('sweepDone', (r) => done.push(r));
    await clock.tickAsync(DAY);
    await waitFor(() => errors.length === 1, 'sweepError');
    expect(errors).to.deep.equal([{ code: 'ERR_TOKEN_STORE' }]);
    fail = false;
    await clock.tickAsync(DAY);
    await waitFor(() => done.length === 1, 'the next sweep');
    expect(done[0]).to.deep.include({ total: 1, refreshed: 1 });
    await pool.close();
    await store.close();
  });

  it('stops sweeping once closed', async () => {
    const store = new KeyvTokenStore();
    await store.write('customer:a', seed(emu).tokenInfo);
    const pool = poolOver(store, { everyMS: DAY });
    await pool.close();
    await clock.tickAsync(3 * DAY);
    expect(emu.counts.refresh).to.equal(0);
    await store.close();
  });
});
