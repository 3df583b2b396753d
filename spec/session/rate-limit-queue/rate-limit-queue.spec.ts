import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import sinon from 'sinon';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { RateLimitQueue, createRateLimitQueue } from '../../../lib/session/rate-limit-queue.js';
import { UserSession } from '../../../lib/session/user-session.js';
import { advanceUntil, settle, useFakeClock } from '../../support/clock.js';
import { startWorker } from '../../support/processes.js';
import { rejection } from '../../support/secrets.js';
import { SITE, OTHER_SITE, accounts, startForge, userToken, type Forge, forgeNs } from '../user-session/support.js';

/** The largest number of `times` that fall in any window [t, t + windowMS). */
function maxInWindow(times: number[], windowMS: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMS) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('rate limit of mints', () => {
  let forge: Forge | undefined;
  afterEach(async () => {
    sinon.restore();
    await forge?.emu.close();
    forge = undefined;
  });

  describe('RateLimitQueue', () => {
    it('never starts more than perMinute tasks within one window of the end of earlier ones', async () => {
      const clock = useFakeClock();
      const queue = createRateLimitQueue(3);
      const starts: number[] = [];
      const ends: number[] = [];
      const work = Array.from({ length: 10 }, (_, i) =>
        queue.add(async () => {
          starts.push(Date.now());
          await new Promise((r) => setTimeout(r, 100 * (i % 3)));
          ends.push(Date.now());
          return i;
        }),
      );
      const all = settle(Promise.all(work));
      await advanceUntil(clock, all.done, 300_000, 500);
      expect(await all.result).to.deep.equal({ ok: true, value: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
      expect(maxInWindow(starts, 60_000)).to.equal(3);
      // Each start after the first three comes a full window after an earlier task ended.
      const sortedEnds = [...ends].sort((a, b) => a - b);
      for (const [k, s] of [...starts]
        .sort((a, b) => a - b)
        .slice(3)
        .entries())
        expect(s - sortedEnds[k]!).to.be.at.least(60_000);
      expect(Date.now() - 1_700_000_000_000).to.be.within(180_000, 181_000);
    });

    it('resolves add() when the task settles, not when its slot frees, and passes rejections on', async () => {
      const queue = new RateLimitQueue(1, { windowMS: 10_000 });
      expect(await queue.add(() => 42)).to.equal(42);
      expect(queue.pending).to.equal(1);
      const failing = new RateLimitQueue(2);
      await failing
        .add(async () => {
          throw new Error('boom');
        })
        .then(
          () => expect.fail('resolved'),
          (e: Error) => expect(e.message).to.equal('boom'),
        );
    });

    it('gives a slot back at once when the task calls release()', async () => {
      const queue = new RateLimitQueue(1);
      expect(
        await queue.add((slot) => {
          slot.release?.();
          return 1;
        }),
      ).to.equal(1);
      await new Promise((r) => {
        setImmediate(r);
      });
      expect(queue.pending).to.equal(0);
      expect(await queue.add(() => 2)).to.equal(2);
      expect(queue.pending).to.equal(1);
    });

    it('mints that fail before sending (no system token) spend no budget', async () => {
      forge = await startForge();
      const users = forge.session({ rateLimit: { perMinute: 2 } }, { systemToken: () => '' });
      for (const id of accounts(5)) expect(await rejection(users.getAccessToken(id))).to.include({ code: 'ERR_NO_SYSTEM_TOKEN' });
      expect(users.queue.pending).to.equal(0);
      expect(forge.emu.counts.graphql).to.equal(0);
    });

    it(
      "holds a settled slot for one window with a timer only; pauses itself while all are held, apart from the user's " + 'pause()',
      async () => {
        const clock = useFakeClock();
        const queue = new RateLimitQueue(2, { windowMS: 10_000 });
        expect(await queue.add(() => 'a')).to.equal('a');
        expect(await queue.add(() => 'b')).to.equal('b');
        expect({ held: queue.held, pending: queue.pending, isPaused: queue.isPaused }).to.deep.equal({
          held: 2,
          pending: 2,
          isPaused: false,
        });
        const third = settle(queue.add(() => Date.now()));
        const idle = settle(queue.onIdle());
        await clock.tickAsync(9_999);
        expect(third.done()).to.equal(false);
        await clock.tickAsync(1);
        expect(await third.result).to.deep.equal({ ok: true, value: 1_700_000_010_000 });
        expect(idle.done()).to.equal(false); // the third slot is held until 20,000
        // A pause of the user's own survives the slots freeing, and start() waits for a free slot.
        queue.pause();
        const fourth = settle(queue.add(() => 'd'));
        await clock.tickAsync(10_000);
        expect(queue.held).to.equal(0);
        expect(fourth.done()).to.equal(false);
        expect(queue.isPaused).to.equal(true);
        queue.start();
        expect(await fourth.result).to.deep.equal({ ok: true, value: 'd' });
        await clock.tickAsync(9_999);
        expect(idle.done()).to.equal(false); // 'd' holds its slot until 30,000
        await clock.tickAsync(1);
        expect(await idle.result).to.deep.equal({ ok: true, value: undefined });
        expect(() => {
          queue.concurrency = 5;
        })
          .to.throw(InvalidArgumentError)
          .with.property('field', 'concurrency');
        expect(queue.concurrency).to.equal(2);
      },
    );

    it('an abort or timeout of a running task rejects add() at once but keeps its slot until the task settles', async () => {
      const clock = useFakeClock();
      const queue = new RateLimitQueue(1, { windowMS: 60_000 });
      const sends: Array<[string, number]> = [];
      const task = (name: string) => async (slot: { signal?: AbortSignal }) => {
        sends.push([name, Date.now() - 1_700_000_000_000]);
        await new Promise((r) => setTimeout(r, 1_000));
        return slot.signal?.aborted ?? false;
      };
      const abort = new AbortController();
      const a = settle(queue.add(task('a'), { signal: abort.signal }));
      const b = settle(queue.add(task('b'), { timeout: 10 }));
      const c = settle(queue.add(task('c')));
      await clock.tickAsync(100);
      abort.abort(new Error('caller gave up'));
      await clock.tickAsync(0);
      expect(a.done()).to.equal(true);
      expect(await a.result).to.have.nested.property('error.message', 'caller gave up');
      await advanceUntil(clock, c.done, 300_000, 1_000);
      expect(((await b.result) as { error: Error }).error.name).to.equal('TimeoutError');
      expect(await c.result).to.deep.equal({ ok: true, value: false });
      // Each start comes a full window after the previous task really ended (1,000 ms after it started).
      expect(sends).to.deep.equal([
        ['a', 0],
        ['b', 61_000],
        ['c', 122_000],
      ]);
    });

    it('a throwing event listener cannot leave a slot held for good', async () => {
      const clock = useFakeClock();
      const queue = new RateLimitQueue(2, { windowMS: 1_000 });
      let once = true;
      queue.on('empty', () => {
        if (once) {
          once = false;
          throw new Error('listener bug');
        }
      });
      await queue.add(() => 'a').catch(() => undefined);
      const idle = settle(queue.onIdle());
      await clock.tickAsync(1_000);
      expect(await idle.result).to.deep.equal({ ok: true, value: undefined });
      expect(queue.held).to.equal(0);
    });

    it("p-queue's idle, pendingZero and isSaturated account for held slots", async () => {
      const clock = useFakeClock();
      const queue = new RateLimitQueue(2, { windowMS: 10_000 });
      const idles: number[] = [];
      queue.on('idle', () => idles.push(Date.now() - 1_700_000_000_000));
      await queue.add(() => 1);
      await queue.add(() => 2);
      const waiting = settle(queue.add(() => 3));
      expect(queue.isSaturated).to.equal(true);
      const pendingZero = settle(queue.onPendingZero());
      await clock.tickAsync(10_000);
      expect(await waiting.result).to.deep.equal({ ok: true, value: 3 });
      expect(pendingZero.done()).to.equal(false);
      await clock.tickAsync(10_000);
      expect(await pendingZero.result).to.deep.equal({ ok: true, value: undefined });
      expect(idles).to.deep.equal([20_000]);
    });

    it("keeps the process alive while work waits only on held slots, and not a moment longer (hold timers are unref'd)", async function () {
      this.timeout(20_000);
      const worker = startWorker(fileURLToPath(new URL('./fixtures/rate-limit-exit.ts', import.meta.url)), {});
      const exited = new Promise<number | null>((resolve) => {
        worker.child.on('exit', resolve);
      });
      const lines: string[] = [];
      for (let line = await worker.nextLine(); !line.startsWith('{'); line = await worker.nextLine()) lines.push(line);
      expect(lines).to.deep.equal(['a', 'b', 'idle held=0', 'aborted: stop']);
      // Exits at once, not when the 60 s slot frees (the mocha timeout is 20 s).
      expect(await exited).to.equal(0);
    });

    it(
      'follows p-queue where it can: explicit timeout: undefined, null options, an error event for an early rejection, isSaturated ' +
        'inside listeners',
      async () => {
        const clock = useFakeClock();
        const queue = new RateLimitQueue(1, { windowMS: 1_000 });
        queue.timeout = 10;
        const slow = () =>
          new Promise<string>((r) => {
            setTimeout(() => r('done'), 50);
          });
        const untimed = settle(queue.add(slow, { timeout: undefined }));
        await advanceUntil(clock, untimed.done, 5_000, 10);
        expect(await untimed.result).to.deep.equal({ ok: true, value: 'done' });
        const errors: unknown[] = [];
        queue.on('error', (e) => errors.push(e));
        const timed = settle(queue.add(slow));
        await advanceUntil(clock, timed.done, 5_000, 10);
        expect(((await timed.result) as { error: Error }).error.name).to.equal('TimeoutError');
        expect(errors).to.have.length(1);
        const nullOptions = settle(queue.add(() => 'null options', null as never));
        await advanceUntil(clock, nullOptions.done, 5_000, 10);
        expect(await nullOptions.result).to.deep.equal({ ok: true, value: 'null options' });
        expect(await rejection(queue.add(42 as never))).to.be.instanceOf(TypeError);
        const fresh = new RateLimitQueue(2, { windowMS: 1_000 });
        const saturated: boolean[] = [];
        fresh.on('completed', () => saturated.push(fresh.isSaturated));
        const later = (ms: number, v: number) => () =>
          new Promise<number>((r) => {
            setTimeout(() => r(v), ms);
          });
        const three = settle(Promise.all([fresh.add(later(10, 1)), fresh.add(later(20, 2)), fresh.add(later(0, 3))]));
        await advanceUntil(clock, three.done, 5_000, 5);
        expect(await three.result).to.deep.equal({ ok: true, value: [1, 2, 3] });
        expect(saturated[0]).to.equal(true); // task 3 waits: task 2 runs and the slot of task 1 is held
      },
    );

    it('validates perMinute and windowMS', () => {
      for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '60']) {
        expect(() => createRateLimitQueue(bad as number))
          .to.throw(InvalidArgumentError)
          .with.property('field', 'perMinute');
      }
      expect(() => new RateLimitQueue(5, { windowMS: 0 }))
        .to.throw(InvalidArgumentError)
        .with.property('field', 'windowMS');
    });
  });

  describe('against the gateway budget', () => {
    it('150 mints at 60/min on both sides: 0 responses 429, and the fake time the limit implies', async () => {
      const clock = useFakeClock();
      forge = await startForge({ forge: { mintsPerMinute: 60 } });
      const users = forge.session({ rateLimit: { perMinute: 60 } });
      const start = Date.now();
      const all = settle(Promise.all(accounts(150).map((id) => userToken(users, id))));
      const end = await advanceUntil(clock, all.done, 400_000, 250);
      expect((await all.result).ok).to.equal(true);
      const elapsed = end! - start;
      process.stdout.write(`      (150 mints at 60/min: ${elapsed} ms of fake time, ${forge.emu.counts.rateLimited} responses 429)\n`);
      expect(forge.emu.counts.mint).to.equal(150);
      expect(forge.emu.counts.rateLimited).to.equal(0);
      expect(elapsed).to.be.at.least(120_000).and.below(181_000);
    });

    it(
      'staggered load (30 now, 120 after 50 s) still draws 0 responses 429: slots free a window after the answer, not the ' + 'start',
      async () => {
        // p-queue's own sliding window (strict) counts starts; on this load it drew about 20 429s here.
        const clock = useFakeClock();
        forge = await startForge({ forge: { mintsPerMinute: 60 } });
        const users = forge.session({ rateLimit: { perMinute: 60 } });
        const ids = accounts(150);
        const early = ids.slice(0, 30).map((id) => userToken(users, id));
        await advanceUntil(clock, () => false, 50_000, 250);
        const all = settle(Promise.all([...early, ...ids.slice(30).map((id) => userToken(users, id))]));
        await advanceUntil(clock, all.done, 400_000, 250);
        expect((await all.result).ok).to.equal(true);
        expect(forge.emu.counts.mint).to.equal(150);
        expect(forge.emu.counts.rateLimited).to.equal(0);
      },
    );

    it('one queue shared by two installations keeps their sum within the budget', async () => {
      const clock = useFakeClock();
      forge = await startForge({ forge: { mintsPerMinute: 40 } });
      const other = forge.emu.forge.issueSystemToken({ contextAri: OTHER_SITE });
      const queue = createRateLimitQueue(40);
      const a = forge.session({ queue });
      const b = forge.session({ queue }, { systemToken: other, contextAri: OTHER_SITE });
      expect(a.namespace).to.equal(`${forgeNs(forge)}${SITE}`);
      const all = settle(Promise.all([...accounts(50).map((id) => userToken(a, id)), ...accounts(50).map((id) => userToken(b, id))]));
      await advanceUntil(clock, all.done, 400_000, 250);
      expect((await all.result).ok).to.equal(true);
      expect(forge.emu.counts.mint).to.equal(100);
      expect(forge.emu.counts.rateLimited).to.equal(0);
    });

    it("with a gateway budget below the session's, every 429 is retried after Retry-After and every token arrives", async () => {
      const clock = useFakeClock();
      forge = await startForge({ forge: { mintsPerMinute: 30 } });
      const users = forge.session({ rateLimit: { perMinute: 60 } }, { retry: { timeoutMS: 600_000 } });
      const errors: string[] = [];
      users.on('mintError', (e) => errors.push(e.code));
      const start = Date.now();
      const all = settle(Promise.all(accounts(90).map((id) => userToken(users, id))));
      const end = await advanceUntil(clock, all.done, 900_000, 250);
      const result = await all.result;
      expect(result.ok, String((result as { error?: unknown }).error)).to.equal(true);
      expect(errors).to.deep.equal([]);
      expect(forge.emu.counts.mint).to.equal(90);
      expect(forge.emu.counts.rateLimited).to.be.greaterThan(0);
      // 90 mints at 30/min cannot finish before the third window opens.
      expect(end! - start).to.be.at.least(120_000);
      // Each 429 was answered with Retry-After and the next request for it came no sooner.
      const log = forge.emu.requests('graphql');
      expect(log.filter((r) => r.status === 429)).to.have.length(forge.emu.counts.rateLimited);
    });

    it('the default budget is the Forge limit: 1,000 a minute', async () => {
      forge = await startForge();
      const users = new UserSession({ exchanger: forge.exchanger() });
      expect((users.queue as RateLimitQueue).perMinute).to.equal(1000);
    });
  });
});
