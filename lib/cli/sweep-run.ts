/**
 * The implementation of `persistent-session sweep` (loaded only when the command runs).
 *
 * @module
 */
import cliProgress from 'cli-progress';
import { SessionPool, type SweepProgress, type SweepResult } from '../session/session-pool.js';
import { resolveSecret } from './args.js';
import { println, type CliContext } from './context.js';
import { formatDuration, renderTable } from './format.js';
import { openStore } from './store.js';

/** The parsed flags of `sweep`. */
export interface SweepFlags {
  store: string;
  namespace: string;
  encryptionKey?: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret?: string;
  olderThan: number;
  prefix: string;
  rate?: number;
  concurrency: number;
  json?: boolean;
}

/** Plain progress lines (not a TTY): one per tenth of the grants. */
const PLAIN_STEPS = 10;

function counters(p: SweepProgress): string {
  return `refreshed ${p.refreshed} | skipped ${p.skipped} | dead ${p.dead} | failed ${p.failed}`;
}

/** A cli-progress bar on a TTY; on anything else, a plain line per tenth of the grants. */
function progressReporter(ctx: CliContext): { update(p: SweepProgress): void; stop(): void } {
  if (ctx.stderr.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      {
        stream: ctx.stderr as NodeJS.WritableStream,
        format: `${ctx.err.cyan('{bar}')} {value}/{total} grants | {counters}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        fps: 8,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (!started) {
          bar.start(p.total, 0, { counters: '' });
          started = true;
        }
        bar.update(p.done, { counters: counters(p) });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let next = 1;
  return {
    update(p) {
      if (p.done * PLAIN_STEPS < next * p.total && p.done !== p.total) return;
      while (next * p.total <= p.done * PLAIN_STEPS) next++;
      println(ctx.stderr, `[${p.done}/${p.total}] ${counters(p)}`);
    },
    stop() {},
  };
}

/**
 * Sweeps the store and prints the summary.
 * @returns 0 when no refresh failed; 1 when some did or the sweep was interrupted
 */
export async function runSweep(ctx: CliContext, flags: SweepFlags): Promise<number> {
  const clientSecret = flags.clientSecret === undefined ? undefined : resolveSecret('--client-secret', flags.clientSecret, ctx.env);
  const { store } = openStore(flags.store, {
    namespace: flags.namespace,
    ...(flags.encryptionKey === undefined ? {} : { encryptionKey: flags.encryptionKey }),
    env: ctx.env,
  });
  const pool = new SessionPool({
    tokenStore: store,
    client: {
      tokenEndpoint: flags.tokenEndpoint,
      clientId: flags.clientId,
      ...(clientSecret === undefined ? { authMethod: 'none' } : { clientSecret }),
    },
    concurrency: flags.concurrency,
    ...(flags.rate === undefined ? {} : { rateLimit: { perMinute: flags.rate } }),
    retry: { maxAttempts: 3 },
  });
  const controller = new AbortController();
  const off = ctx.onSignal(() => controller.abort(new Error('interrupted')));
  const progress = progressReporter(ctx);
  pool.on('sweepProgress', (p) => progress.update(p));
  let result: SweepResult | undefined;
  pool.on('sweepDone', (r) => {
    result = r;
  });
  try {
    await pool.sweep({ olderThanMS: flags.olderThan, prefix: flags.prefix, signal: controller.signal }).catch((err: unknown) => {
      if (!controller.signal.aborted) throw err;
    });
  } finally {
    progress.stop();
    off();
    await pool.close();
    await store.close();
  }
  const r = result!;
  if (flags.json === true) {
    println(
      ctx.stdout,
      JSON.stringify(
        {
          total: r.total,
          done: r.done,
          refreshed: r.refreshed,
          skipped: r.skipped,
          dead: r.dead,
          failed: r.failed,
          deadKeys: r.deadKeys,
          aborted: r.aborted,
          durationMS: r.durationMS,
        },
        null,
        2,
      ),
    );
  } else {
    const o = ctx.out;
    println(
      ctx.stdout,
      `${r.aborted ? o.yellow('interrupted') : o.green('swept')} ${r.done} of ${r.total} grants in ${formatDuration(r.durationMS)}`,
    );
    println(
      ctx.stdout,
      renderTable(
        [
          ['refreshed', String(r.refreshed)],
          ['skipped (recent)', String(r.skipped)],
          ['dead (authorize again)', String(r.dead)],
          ['failed (retry later)', String(r.failed)],
        ],
        { indent: '  ' },
      ),
    );
    for (const key of r.deadKeys) println(ctx.stdout, `  dead: ${key}`);
  }
  return r.failed > 0 || r.aborted ? 1 : 0;
}
