/**
 * Benchmark fleet-sweep: 4 real processes sweep one Redis store (redis://127.0.0.1:6379, a
 * namespace unique to the run) holding 10,000 stale grants whose refresh tokens rotate, each
 * through its quarter of a rate limit. Counted at the emulator: refresh requests, invalid_grant
 * answers, and the most refresh arrivals in any window of the limit.
 */
import { startEmulator } from '../lib/emulator/index.js';
import { fleetSweep } from '../spec/session/session-pool/fleet-sweep.js';
import { fmtMS, type BenchResult, type Row } from './report.js';

const GRANTS = 10_000;
const WORKERS = 4;
/** The fleet's budget: 1,000 refreshes per 1 s window (60,000 a minute), 250 per process. */
const BUDGET = 1_000;
const WINDOW_MS = 1_000;

/** Runs the fleet-sweep benchmark. */
export async function runFleetSweep(): Promise<BenchResult> {
  const emu = await startEmulator({ rotateRefreshTokens: true, reuseDetection: true });
  try {
    const out = await fleetSweep(emu, {
      redisURI: 'redis://127.0.0.1:6379',
      grants: GRANTS,
      workers: WORKERS,
      budget: BUDGET,
      windowMS: WINDOW_MS,
    });
    const stats = emu.grantStats();
    const sum = (f: (r: (typeof out.results)[number]) => number) => out.results.reduce((n, r) => n + f(r), 0);
    const rows: Row[] = out.results.map((r, i) => ({
      process: `worker ${i + 1}`,
      refreshed: r.refreshed,
      skipped: r.skipped,
      dead: r.dead,
      failed: r.failed,
      took: fmtMS(r.durationMS),
    }));
    rows.push({
      process: 'fleet',
      refreshed: sum((r) => r.refreshed),
      skipped: sum((r) => r.skipped),
      dead: sum((r) => r.dead),
      failed: sum((r) => r.failed),
      took: fmtMS(out.wallMS),
    });
    const exact = out.refreshes === GRANTS && out.invalidGrant === 0 && sum((r) => r.failed + r.dead) === 0;
    const floorMS = (GRANTS / BUDGET - 1) * WINDOW_MS;
    return {
      name: 'fleet-sweep',
      title: `Fleet sweep: ${WORKERS} processes, one Redis store, ${GRANTS.toLocaleString('en')} stale rotating grants`,
      baseline:
        `the rate limit itself: ${BUDGET} refreshes per ${WINDOW_MS} ms window for the fleet (${BUDGET / WORKERS} per process),` +
        ` so at least ${fmtMS(floorMS)}`,
      tables: [{ caption: "each process's SweepResult; requests counted at the emulator", rows }],
      goals: [
        {
          goal: `exactly ${GRANTS.toLocaleString('en')} refreshes, 0 invalid_grant, 0 failed`,
          measured:
            `${out.refreshes} refreshes, ${out.invalidGrant} invalid_grant, ${sum((r) => r.failed)} failed,` +
            ` ${stats.forkedFamilies} forked families`,
          met: exact,
        },
        {
          goal: `at most ${BUDGET} refresh arrivals in any ${WINDOW_MS} ms window`,
          measured: `${out.maxPerWindow} at most`,
          met: out.maxPerWindow <= BUDGET,
        },
      ],
      notes: [
        `wall time ${fmtMS(out.wallMS)} against a floor of ${fmtMS(floorMS)} set by the rate limit` +
          ` (${(GRANTS / (out.wallMS / 60_000)).toFixed(0)} refreshes a minute achieved)`,
        'each process starts its sweep at a random place in the key list;' +
          ' a grant another process refreshed first is skipped after one unlocked read',
      ],
      data: { ...out, stats },
    };
  } finally {
    await emu.close();
  }
}
