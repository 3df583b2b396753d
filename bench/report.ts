/**
 * What every benchmark returns, and how it is printed: one compact table per benchmark, then its
 * goals, each MET or NOT MET with the measured figure. Figures are quoted against a baseline
 * measured in the same run, since absolute numbers on a shared 2-core machine mean little.
 */

/** One table cell. */
export type Cell = string | number;
/** One table row: column name to cell. */
export type Row = Record<string, Cell>;

/** A benchmark's goal and what this run measured for it. */
export interface Goal {
  /** What was promised, e.g. `ours >= 0.5x the floor`. */
  goal: string;
  /** The figure measured, e.g. `0.61x`. */
  measured: string;
  /** Whether the figure meets the goal. */
  met: boolean;
}

/** What one benchmark hands back to bench/run.ts. */
export interface BenchResult {
  /** Short id: `hot-path`, `herd`, … */
  name: string;
  /** Heading printed above the table. */
  title: string;
  /** What the ratios are taken against. */
  baseline: string;
  /** The table (several tables: give them as separate results or separate `tables`). */
  tables: Array<{ caption: string; rows: Row[] }>;
  /** The goals and how they fared. */
  goals: Goal[];
  /** Facts worth keeping next to the figures (settings, caveats). */
  notes: string[];
  /** Raw figures for results.json. */
  data?: Record<string, unknown>;
  /** Wall time of the benchmark. */
  durationMS?: number;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The p-th percentile (nearest rank) of a non-empty list; p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  const s = Float64Array.from(values).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

/** `1234567` → `1.23 M`. */
export function fmtCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

/** A ratio such as `0.61x`. */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  return r >= 100 ? `${r.toFixed(0)}x` : r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(r < 0.1 ? 3 : 2)}x`;
}

/** Milliseconds with sensible precision. */
export function fmtMS(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** A percentage. */
export function fmtPct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function pad(text: string, width: number, right: boolean): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** Renders rows as a fixed-width table (numbers right-aligned). */
export function renderTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '  (no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = rows.map((r) => cols.map((c) => (r[c] === undefined ? '' : String(r[c]))));
  const widths = cols.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const numeric = cols.map((c) =>
    rows.every((r) => r[c] === undefined || typeof r[c] === 'number' || /^[\d.,\s%x-]+(ms|B|M|k|\/min|\/s)?$/.test(String(r[c]))),
  );
  const line = (cells: string[]) => `  ${cells.map((t, i) => pad(t, widths[i]!, numeric[i]!)).join('  ')}`;
  return [line(cols), `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`, ...text.map(line)].join('\n');
}

/** Prints one benchmark's tables, goals and notes. */
export function printResult(r: BenchResult): void {
  const out: string[] = [`\n=== ${r.title} ===`, `  baseline: ${r.baseline}`];
  for (const t of r.tables) out.push(`  -- ${t.caption}`, renderTable(t.rows));
  for (const g of r.goals) out.push(`  [${g.met ? 'MET' : 'NOT MET'}] ${g.goal}: ${g.measured}`);
  for (const n of r.notes) out.push(`  note: ${n}`);
  if (r.durationMS !== undefined) out.push(`  (${(r.durationMS / 1000).toFixed(1)} s)`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

/** Runs the garbage collector (node --expose-gc), several times so that weak and finalised objects go too. */
export function fullGC(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('Run with node --expose-gc (npm run bench does)');
  for (let i = 0; i < 4; i++) gc();
}
