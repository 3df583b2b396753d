/**
 * A fleet-wide sweep, shared by the spec (1,000 grants) and bench/fleet-sweep.ts (10,000): stale
 * grants in one Redis namespace, real child processes sweeping it together through their share of
 * a rate limit, and every refresh's arrival timed at the emulator.
 */
import { randomUUID } from 'node:crypto';
import type { Emulator } from '../../../lib/emulator/index.js';
import { createTokenStore } from '../../../lib/store/keyv-token-store.js';
import { startWorker, type Worker } from '../../support/processes.js';

const WORKER = 'spec/session/session-pool/fixtures/sweep-worker.ts';
const DAY = 86_400_000;

/** What a fleet sweep did. */
export interface FleetSweepOutcome {
  /** Each process's SweepResult (deadKeys as a count). */
  results: Array<{ refreshed: number; skipped: number; dead: number; failed: number; total: number; durationMS: number; exited?: number }>;
  /** Refresh requests that reached the emulator, and how many it refused as invalid_grant. */
  refreshes: number;
  invalidGrant: number;
  /** The most refresh arrivals in any window of `windowMS`. */
  maxPerWindow: number;
  wallMS: number;
}

/** The most timestamps (sorted) within any window of `windowMS`. */
export function maxInWindow(stamps: number[], windowMS: number): number {
  let max = 0;
  for (let i = 0, j = 0; j < stamps.length; j++) {
    while (stamps[j]! - stamps[i]! >= windowMS) i++;
    max = Math.max(max, j - i + 1);
  }
  return max;
}

/** Times every increment of `emu.counts.refresh` (each is one refresh request arriving). */
function timeRefreshes(emu: Emulator): number[] {
  const stamps: number[] = [];
  let value = emu.counts.refresh;
  Object.defineProperty(emu.counts, 'refresh', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (v: number) => {
      if (v > value) stamps.push(performance.now());
      value = v;
    },
  });
  return stamps;
}

/**
 * Seeds `grants` stale grants, starts `workers` processes that sweep them together with a budget of
 * `budget` refreshes per `windowMS` split between them, and counts at the emulator.
 */
export async function fleetSweep(
  emu: Emulator,
  options: { redisURI: string; grants: number; workers: number; budget: number; windowMS: number },
): Promise<FleetSweepOutcome> {
  const namespace = `fleet-sweep-${randomUUID()}`;
  const store = createTokenStore(options.redisURI, { namespace });
  try {
    const stale = Date.now() - 2 * DAY;
    for (let i = 0; i < options.grants; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, options.grants - i) }, (_, k) => {
          const issued = emu.issueTokens();
          return store.write(`customer:${i + k}`, {
            accessToken: issued.accessToken,
            refreshToken: issued.refreshToken,
            accessTokenTTLMS: issued.expiresIn * 1000,
            acquiredAtMS: stale,
            tokenType: 'Bearer',
          });
        }),
      );
    }
    const workers: Worker[] = Array.from({ length: options.workers }, () =>
      startWorker(WORKER, {
        STORE_URI: options.redisURI,
        STORE_NAMESPACE: namespace,
        TOKEN_ENDPOINT: emu.tokenEndpoint,
        OLDER_THAN_MS: String(DAY),
        PER_WINDOW: String(Math.floor(options.budget / options.workers)),
        WINDOW_MS: String(options.windowMS),
      }),
    );
    for (const w of workers) {
      const line = await w.nextLine();
      if (line !== 'ready') throw new Error(`sweep worker did not start: ${line} ${w.stderr()}`);
    }
    emu.resetCounts();
    const stamps = timeRefreshes(emu);
    const started = performance.now();
    for (const w of workers) w.child.stdin!.write('go\n');
    const results = await Promise.all(workers.map(async (w) => JSON.parse(await w.nextLine()) as FleetSweepOutcome['results'][number]));
    const wallMS = performance.now() - started;
    return {
      results,
      refreshes: emu.counts.refresh,
      invalidGrant: emu.counts.invalidGrant,
      maxPerWindow: maxInWindow(stamps, options.windowMS),
      wallMS,
    };
  } finally {
    for (const key of await store.keys('')) await store.clear(key);
    await store.close();
  }
}
