import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { fingerprint } from '../../lib/redact.js';
import { recordSecret } from '../support/secrets.js';
import { runCli, runInProcess } from './support.js';

const CONTEXT = 'ari:cloud:jira::site/0b6f6a52-1111-4222-8333-444455556666';

describe('persistent-session CLI: mint', () => {
  let emulator: Emulator;
  let systemToken: string;
  let env: Record<string, string>;
  beforeEach(async () => {
    emulator = await startEmulator();
    systemToken = emulator.forge.issueSystemToken({ contextAri: CONTEXT, users: ['alice', 'bob'] });
    recordSecret(systemToken);
    env = { SPEC_SYSTEM_TOKEN: systemToken };
  });
  afterEach(() => emulator.close());

  const args = (...extra: string[]) => [
    'mint',
    '--account',
    'alice',
    '--context',
    CONTEXT,
    '--system-token',
    'env:SPEC_SYSTEM_TOKEN',
    '--gateway',
    emulator.graphqlUrl,
    ...extra,
  ];

  it('mints one user token through the gateway and prints a redacted summary', async () => {
    const r = await runCli(args(), env);
    expect(r.code, r.stderr).to.equal(0);
    expect(emulator.counts.mint).to.equal(1);
    expect(r.stdout)
      .to.match(/minted a user token for alice/)
      .and.match(/token\s+sha256:[0-9a-f]{8}/)
      .and.match(/lifetime\s+3600 s \(expires in 59m \d+s\)/);
    expect(r.stdout + r.stderr).to.not.include(systemToken);
    expect(r.stdout + r.stderr).to.not.match(/ut_[A-Za-z0-9_-]{8,}/);
    const body = emulator.lastRequest('graphql')!.body as { variables: { input: { userId: string; contextIds: string[] } } };
    expect(body.variables.input).to.deep.equal({ userId: 'alice', contextIds: [CONTEXT] });
  });

  it('--show-token prints the token alone on stdout, and it works on the product API', async () => {
    const r = await runCli(args('--show-token'), env);
    expect(r.code, r.stderr).to.equal(0);
    const token = r.stdout.trim();
    recordSecret(token);
    expect(emulator.tokenState(token)).to.equal('active');
    expect(r.stderr).to.include(fingerprint(token)).and.not.include(token);
  });

  it("a refused impersonation exits 1 with the gateway's reason", async () => {
    const r = await runCli(
      ['mint', '--account', 'mallory', '--context', CONTEXT, '--system-token', 'env:SPEC_SYSTEM_TOKEN', '--gateway', emulator.graphqlUrl],
      env,
    );
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('error [ERR_IMPERSONATION]').and.include('Could not load permissions');
    expect(r.stderr).to.not.include(systemToken);
  });

  it('bad input exits 2 naming the flag, before any request', async () => {
    const results = await Promise.all([
      runCli(['mint', '--context', CONTEXT, '--system-token', 'env:SPEC_SYSTEM_TOKEN'], env),
      runInProcess(
        args().map((a) => (a === CONTEXT ? 'ari:cloud:ecosystem::installation/0b6f6a52' : a)),
        env,
      ),
      runInProcess(
        args().map((a) => (a === 'env:SPEC_SYSTEM_TOKEN' ? 'env:SPEC_UNSET_VARIABLE' : a)),
        env,
      ),
      runInProcess(
        args().map((a) => (a === emulator.graphqlUrl ? 'not a url' : a)),
        env,
      ),
    ]);
    expect(results.map((r) => r.code)).to.deep.equal([2, 2, 2, 2]);
    expect(results[0]!.stderr).to.include("error: required option '--account <id>' not specified");
    expect(results[1]!.stderr).to.include('error: --context must be a context ARI').and.include('installation ARI');
    expect(results[2]!.stderr).to.include('error: --system-token names the environment variable SPEC_UNSET_VARIABLE, which is not set');
    expect(results[3]!.stderr).to.include('error: --gateway must be an absolute http(s) URL, got "not a url"');
    expect(emulator.counts.graphql).to.equal(0);
  });
});
