/**
 * The implementation of `persistent-session mint` (loaded only when the command runs).
 *
 * @module
 */
import { requireJwt } from '../exchangers/token-source.js';
import { forgeRemoteExchanger } from '../forge/forge-remote-exchanger.js';
import { fingerprint } from '../redact.js';
import { expiresAtMS } from '../token/token-info.js';
import { resolveSecret } from './args.js';
import { println, type CliContext } from './context.js';
import { formatDuration, formatExpiry, renderTable } from './format.js';

/** The parsed flags of `mint`. */
export interface MintFlags {
  account: string;
  context: string;
  systemToken: string;
  gateway: string;
  showToken?: boolean;
  json?: boolean;
}

/**
 * Mints one user token and prints the summary (and the token with `--show-token`).
 * @returns 0; failures reject
 */
export async function runMint(ctx: CliContext, flags: MintFlags): Promise<number> {
  const systemToken = resolveSecret('--system-token', flags.systemToken, ctx.env);
  // Forge app system tokens are JWTs: anything else would be sent, refused with a 401, and reported
  // as expired or revoked, which sends the user looking in the wrong place.
  requireJwt(systemToken, '--system-token');
  const exchanger = forgeRemoteExchanger({ systemToken, contextAri: flags.context, gatewayUrl: flags.gateway, retry: { maxAttempts: 3 } });
  const started = ctx.now();
  const info = await exchanger.exchange(flags.account);
  const now = ctx.now();
  const summary = {
    accountId: flags.account,
    contextAri: flags.context,
    gateway: flags.gateway,
    token: fingerprint(info.accessToken),
    ttlSeconds: Math.round(info.accessTokenTTLMS / 1000),
    expiresAt: new Date(expiresAtMS(info)).toISOString(),
    tookMS: now - started,
  };
  // With --show-token the token alone goes to stdout, so that `TOKEN=$(persistent-session mint …)` works.
  const report = flags.showToken === true ? ctx.stderr : ctx.stdout;
  if (flags.json === true) {
    println(report, JSON.stringify(summary, null, 2));
  } else {
    const style = flags.showToken === true ? ctx.err : ctx.out;
    println(report, `${style.green('minted')} a user token for ${style.bold(flags.account)}`);
    println(
      report,
      renderTable(
        [
          ['token', summary.token],
          ['lifetime', `${summary.ttlSeconds} s (expires ${formatExpiry(expiresAtMS(info), now)})`],
          ['context', summary.contextAri],
          ['gateway', summary.gateway],
          ['took', formatDuration(summary.tookMS)],
        ],
        { indent: '  ' },
      ),
    );
    if (flags.showToken !== true) println(report, style.dim('  (the token itself is printed only with --show-token)'));
  }
  if (flags.showToken === true) println(ctx.stdout, info.accessToken);
  return 0;
}
