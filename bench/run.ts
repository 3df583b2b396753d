/**
 * `npm run bench`: runs the benchmarks one after another, prints a table per benchmark
 * and writes every figure to bench/results.json. Outside the test suite; all upstreams are the
 * project's emulator on 127.0.0.1 (and Redis on 127.0.0.1:6379 for the fleet).
 *
 * Usage: node --expose-gc --import tsx bench/run.ts [name …]
 *   (names: hot-path herd rate-limit memory restart fleet import-cost pool-memory fleet-sweep refresh-ahead)
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printResult, type BenchResult } from './report.js';

const BENCHMARKS: Record<string, () => Promise<BenchResult>> = {
  'hot-path': async () => (await import('./hot-path.js')).runHotPath(),
  herd: async () => (await import('./herd.js')).runHerd(),
  'rate-limit': async () => (await import('./rate-limit.js')).runRateLimit(),
  memory: async () => (await import('./memory.js')).runMemory(),
  restart: async () => (await import('./restart.js')).runRestart(),
  fleet: async () => (await import('./fleet.js')).runFleet(),
  'import-cost': async () => (await import('./import-cost.js')).runImportCost(),
  'pool-memory': async () => (await import('./pool-memory.js')).runPoolMemory(),
  'fleet-sweep': async () => (await import('./fleet-sweep.js')).runFleetSweep(),
  'refresh-ahead': async () => (await import('./refresh-ahead.js')).runRefreshAhead(),
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0)
    throw new Error(`Unknown benchmark(s) ${unknown.join(', ')}; expected some of ${Object.keys(BENCHMARKS).join(', ')}`);
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('Run with node --expose-gc (npm run bench does)');
  const names = asked.length > 0 ? asked : Object.keys(BENCHMARKS);
  const started = performance.now();
  process.stdout.write(
    `persistent-session benchmarks: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  const results: BenchResult[] = [];
  for (const name of names) {
    const t0 = performance.now();
    let result: BenchResult;
    try {
      result = await BENCHMARKS[name]!();
    } catch (err) {
      // A benchmark that crashes is reported as such; the others still run.
      result = {
        name,
        title: `${name}: FAILED`,
        baseline: 'n/a',
        tables: [],
        goals: [{ goal: `${name} runs to completion`, measured: String(err instanceof Error ? err.stack : err), met: false }],
        notes: [],
      };
    }
    result.durationMS = performance.now() - t0;
    printResult(result);
    results.push(result);
  }
  const totalMS = performance.now() - started;
  const goals = results.flatMap((r) => r.goals.map((g) => ({ bench: r.name, ...g })));
  process.stdout.write(
    `\n=== Summary: ${goals.filter((g) => g.met).length} of ${goals.length} goals MET, total ${(totalMS / 1000).toFixed(1)} s ===\n`,
  );
  for (const g of goals) process.stdout.write(`  [${g.met ? 'MET' : 'NOT MET'}] ${g.bench}: ${g.goal}: ${g.measured}\n`);
  const file = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
  const env = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadAverageAtEnd: loadavg(),
    date: new Date().toISOString(),
  };
  writeFileSync(file, `${JSON.stringify({ env, totalMS, goals, results }, null, 2)}\n`);
  process.stdout.write(`results written to ${file}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
