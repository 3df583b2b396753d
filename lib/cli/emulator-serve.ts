/**
 * The implementation of `persistent-session emulator` (loaded only when the command runs): the token-server emulator in
 * the foreground, for trying a worker against it by hand. Prints its URLs and a seeded token set (as fingerprints); stops on
 * SIGINT/SIGTERM with exit code 0.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator, type EmulatorOptions } from '../emulator/index.js';
import { fingerprint } from '../redact.js';
import { println, type CliContext } from './context.js';
import { CliFailure } from './exit.js';
import { formatExpiry, renderTable } from './format.js';

/** The parsed flags of `emulator`. */
export interface EmulatorFlags {
  port: number;
  host: string;
  accessTtl?: number;
  userTtl?: number;
  mintsPerMinute?: number;
  tokensFile?: string;
}

/** The environment variable the printed `mint` hint reads the system token from. */
export const SYSTEM_TOKEN_ENV = 'FORGE_SYSTEM_TOKEN';

/**
 * Runs the emulator until SIGINT/SIGTERM.
 * @returns 0 once stopped
 */
export async function serveEmulator(ctx: CliContext, flags: EmulatorFlags): Promise<number> {
  const options: EmulatorOptions = { host: flags.host, port: flags.port };
  if (flags.accessTtl !== undefined) options.accessTokenTTLSeconds = flags.accessTtl / 1000;
  const forge: NonNullable<EmulatorOptions['forge']> = {};
  if (flags.userTtl !== undefined) forge.userTokenTTLSeconds = flags.userTtl / 1000;
  if (flags.mintsPerMinute !== undefined) forge.mintsPerMinute = flags.mintsPerMinute;
  options.forge = forge;
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator(options);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EADDRINUSE')
      throw new CliFailure(`--port ${flags.port} is already in use on ${flags.host}; pick another port or 0 for any free one`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliFailure(`--host ${flags.host} is not an address of this machine`);
    throw err;
  }
  // Listen for Ctrl+C before the banner says so, so that a signal sent right after it is not lost.
  const stopped = new Promise<NodeJS.Signals>((resolveSignal) => {
    const off = ctx.onSignal((s) => {
      off();
      resolveSignal(s);
    });
  });
  const cloudId = randomUUID();
  const contextAri = `ari:cloud:jira::site/${cloudId}`;
  const installationId = `ari:cloud:ecosystem::installation/${randomUUID()}`;
  const tokens = emulator.issueTokens();
  const systemToken = emulator.forge.issueSystemToken({ contextAri, installationId });
  const now = ctx.now();
  const { out } = ctx;
  println(ctx.stdout, `${out.bold('persistent-session emulator')} listening on ${out.cyan(emulator.url)}`);
  println(
    ctx.stdout,
    renderTable(
      [
        ['token endpoint', emulator.tokenEndpoint],
        ['revocation endpoint', emulator.revocationEndpoint],
        ['protected resource', emulator.resourceUrl],
        ['Forge GraphQL gateway', emulator.graphqlUrl],
        ['product API', `${emulator.productApiUrl(cloudId)}/…`],
        ['Forge egress proxy', `${emulator.egressProxyUrl} (FORGE_EGRESS_PROXY_URL of a Forge container)`],
        ['OAuth client', `${DEFAULT_CLIENT_ID} (secret: ${DEFAULT_CLIENT_SECRET})`],
      ],
      { indent: '  ' },
    ),
  );
  println(ctx.stdout, '');
  println(ctx.stdout, out.bold('seeded token set (redacted)'));
  println(
    ctx.stdout,
    renderTable(
      [
        [
          'access token',
          `${fingerprint(tokens.accessToken)} (expires ${formatExpiry(tokens.acquiredAtMS + tokens.expiresIn * 1000, now)})`,
        ],
        ['refresh token', fingerprint(tokens.refreshToken)],
        ['scope', tokens.scope],
      ],
      { indent: '  ' },
    ),
  );
  println(ctx.stdout, '');
  println(ctx.stdout, out.bold('Forge app system token'));
  println(
    ctx.stdout,
    renderTable(
      [
        ['system token', `${fingerprint(systemToken)} (a JWT, as in the x-forge-oauth-system header)`],
        ['installation', installationId],
        ['context', contextAri],
      ],
      { indent: '  ' },
    ),
  );
  if (flags.tokensFile !== undefined) {
    const file = resolve(flags.tokensFile);
    const record = {
      url: emulator.url,
      tokenEndpoint: emulator.tokenEndpoint,
      revocationEndpoint: emulator.revocationEndpoint,
      resourceUrl: emulator.resourceUrl,
      graphqlUrl: emulator.graphqlUrl,
      productApiUrl: emulator.productApiUrl(cloudId),
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresIn: tokens.expiresIn,
      acquiredAtMS: tokens.acquiredAtMS,
      scope: tokens.scope,
      systemToken,
      installationId,
      contextAri,
    };
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    println(ctx.stdout, `  the raw tokens are in ${file} (mode 0600); to mint a user token:`);
    println(ctx.stdout, `    export ${SYSTEM_TOKEN_ENV}="$(node -p "require('${file}').systemToken")"`);
  } else {
    println(
      ctx.stdout,
      '  raw tokens are never printed; start with --tokens-file <path> to have them written to a file (mode 0600), then:',
    );
  }
  println(
    ctx.stdout,
    `    persistent-session mint --account user-1 --context ${contextAri} --system-token env:${SYSTEM_TOKEN_ENV} --gateway ` +
      `${emulator.graphqlUrl}`,
  );
  println(ctx.stdout, '');
  println(ctx.stdout, out.dim('press Ctrl+C to stop'));

  const signal = await stopped;
  await emulator.close();
  println(ctx.stdout, `emulator stopped (${signal})`);
  return 0;
}
