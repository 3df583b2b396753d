/**
 * What the demo shows: a live progress bar on a terminal (a line every few seconds otherwise), and
 * the summary table at the end.
 *
 * @module
 */
import cliProgress from 'cli-progress';
import { println, type CliContext } from './context.js';
import type { DemoStats } from './demo-worker.js';
import { formatCount, formatDuration, renderTable } from './format.js';

/** How often a progress line is printed when stderr is not a terminal. */
export const PROGRESS_LINE_INTERVAL_MS = 2_000;

/** Live progress while the demo runs. */
export interface Progress {
  /** Shows the latest counts. */
  update(elapsedMS: number, stats: DemoStats): void;
  /** Removes the bar (or stops the lines). */
  stop(): void;
}

function counters(stats: DemoStats): string {
  return (
    `calls ${formatCount(stats.apiCalls)} | minted ${stats.mints} | refreshes ${stats.refreshes} | joins ${stats.singleFlightJoins}` +
    ` | 401 recovered ${stats.recovered401} | 429 waited ${stats.waited429} | errors ${stats.errors}`
  );
}

/**
 * A cli-progress bar on a TTY; on anything else, one plain line every
 * {@link PROGRESS_LINE_INTERVAL_MS}.
 */
export function createProgress(ctx: CliContext, durationMS: number): Progress {
  if (ctx.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        stream: ctx.stderr as NodeJS.WritableStream,
        format: `${ctx.err.cyan('{bar}')} {elapsed}/{total_s}s | {counters}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        fps: 8,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(durationMS, 0, { elapsed: '0.0', total_s: (durationMS / 1000).toFixed(0), counters: '' });
    return {
      update(elapsedMS, stats) {
        const finishing = elapsedMS > durationMS ? 'finishing the jobs in flight | ' : '';
        bar.update(Math.min(elapsedMS, durationMS), {
          elapsed: (Math.min(elapsedMS, durationMS) / 1000).toFixed(1),
          counters: finishing + counters(stats),
        });
      },
      stop() {
        bar.stop();
      },
    };
  }
  let next = PROGRESS_LINE_INTERVAL_MS;
  return {
    update(elapsedMS, stats) {
      if (elapsedMS < next || elapsedMS >= durationMS) return;
      next += PROGRESS_LINE_INTERVAL_MS;
      println(ctx.stderr, `[${(elapsedMS / 1000).toFixed(1)}s/${(durationMS / 1000).toFixed(0)}s] ${counters(stats)}`);
    },
    stop() {},
  };
}

/** The summary rows: label and value, in the order printed. */
export function summaryRows(stats: DemoStats): Array<[string, number]> {
  return [
    ['API calls made', stats.apiCalls],
    ['tokens minted', stats.mints],
    ['refreshes', stats.refreshes],
    ['single-flight joins', stats.singleFlightJoins],
    ['401s recovered', stats.recovered401],
    ['429s waited out', stats.waited429],
    ['user tokens reused from the store', stats.storeAdoptions],
    ['mints for tokens still valid', stats.mintsForValidTokens],
    ['errors (unrecovered)', stats.errors],
  ];
}

/** What the summary says besides the counts. */
export interface SummaryContext {
  users: number;
  durationMS: number;
  /** Ended early by Ctrl+C. */
  interrupted?: boolean;
  store: string;
  /** Notes printed under the table (re-authorization, emulator state). */
  notes: string[];
}

/** Prints the summary table to stdout. */
export function printSummary(ctx: CliContext, stats: DemoStats, info: SummaryContext): void {
  const { out } = ctx;
  println(
    ctx.stdout,
    out.bold(
      `persistent-session demo: ${info.users} users for ` +
        `${formatDuration(info.durationMS)}${info.interrupted === true ? ' (interrupted)' : ''}, store ${info.store}`,
    ),
  );
  const rows = summaryRows(stats).map(([label, value]) => {
    let shown = formatCount(value);
    if (label === 'errors (unrecovered)') shown = value === 0 ? out.green(shown) : out.red(shown);
    if (label === 'mints for tokens still valid' && value > 0) shown = out.red(shown);
    return [label, shown];
  });
  println(ctx.stdout, renderTable(rows, { header: ['', 'count'], align: ['left', 'right'], indent: '  ' }));
  println(ctx.stdout, out.dim(`  stored user tokens still valid at start: ${stats.validAtStart}`));
  for (const sample of stats.errorSamples) println(ctx.stdout, out.red(`  error: ${sample}`));
  for (const note of info.notes) println(ctx.stdout, `  ${note}`);
  println(
    ctx.stdout,
    stats.errors === 0
      ? out.green('ok: every call succeeded. Run it again: tokens persist in the store, so valid ones are reused, not minted again.')
      : out.red(`failed: ${stats.errors} call(s) did not recover`),
  );
}
