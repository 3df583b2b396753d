import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { createTokenStore } from '../../lib/store/keyv-token-store.js';
import { seed } from '../support/oauth.js';
import { recordOutput, recordSecret } from '../support/secrets.js';
import { runCli as run, runInProcess, type CliResult } from './support.js';

/** Runs the CLI and hands its output to the suite's secret scan. */
async function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const r = await run(args, env);
  recordOutput(r.stdout);
  recordOutput(r.stderr);
  return r;
}

const DAY = 86_400_000;

describe('persistent-session CLI: sweep', function () {
  this.timeout(60_000);
  let emu: Emulator;
  let dir: string;
  let uri: string;
  let tokens: string[];
  beforeEach(async () => {
    emu = await startEmulator();
    dir = mkdtempSync(join(tmpdir(), 'ps-sweep-'));
    uri = `sqlite://${join(dir, 'grants.sqlite')}`;
    tokens = [];
    const store = createTokenStore(uri);
    const put = async (key: string, ageMS: number): Promise<string> => {
      const { tokenInfo } = seed(emu);
      tokens.push(tokenInfo.accessToken, tokenInfo.refreshToken!);
      await store.write(key, { ...tokenInfo, acquiredAtMS: Date.now() - ageMS });
      return tokenInfo.refreshToken!;
    };
    for (let i = 0; i < 5; i++) await put(`customer:stale-${i}`, 2 * DAY);
    for (let i = 0; i < 3; i++) await put(`customer:recent-${i}`, 1_000);
    emu.revokeToken(await put('customer:dead', 2 * DAY));
    await store.close();
  });
  afterEach(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (...extra: string[]) => [
    'sweep',
    '--store',
    uri,
    '--token-endpoint',
    emu.tokenEndpoint,
    '--client-id',
    'test-client',
    '--client-secret',
    'env:SPEC_SECRET',
    ...extra,
  ];
  const env = { SPEC_SECRET: 'test-secret' };

  it('refreshes the stale grants, lists the dead one, prints progress lines and never a token', async () => {
    const r = await runCli(args('--older-than', '24h', '--rate', '600/min'), env);
    expect(r.code, r.stderr).to.equal(0);
    expect(emu.counts.refresh).to.equal(6);
    expect(emu.counts.invalidGrant).to.equal(1);
    expect(r.stdout)
      .to.match(/swept 9 of 9 grants/)
      .and.match(/refreshed\s+5\n/)
      .and.match(/skipped \(recent\)\s+3\n/)
      .and.match(/dead \(authorize again\)\s+1\n/)
      .and.match(/failed \(retry later\)\s+0\n/)
      .and.include('dead: customer:dead');
    expect(r.stderr).to.match(/^\[9\/9\] refreshed 5 \| skipped 3 \| dead 1 \| failed 0$/m);
    const store = createTokenStore(uri);
    for (let i = 0; i < 5; i++) recordSecret((await store.read(`customer:stale-${i}`))?.refreshToken);
    await store.close();
    for (const t of tokens) expect(r.stdout + r.stderr).to.not.include(t);
    expect(r.stdout + r.stderr).to.not.include('test-secret');
    // A second sweep finds nothing to refresh.
    const again = await runCli(args('--json'), env);
    expect(again.code, again.stderr).to.equal(0);
    expect(JSON.parse(again.stdout)).to.deep.include({
      total: 9,
      refreshed: 0,
      skipped: 8,
      dead: 1,
      failed: 0,
      deadKeys: ['customer:dead'],
      aborted: false,
    });
    // Not even the dead grant is sent again: the first sweep marked it dead in the store.
    expect(emu.counts.refresh).to.equal(6);
  });

  it('exits 1 when refreshes fail at the server', async () => {
    emu.inject('token', { status: 500, times: 100 });
    const r = await runCli(args('--prefix', 'customer:stale-', '--concurrency', '1'), env);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/failed \(retry later\)\s+5\n/);
  });

  it('rejects bad flags with exit code 2, naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [args('--rate', 'fast'), /--rate must be a number of requests per minute/],
      [args('--older-than', 'yesterday'), /--older-than must be a duration/],
      [args('--concurrency', '0'), /--concurrency must be a positive integer/],
      [['sweep', '--store', uri, '--token-endpoint', emu.tokenEndpoint], /--client-id/],
      [args('--client-secret', 'env:NOT_SET_ANYWHERE'), /--client-secret names the environment variable NOT_SET_ANYWHERE/],
    ];
    for (const [argv, message] of cases) {
      const r = await runInProcess(argv, env);
      expect(r.code, argv.join(' ')).to.equal(2);
      expect(r.stderr).to.match(message);
    }
    expect(emu.counts.token).to.equal(0);
  });

  it('--help documents the command and its exit codes', async () => {
    const r = await runInProcess(['sweep', '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('--older-than <duration>').and.include('--rate <n/min>').and.include('Exit codes:');
  });
});
