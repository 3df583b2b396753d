/**
 * `persistent-session emulator`: the token-server emulator in the foreground, for trying a worker
 * against it by hand. Prints its URLs and a seeded token set (as fingerprints); stops on
 * SIGINT/SIGTERM with exit code 0.
 *
 * This module only declares the command; `emulator-serve.ts` is loaded when it runs.
 *
 * @module
 */
import { Option, type Command } from 'commander';
import { durationFlag, integerFlag, textFlag } from './args.js';
import type { CliContext } from './context.js';
import type { EmulatorFlags } from './emulator-serve.js';

/**
 * Adds the `emulator` command.
 * @param parent - the program
 * @param ctx - streams, clock, signals
 * @param done - receives the exit code
 */
export function emulatorCommand(parent: Command, ctx: CliContext, done: (code: number) => void): Command {
  return parent
    .command('emulator')
    .description('run the token-server emulator (OAuth server, protected resource, Forge gateway, product APIs) until Ctrl+C')
    .addOption(new Option('--port <n>', 'port to listen on; 0 picks a free one').default(0).argParser(integerFlag('--port', 0, 65_535)))
    .addOption(new Option('--host <host>', 'address to listen on').default('127.0.0.1').argParser(textFlag('--host')))
    .addOption(
      new Option('--access-ttl <duration>', 'lifetime of OAuth access tokens, e.g. 1h or 30s (default 1h)').argParser(
        durationFlag('--access-ttl', 1_000),
      ),
    )
    .addOption(
      new Option('--user-ttl <duration>', 'lifetime of Forge user tokens (default 1h)').argParser(durationFlag('--user-ttl', 1_000)),
    )
    .addOption(
      new Option('--mints-per-minute <n>', 'rate limit of the Forge gateway (default none)').argParser(integerFlag('--mints-per-minute')),
    )
    .option('--tokens-file <path>', 'write the seeded tokens and the system token to this file (mode 0600) instead of keeping them secret')
    .action(async (flags: EmulatorFlags) => {
      const { serveEmulator } = await import('./emulator-serve.js');
      done(await serveEmulator(ctx, flags));
    });
}
