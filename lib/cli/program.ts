/**
 * The `persistent-session` program: its commands, error reporting and exit codes.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { SessionError } from '../errors.js';
import { redactText } from '../redact.js';
import { demoCommand } from './demo.js';
import { emulatorCommand } from './emulator-command.js';
import { processContext, println, type CliContext } from './context.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './exit.js';
import { mintCommand } from './mint.js';
import { tokensCommand } from './tokens.js';
import { sweepCommand } from './sweep.js';

/** The text appended to `--help` of the program. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success (for demo: the run ended with zero unrecovered errors)
  1  runtime failure: a server refused, the store failed, a key was not found, demo saw errors
  2  usage error: unknown command or flag, missing or malformed value`;

function version(): string {
  try {
    // The package resolves its own name (its exports map lists ./package.json): this works from lib/
    // and from the bundled dist/, wherever the code of this module ends up.
    const manifest = import.meta.resolve('persistent-session/package.json');
    const pkg = JSON.parse(readFileSync(new URL(manifest), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Builds the program.
 * @param ctx - streams, environment, clock, signals
 * @param done - receives the exit code of the command that ran
 */
export function buildProgram(ctx: CliContext, done: (code: number) => void): Command {
  const program = new Command('persistent-session')
    .description('Keeps the OAuth tokens of long-running workers valid. Try: persistent-session demo')
    .version(version(), '-v, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => {
        ctx.stdout.write(text);
      },
      writeErr: (text) => {
        ctx.stderr.write(text);
      },
      // commander quotes offending arguments; a mistyped `--system-tokn=<token>` must not echo the token.
      outputError: (text, write) => write(ctx.err.red(redactCommanderError(text))),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  demoCommand(program, ctx, done);
  emulatorCommand(program, ctx, done);
  tokensCommand(program, ctx, done);
  mintCommand(program, ctx, done);
  sweepCommand(program, ctx, done);
  return program;
}

/** Prints an error the way every command does: one line, `error: …`, redacted. */
export function reportError(ctx: CliContext, err: unknown): number {
  if (err instanceof UsageError) {
    println(ctx.stderr, ctx.err.red(`error: ${redactText(err.message)}`));
    return EXIT_USAGE;
  }
  const code = err instanceof SessionError ? ` [${err.code}]` : '';
  const message = err instanceof Error ? err.message : String(err);
  println(ctx.stderr, ctx.err.red(`error${code}: ${redactText(message)}`));
  const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof exitCode === 'number' && exitCode !== 0 ? exitCode : EXIT_FAILURE;
}

/**
 * Runs the program on an argument vector.
 * @param argv - `process.argv` form (node, script, …args)
 * @param ctx - defaults to the real process
 * @returns the exit code: 0 ok, 1 runtime failure, 2 usage error
 */
export async function run(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  let code: number = EXIT_OK;
  const program = buildProgram(ctx, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; everything commander rejects is a usage error.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    return reportError(ctx, err);
  }
}

/**
 * @internal Commander's error text without argument values: an unknown `--flag=value` loses its
 * value, and whatever looks like a credential is redacted.
 */
export function redactCommanderError(text: string): string {
  return redactText(text.replace(/(unknown option '[^'=\s]+)=[^']*'/g, "$1=…'"));
}
