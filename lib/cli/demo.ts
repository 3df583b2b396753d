/**
 * `persistent-session demo`: the library's main job, end to end, against the emulator started in
 * this process. A worker holds the app's OAuth grant (a PersistentSession seeded once and kept in
 * the store) and acts for N users through Forge offline impersonation (a UserSession over
 * `forgeRemoteExchanger`), with short token lifetimes and injected 401s and 429s, so that
 * refreshes, mints, recoveries and waits all happen within seconds. A second run on the same store
 * reuses what the first one persisted.
 *
 * This module only declares the command; `demo-run.ts` is loaded when it runs.
 *
 * @module
 */
import { Option, type Command } from 'commander';
import { durationFlag, integerFlag, storeFlag } from './args.js';
import type { CliContext } from './context.js';
import { DEFAULT_DEMO_STORE, type DemoFlags } from './demo-options.js';

/**
 * Adds the `demo` command.
 * @param parent - the program
 * @param ctx - streams, clock, signals
 * @param done - receives the exit code (0 when no call failed for good)
 */
export function demoCommand(parent: Command, ctx: CliContext, done: (code: number) => void): Command {
  return parent
    .command('demo')
    .description(
      "run a worker that keeps an app grant and 200 users' tokens valid against the built-in emulator, with injected 401s and 429s, and " +
        'print what happened',
    )
    .addOption(
      new Option('--users <n>', 'users to act as (Forge offline impersonation)').default(200).argParser(integerFlag('--users', 1, 100_000)),
    )
    .addOption(
      new Option('--duration <duration>', 'how long to run, e.g. 20s or 1m')
        .default(20_000, '20s')
        .argParser(durationFlag('--duration', 100)),
    )
    .addOption(new Option('--store <uri>', 'token store').default(DEFAULT_DEMO_STORE).argParser(storeFlag('--store')))
    .option('--seed', 'seed a new app grant even if the store holds one')
    .addOption(new Option('--concurrency <n>', 'jobs in flight at once').default(32).argParser(integerFlag('--concurrency', 1, 1_000)))
    .addOption(
      new Option('--access-ttl <duration>', "lifetime of the app's access tokens")
        .default(5_000, '5s')
        .argParser(durationFlag('--access-ttl', 1_000)),
    )
    .addOption(
      new Option('--user-ttl <duration>', 'lifetime of minted user tokens')
        .default(10_000, '10s')
        .argParser(durationFlag('--user-ttl', 1_000)),
    )
    .option('--no-faults', 'do not inject 401s and 429s')
    .option('--emulator-state <file>', 'where the emulator keeps its memory between runs (default: next to a SQLite store)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: DemoFlags) => {
      const { runDemo } = await import('./demo-run.js');
      done(await runDemo(ctx, flags));
    });
}
