// Mint ahead, per user token: in a token's soft window callers are served it at once while one mint runs in
// the background; a failing background mint keeps the token serving, reports mintError and backs off.
// Mints are counted at the emulated gateway; time is a sinon fake clock.
import { expect } from 'chai';
import type sinon from 'sinon';
import type { MintErrorEvent } from '../../../lib/events.js';
import { realPause, settle, useFakeClock, waitFor } from '../../support/clock.js';
import { recordSecret } from '../../support/secrets.js';
import { accounts, startForge, userToken, type Forge } from './support.js';

const HOUR = 3_600_000;

async function settledAtOnce<T>(p: Promise<T>): Promise<boolean> {
  const s = settle(p);
  await Promise.resolve();
  await Promise.resolve();
  return s.done();
}

describe('UserSession: mint ahead', () => {
  let forge: Forge;
  let clock: sinon.SinonFakeTimers | undefined;
  beforeEach(async () => {
    clock = useFakeClock();
    forge = await startForge();
  });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    await forge.emu.close();
  });

  it('in the soft window, 20 callers per user are served at once and each user is minted again exactly once', async () => {
    const session = forge.session({ rateLimit: { perMinute: 100_000 } });
    const ids = accounts(10);
    const first = await Promise.all(ids.map((id) => userToken(session, id)));
    expect(forge.emu.counts.mint).to.equal(10);
    await clock!.tickAsync(0.8 * HOUR);
    for (const [i, id] of ids.entries()) {
      const calls = Array.from({ length: 20 }, () => session.getAccessToken(id));
      for (const c of calls) expect(await settledAtOnce(c)).to.equal(true);
      for (const c of calls) expect(await c).to.equal(first[i]);
    }
    await waitFor(() => forge.emu.counts.mint === 20, 'one background mint per user');
    let fresh: string[] = first;
    for (let n = 0; n < 200 && fresh.some((t, i) => t === first[i]); n++) {
      await realPause();
      fresh = await Promise.all(ids.map((id) => session.getAccessToken(id)));
    }
    for (const t of fresh) recordSecret(t);
    expect(fresh.every((t, i) => t !== first[i])).to.equal(true);
    expect(forge.emu.counts.mint).to.equal(20);
  });

  it('a failing background mint keeps the token serving, reports mintError once per try and backs off', async () => {
    const session = forge.session(
      { rateLimit: { perMinute: 100_000 } },
      { retry: { maxAttempts: 1, baseDelayMS: 1, maxDelayMS: 1, timeoutMS: 2_000 } },
    );
    const errors: MintErrorEvent[] = [];
    session.on('mintError', (e) => errors.push(e));
    const first = await userToken(session, 'acc-1');
    await clock!.tickAsync(0.75 * HOUR + 1);
    forge.emu.inject('graphql', { status: 503, times: 10_000 });
    const before = forge.emu.counts.graphql;
    for (let t = 0; t < 300_000; t += 100) {
      const call = session.getAccessToken('acc-1');
      expect(await settledAtOnce(call), `caller at +${t} ms`).to.equal(true);
      expect(await call).to.equal(first);
      await realPause(0.2);
      await clock!.tickAsync(100);
    }
    // Backoff doubling from 1 s (50-100% jitter) to 30 s over 5 minutes.
    const tries = forge.emu.counts.graphql - before;
    expect(tries).to.be.within(10, 7 + 300 / 15);
    expect(errors.length).to.equal(tries);
    expect(errors.every((e) => e.accountId === 'acc-1' && e.status === 503)).to.equal(true);
    expect(forge.emu.counts.mint).to.equal(1);
  });
});
