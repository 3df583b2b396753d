import { expect } from 'chai';
import sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { SessionPool, type SessionPoolOptions, type SweepResult } from '../../../lib/session/session-pool.js';
import { realPause, settle, waitFor } from '../../support/clock.js';
import { emulator, seed } from '../../support/oauth.js';
import { rejection } from '../../support/secrets.js';
import { outageStore, type OutageStore } from './outage-store.js';

const DAY = 86_400_000;

describe('SessionPool sweeps: stopping, concurrency and overlapping calls', () => {
  let emu: Emulator;
  let inner: KeyvTokenStore;
  let outage: OutageStore;
  let release: () => void;
  beforeEach(async () => {
    emu = await emulator();
    inner = new KeyvTokenStore();
    outage = outageStore(inner);
  });
  afterEach(async () => {
    sinon.restore();
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

  /** Stores `n` grants under `prefix0…`, two days old; returns their emulator family ids. */
  async function grants(n: number, prefix: string): Promise<string[]> {
    const families: string[] = [];
    for (let i = 0; i < n; i++) {
      const { tokenInfo, issued } = seed(emu);
      await inner.write(`${prefix}${i}`, { ...tokenInfo, acquiredAtMS: Date.now() - 2 * DAY });
      families.push(issued.familyId);
    }
    return families;
  }

  /** Makes every store write wait until `release()`. */
  function holdWrites(): void {
    outage.hold = new Promise<void>((resolve) => {
      release = () => {
        outage.hold = undefined;
        resolve();
      };
    });
  }

  async function storesCurrent(key: string, family: string): Promise<boolean> {
    return (await inner.read(key))?.refreshToken === emu.family(family)!.currentRefreshToken;
  }

  it('an aborted sweep rejects only once the refresh in flight has written its tokens', async () => {
    const [family] = await grants(1, 'customer:');
    const pool = poolFor();
    const done: SweepResult[] = [];
    pool.on('sweepDone', (r) => done.push(r));
    holdWrites();
    const controller = new AbortController();
    const sweep = settle(pool.sweep({ olderThanMS: DAY, signal: controller.signal }));
    await waitFor(() => outage.writes === 1, 'the write of the refresh');
    controller.abort(new Error('stop'));
    await realPause(20);
    expect(sweep.done(), 'still waiting for the refresh in flight').to.equal(false);
    release();
    const outcome = await sweep.result;
    expect(outcome.ok).to.equal(false);
    expect((outcome as { error: Error }).error.message).to.equal('stop');
    expect(done).to.have.length(1);
    expect(done[0]).to.include({ aborted: true, refreshed: 1, failed: 0 });
    expect(await storesCurrent('customer:0', family!)).to.equal(true);
    await pool.close();
  });

  it('close() during a sweep resolves only once the refresh in flight has written its tokens', async () => {
    const [family] = await grants(1, 'customer:');
    const pool = poolFor();
    holdWrites();
    const sweep = settle(pool.sweep({ olderThanMS: DAY }));
    await waitFor(() => outage.writes === 1, 'the write of the refresh');
    const closing = settle(pool.close());
    await realPause(20);
    expect(closing.done(), 'close() waits for the refresh in flight').to.equal(false);
    release();
    expect((await closing.result).ok).to.equal(true);
    expect(await storesCurrent('customer:0', family!)).to.equal(true);
    expect((await sweep.result).ok).to.equal(true);
    expect(emu.counts.refresh).to.equal(1);
  });

  it('a sweep with concurrency 12 and a signal raises no MaxListenersExceededWarning', async () => {
    await grants(12, 'customer:');
    const warnings: unknown[] = [];
    sinon.stub(process, 'emitWarning').callsFake((w: unknown, ...rest: unknown[]) => {
      warnings.push(w, ...rest);
    });
    const pool = poolFor({ concurrency: 12 });
    holdWrites();
    const closer = new AbortController();
    const sweep = pool.sweep({ olderThanMS: DAY, signal: closer.signal });
    // All 12 grants are in flight together.
    await waitFor(() => outage.writes === 12, 'twelve refreshes in flight');
    release();
    expect(await sweep).to.include({ refreshed: 12, failed: 0 });
    // Without a signal of its own the sweep listens to the pool's close signal only.
    holdWrites();
    const second = pool.sweep({ olderThanMS: 0 });
    await waitFor(() => outage.writes === 24, 'twelve more refreshes in flight');
    release();
    expect(await second).to.include({ refreshed: 12 });
    sinon.restore();
    const names = warnings.map((w) => (w instanceof Error ? w.name : String(w)));
    expect(names.filter((n) => n.includes('MaxListenersExceeded'))).to.deep.equal([]);
    await pool.close();
  });

  it('a call with the same options joins the running sweep; one with other options runs after it', async () => {
    const a = await grants(2, 'a:');
    const b = await grants(3, 'b:');
    const pool = poolFor();
    const started: number[] = [];
    pool.on('sweepProgress', (p) => started.push(p.total));
    holdWrites();
    const first = pool.sweep({ olderThanMS: DAY, prefix: 'a:' });
    const joined = pool.sweep({ olderThanMS: DAY, prefix: 'a:' });
    expect(joined).to.equal(first);
    const other = pool.sweep({ olderThanMS: DAY, prefix: 'b:' });
    await waitFor(() => outage.writes === 2, "the first sweep's two refreshes");
    await realPause(20);
    expect(emu.counts.refresh, 'the second sweep waits for the first').to.equal(2);
    release();
    expect(await first).to.include({ total: 2, refreshed: 2 });
    expect(await other).to.include({ total: 3, refreshed: 3 });
    expect(started).to.deep.equal([2, 2, 3, 3, 3]);
    expect(emu.counts.refresh).to.equal(5);
    for (const [i, family] of a.entries()) expect(await storesCurrent(`a:${i}`, family)).to.equal(true);
    for (const [i, family] of b.entries()) expect(await storesCurrent(`b:${i}`, family)).to.equal(true);
    await pool.close();
  });

  it('a waiting sweep whose signal aborts rejects at once and never starts; close() rejects the waiting ones', async () => {
    await grants(1, 'a:');
    await grants(1, 'b:');
    const pool = poolFor();
    holdWrites();
    const first = settle(pool.sweep({ olderThanMS: DAY, prefix: 'a:' }));
    const controller = new AbortController();
    const waiting = pool.sweep({ olderThanMS: DAY, prefix: 'b:', signal: controller.signal });
    const queued = settle(pool.sweep({ olderThanMS: 0, prefix: 'b:' }));
    await waitFor(() => outage.writes === 1, "the first sweep's refresh");
    controller.abort(new Error('not now'));
    expect((await rejection(waiting)).message).to.equal('not now');
    const aborted = AbortSignal.abort(new Error('never'));
    expect((await rejection(pool.sweep({ olderThanMS: DAY, prefix: 'b:', signal: aborted }))).message).to.equal('never');
    expect(first.done()).to.equal(false);
    const closing = pool.close();
    release();
    await closing;
    expect((await first.result).ok).to.equal(true);
    const late = await queued.result;
    expect(late.ok).to.equal(false);
    expect(String((late as { error: Error }).error.message)).to.match(/closed/);
    expect(emu.counts.refresh, "only the first sweep's grant").to.equal(1);
  });
});
