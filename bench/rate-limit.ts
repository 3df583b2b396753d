/**
 * Benchmark 3, rate-limit fidelity: 3,000 accounts minted through a UserSession against the emulated
 * Forge gateway's budget (1,000 a sliding minute on both sides, the real Forge figure), in fake time.
 *
 * Time is sinon's fake clock (as in spec/support/clock.ts: nextTick, queueMicrotask and setImmediate stay real),
 * and it moves only when nothing real is in flight: the driver waits until no HTTP request is open,
 * then jumps to the next timer. HTTP on loopback therefore takes 0 fake ms; the network is modelled
 * instead by a seeded random round trip of 20-200 fake ms around each request (half before it reaches
 * the gateway, half after), so that requests arrive in a different order than they started. The same
 * load goes through p-queue's own sliding window (`intervalCap`, `interval`, `strict`) as a baseline.
 */
import sinon from 'sinon';
import PQueue from 'p-queue';
import { Agent } from 'undici';
import { UserSession, forgeRemoteExchanger, type TokenExchanger } from '../lib/index.js';
import { startEmulator } from '../lib/emulator/index.js';
import { fmtMS, fmtPct, fmtRatio, type BenchResult, type Row } from './report.js';

const ACCOUNTS = 3_000;
const BUDGET = 1_000;
const WINDOW_MS = 60_000;
const RTT_MIN_MS = 20;
const RTT_MAX_MS = 200;
const FAKE_START = 1_700_000_000_000;
const SITE = 'ari:cloud:jira::site/bench-rate-limit';

/** A small seeded PRNG (xorshift32), so that every run draws the same latencies. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4_294_967_296;
  };
}

interface Run {
  name: string;
  mints: number;
  rateLimited: number;
  failed: number;
  arrivals: number[];
  finishedAtMS: number;
  maxInWindow: number;
}

/** The most arrivals in any window [t, t + WINDOW_MS). */
function maxInWindow(sorted: number[]): number {
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= WINDOW_MS) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

async function runOne(name: string, queueOf: () => { queue?: PQueue; rateLimit?: { perMinute: number } }): Promise<Run> {
  const clock = sinon.useFakeTimers({
    now: FAKE_START,
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    shouldClearNativeTimers: true,
  });
  const emu = await startEmulator({ forge: { mintsPerMinute: BUDGET } });
  // Counts the HTTP requests in flight (retries included), and notes when each reached the gateway.
  let open = 0;
  const arrivals: number[] = [];
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    open++;
    arrivals.push(Date.now());
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        open--;
      }
    };
    const ends = new Set(['onComplete', 'onError', 'onResponseEnd', 'onResponseError']);
    return dispatch(
      opts,
      new Proxy(handler, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => unknown;
          return ends.has(String(prop))
            ? (...args: unknown[]) => {
                finish();
                return method.apply(target, args);
              }
            : method.bind(target);
        },
      }),
    );
  });
  try {
    const inner = forgeRemoteExchanger({
      systemToken: emu.forge.issueSystemToken({ contextAri: SITE, ttlSeconds: 24 * 3600 }),
      contextAri: SITE,
      gatewayUrl: emu.graphqlUrl,
      dispatcher,
      // Retry-After from the gateway is honoured in fake time; never give up within the run.
      retry: { maxAttempts: 20, timeoutMS: 600_000 },
    });
    const random = prng(7);
    const fakeSleep = (ms: number) =>
      new Promise<void>((resolve) => {
        setTimeout(resolve, ms);
      });
    const exchanger: TokenExchanger = {
      describe: () => inner.describe(),
      async exchange(accountId) {
        const rtt = RTT_MIN_MS + random() * (RTT_MAX_MS - RTT_MIN_MS);
        await fakeSleep(rtt / 2);
        try {
          return await inner.exchange(accountId);
        } finally {
          await fakeSleep(rtt / 2);
        }
      },
    };
    const session = new UserSession({ exchanger, ...queueOf() });
    let settled = 0,
      failed = 0;
    const all = Array.from({ length: ACCOUNTS }, (_, i) =>
      session.getAccessToken(`acc-${i}`).then(
        () => {
          settled++;
        },
        () => {
          settled++;
          failed++;
        },
      ),
    );
    let finishedAtMS = FAKE_START;
    // Drive: let real I/O finish (no request open for a few event-loop turns), then jump to the next timer.
    for (let steps = 0; settled < ACCOUNTS; steps++) {
      const waitStart = performance.now();
      for (let quiet = 0; quiet < 3; ) {
        await new Promise<void>((resolve) => {
          setImmediate(resolve);
        });
        quiet = open === 0 ? quiet + 1 : 0;
        if (performance.now() - waitStart > 15_000) throw new Error(`${name}: ${open} requests stuck for 15 s of real time`);
      }
      if (settled === ACCOUNTS) break;
      if (steps > 1_000_000 || Date.now() - FAKE_START > 3_600_000)
        throw new Error(`${name}: no progress (${settled} of ${ACCOUNTS} settled)`);
      await clock.nextAsync();
      finishedAtMS = Date.now();
    }
    await Promise.all(all);
    const sorted = arrivals.sort((a, b) => a - b);
    return {
      name,
      mints: emu.counts.mint,
      rateLimited: emu.counts.rateLimited,
      failed,
      arrivals: sorted,
      finishedAtMS,
      maxInWindow: maxInWindow(sorted),
    };
  } finally {
    clock.uninstall();
    await agent.close();
    await emu.close();
  }
}

/** Runs benchmark 3. */
export async function runRateLimit(): Promise<BenchResult> {
  const ours = await runOne('ours: UserSession rateLimit { perMinute: 1000 }', () => ({ rateLimit: { perMinute: BUDGET } }));
  const pq = await runOne(`p-queue { intervalCap: ${BUDGET}, interval: 60 s, strict: true }`, () => ({
    queue: new PQueue({ intervalCap: BUDGET, interval: WINDOW_MS, strict: true }),
  }));
  // Ideal: a burst of BUDGET per window, so the last burst leaves at (ceil(N / B) - 1) windows.
  const idealSpanMS = (Math.ceil(ACCOUNTS / BUDGET) - 1) * WINDOW_MS;
  const share = (r: Run) => {
    const admitted = r.arrivals.length - r.rateLimited; // requests the gateway served
    const span = r.arrivals.at(-1)! - r.arrivals[0]!;
    // Sustained rate after the first window's burst, per window, as a share of the budget.
    return (((admitted - BUDGET) / span) * WINDOW_MS) / BUDGET;
  };
  const rows: Row[] = [ours, pq].map((r) => ({
    limiter: r.name,
    mints: r.mints,
    'requests sent': r.arrivals.length,
    '429s': r.rateLimited,
    'failed calls': r.failed,
    'max arrivals in 60 s': r.maxInWindow,
    'first..last arrival': fmtMS(r.arrivals.at(-1)! - r.arrivals[0]!),
    'x ideal span': fmtRatio((r.arrivals.at(-1)! - r.arrivals[0]!) / idealSpanMS),
    'budget used': fmtPct(share(r)),
  }));
  return {
    name: 'rate-limit',
    title:
      `3. Rate-limit fidelity: ${ACCOUNTS.toLocaleString('en')} mints against a gateway budget of ${BUDGET.toLocaleString('en')} ` +
      `per sliding minute (fake time)`,
    baseline:
      `the gateway budget (${BUDGET} per 60 s): ideal span from first to last arrival ${idealSpanMS / 1000} s; p-queue strict ` +
      `sliding window on the same load, same run`,
    tables: [
      {
        caption: `round trip ${RTT_MIN_MS}-${RTT_MAX_MS} fake ms per request (seeded), gateway sliding window ${WINDOW_MS / 1000} s`,
        rows,
      },
    ],
    goals: [
      {
        goal: '>= 95% of the budget used (sustained mints per window after the first burst / budget)',
        measured: `${fmtPct(share(ours))}; p-queue strict ${fmtPct(share(pq))}`,
        met: share(ours) >= 0.95,
      },
      {
        goal: '0 responses 429',
        measured: `${ours.rateLimited} (p-queue strict: ${pq.rateLimited}); ${ours.mints} of ${ACCOUNTS} minted, ${ours.failed} failed`,
        met: ours.rateLimited === 0 && ours.mints === ACCOUNTS && ours.failed === 0,
      },
    ],
    notes: [
      "budget used = (requests admitted - one window's burst) / (first..last arrival span) x 60 s / budget; 100% means every window " +
        'after the first carried a full budget',
      `all mints done at ${fmtMS(ours.finishedAtMS - FAKE_START)} of fake time (ours) and ${fmtMS(pq.finishedAtMS - FAKE_START)} (p-queue)`,
    ],
    data: {
      ours: { ...ours, arrivals: undefined, share: share(ours) },
      pqueue: { ...pq, arrivals: undefined, share: share(pq) },
      idealSpanMS,
    },
  };
}
