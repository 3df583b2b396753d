/**
 * `persistent-session mint`: mints one Forge offline user token through the documented
 * `offlineUserAuthToken` mutation, and prints a redacted summary. The token itself is printed only
 * with `--show-token`.
 *
 * This module only declares the command; `mint-run.ts` is loaded when it runs.
 *
 * @module
 */
import { Option, type Command } from 'commander';
import { textFlag, urlFlag } from './args.js';
import type { CliContext } from './context.js';
import { UsageError } from './exit.js';
import type { MintFlags } from './mint-run.js';

/** The Forge GraphQL gateway; the same as `DEFAULT_FORGE_GATEWAY_URL`, repeated so that `--help` loads no HTTP client. */
export const FORGE_GATEWAY_URL = 'https://api.atlassian.com/graphql';

const INSTALLATION_ARI = /^ari:cloud:ecosystem::installation\//;

/** Checks the shape of a context ARI before any request is sent: an installation ARI is the usual mistake. */
export function checkContextAri(value: string): string {
  if (INSTALLATION_ARI.test(value)) {
    throw new UsageError(
      `--context must be a context ARI such as ari:cloud:jira::site/{cloudId}, got an installation ARI; the gateway answers "Could not ` +
        `load permissions" for those`,
    );
  }
  if (!/^ari:cloud:[a-z-]+:[^:]*:.+/.test(value)) {
    throw new UsageError(
      `--context must be a context ARI such as ari:cloud:jira::site/{cloudId} or ari:cloud:jira:{cloudId}:workspace/{cloudId}, got ` +
        `${JSON.stringify(value.slice(0, 80))}`,
    );
  }
  return value;
}

/**
 * Adds the `mint` command.
 * @param parent - the program
 * @param ctx - streams, environment, clock
 * @param done - receives the exit code
 */
export function mintCommand(parent: Command, ctx: CliContext, done: (code: number) => void): Command {
  return parent
    .command('mint')
    .description('mint one Forge offline user token (offlineUserAuthToken) and print a redacted summary')
    .addOption(
      new Option('--account <id>', 'Atlassian account id of the user to act as').argParser(textFlag('--account')).makeOptionMandatory(),
    )
    .addOption(
      new Option('--context <ari>', 'context ARI, e.g. ari:cloud:jira::site/{cloudId}').argParser(checkContextAri).makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--system-token <token>',
        'app system token (x-forge-oauth-system), or env:VAR to read it from the environment',
      ).makeOptionMandatory(),
    )
    .addOption(new Option('--gateway <url>', 'Forge GraphQL gateway').default(FORGE_GATEWAY_URL).argParser(urlFlag('--gateway')))
    .option('--show-token', 'print the raw user token on stdout (the summary goes to stderr)')
    .option('--json', 'machine-readable summary (still redacted)')
    .action(async (flags: MintFlags) => {
      const { runMint } = await import('./mint-run.js');
      done(await runMint(ctx, flags));
    });
}
