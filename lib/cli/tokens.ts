/**
 * `persistent-session tokens list|show|clear|prune`: what a token store holds, with every token
 * shown only as a fingerprint.
 *
 * This module only declares the commands; `tokens-run.ts` is loaded when one runs.
 *
 * @module
 */
import { Option, type Command } from 'commander';
import { storeFlag, textFlag } from './args.js';
import type { CliContext } from './context.js';
import type { ClearFlags, StoreFlags } from './tokens-run.js';

/** The store namespace `KeyvTokenStore` uses by default (`DEFAULT_STORE_NAMESPACE`), repeated so that `--help` loads no store. */
export const STORE_NAMESPACE = 'persistent-session';

function storeOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--store <uri>', 'token store: sqlite://path, redis://host:port or postgresql://…')
        .env('PERSISTENT_SESSION_STORE')
        .argParser(storeFlag('--store'))
        .makeOptionMandatory(),
    )
    .addOption(new Option('--namespace <ns>', 'key prefix inside the backend').default(STORE_NAMESPACE).argParser(textFlag('--namespace')))
    .addOption(new Option('--encryption-key <key>', 'AES-256-GCM key of an encrypted store: 64 hex digits, base64, or env:VAR'))
    .option('--json', 'machine-readable output (still redacted)');
}

/**
 * Adds the `tokens` command and its subcommands.
 * @param parent - the program (its settings are inherited)
 * @param ctx - streams and clock
 * @param done - receives each subcommand's exit code
 */
export function tokensCommand(parent: Command, ctx: CliContext, done: (code: number) => void): Command {
  const tokens = parent
    .command('tokens')
    .description('inspect, clear or prune what a token store holds (tokens shown as fingerprints only)');
  storeOptions(tokens.command('list').description("list every key of the namespace with its tokens' fingerprints and expiry")).action(
    async (flags: StoreFlags) => done(await (await import('./tokens-run.js')).list(ctx, flags)),
  );
  storeOptions(
    tokens
      .command('show')
      .description('show one key in detail')
      .argument('<key>', 'store key, e.g. default or forge:<context>:<accountId>'),
  ).action(async (key: string, flags: StoreFlags) => done(await (await import('./tokens-run.js')).show(ctx, key, flags)));
  storeOptions(
    tokens.command('clear').description('remove one key, or every key of the namespace with --all').argument('[key]', 'store key'),
  )
    .option('--all', 'clear every key of the namespace (asks first on a terminal)')
    .option('-y, --yes', 'with --all: do not ask (needed when stdin is not a terminal)')
    .action(async (key: string | undefined, flags: ClearFlags) => done(await (await import('./tokens-run.js')).clear(ctx, key, flags)));
  storeOptions(
    tokens.command('prune').description('remove the records that can never be used again: expired without a refresh token, or unreadable'),
  ).action(async (flags: StoreFlags) => done(await (await import('./tokens-run.js')).prune(ctx, flags)));
  return tokens;
}
