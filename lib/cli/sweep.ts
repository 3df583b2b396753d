/**
 * `persistent-session sweep`: refreshes every grant of a token store not refreshed for a while, so
 * that refresh tokens that die of inactivity stay alive (a keep-alive sweep, e.g. from cron).
 *
 * This module only declares the command; `sweep-run.ts` is loaded when it runs.
 *
 * @module
 */
import { Option, type Command } from 'commander';
import { durationFlag, integerFlag, quote, storeFlag, textFlag, urlFlag, type FlagParser } from './args.js';
import type { CliContext } from './context.js';
import { UsageError } from './exit.js';
import type { SweepFlags } from './sweep-run.js';
import { STORE_NAMESPACE } from './tokens.js';

/** Parses `--rate`: `600/min` or `600` (requests per minute). */
export const rateFlag: FlagParser<number> = (value) => {
  const m = /^\s*(\d+)\s*(\/\s*min)?\s*$/.exec(value);
  const n = m === null ? Number.NaN : Number(m[1]);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`--rate must be a number of requests per minute such as 600/min, got ${quote(value)}`);
  return n;
};

const SWEEP_HELP = `
Each grant is refreshed under its store lock after re-reading it, so several processes (or cron
jobs) sweeping one store refresh each grant once. Tokens are never printed; keys are.
Exit codes: 0 every grant refreshed or recent enough (dead grants are listed: they need a new
authorization); 1 some refresh failed (server, network, store) or the sweep was interrupted;
2 usage error.`;

/**
 * Adds the `sweep` command.
 * @param parent - the program
 * @param ctx - streams, environment, clock, signals
 * @param done - receives the exit code
 */
export function sweepCommand(parent: Command, ctx: CliContext, done: (code: number) => void): Command {
  return parent
    .command('sweep')
    .description('refresh every stored grant not refreshed for --older-than, keeping idle refresh tokens alive')
    .addOption(
      new Option('--store <uri>', 'token store: sqlite://path, redis://host:port or postgresql://…')
        .env('PERSISTENT_SESSION_STORE')
        .argParser(storeFlag('--store'))
        .makeOptionMandatory(),
    )
    .addOption(new Option('--namespace <ns>', 'key prefix inside the backend').default(STORE_NAMESPACE).argParser(textFlag('--namespace')))
    .addOption(new Option('--encryption-key <key>', 'AES-256-GCM key of an encrypted store: 64 hex digits, base64, or env:VAR'))
    .addOption(
      new Option('--token-endpoint <url>', 'the OAuth token endpoint').argParser(urlFlag('--token-endpoint')).makeOptionMandatory(),
    )
    .addOption(new Option('--client-id <id>', 'the OAuth client id').argParser(textFlag('--client-id')).makeOptionMandatory())
    .addOption(
      new Option('--client-secret <secret>', 'the client secret, or env:VAR to read it from the environment (omit for a public client)'),
    )
    .addOption(
      new Option('--older-than <duration>', 'refresh grants last refreshed at least this long ago (e.g. 24h, 90m)')
        .default(86_400_000, '24h')
        .argParser(durationFlag('--older-than')),
    )
    .addOption(new Option('--prefix <prefix>', 'only the keys that start with this').default(''))
    .addOption(new Option('--rate <n/min>', 'at most this many refresh requests per minute from this process').argParser(rateFlag))
    .addOption(new Option('--concurrency <n>', 'grants worked on at once').default(8).argParser(integerFlag('--concurrency', 1, 1_000)))
    .option('--json', 'machine-readable summary (keys and counts only)')
    .addHelpText('after', SWEEP_HELP)
    .action(async (flags: SweepFlags) => {
      const { runSweep } = await import('./sweep-run.js');
      done(await runSweep(ctx, flags));
    });
}
