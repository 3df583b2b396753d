import { expect } from 'chai';
import { runCli, runInProcess } from './support.js';

describe('persistent-session CLI: program', () => {
  it('--help works on the program and on every command, with exit code 0', async () => {
    const commands = [[], ['demo'], ['emulator'], ['tokens'], ['tokens', 'list'], ['tokens', 'show'], ['tokens', 'clear'], ['mint']];
    // One real subprocess; the rest in this process, through the same entry function.
    const results = await Promise.all(commands.map((c, i) => (i === 0 ? runCli : runInProcess)([...c, '--help'])));
    results.forEach((r, i) => {
      expect(r.code, `${commands[i]!.join(' ')} --help: ${r.stderr}`).to.equal(0);
      expect(r.stdout).to.match(/^Usage: persistent-session/);
    });
    expect(results[0]!.stdout).to.include('Exit codes:');
    expect(results[1]!.stdout)
      .to.include('--users <n>')
      .and.include('--duration <duration>')
      .and.include('--store <uri>')
      .and.include('--seed');
    expect(results[2]!.stdout).to.include('--port <n>').and.include('--host <host>');
    expect(results[4]!.stdout).to.include('--store <uri>').and.include('--namespace <ns>').and.include('--json');
    expect(results[7]!.stdout)
      .to.include('--account <id>')
      .and.include('--context <ari>')
      .and.include('--system-token <token>')
      .and.include('--show-token');
  });

  it('prints its version; exits 2 for an unknown command or flag, and with no command at all', async () => {
    const [version, cmd, flag, none] = await Promise.all([
      runCli(['--version']),
      runCli(['frobnicate']),
      runCli(['demo', '--frobnicate']),
      runCli([]),
    ]);
    expect(version.code).to.equal(0);
    expect(version.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
    expect(cmd.code).to.equal(2);
    expect(cmd.stderr).to.include("error: unknown command 'frobnicate'");
    expect(flag.code).to.equal(2);
    expect(flag.stderr).to.include("error: unknown option '--frobnicate'");
    expect(none.code).to.equal(2);
    expect(none.stderr).to.include('Usage: persistent-session');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes looked for
    for (const r of [cmd, flag, none]) expect(r.stderr, 'no colour off a terminal or with NO_COLOR').to.not.match(/\u001b\[/);
  });

  it('never echoes the value of a mistyped flag (it may be a token)', async () => {
    const secret = 'opaque-system-token-value-0123456789';
    const r = await runInProcess([
      'mint',
      '--account',
      'a',
      '--context',
      'ari:cloud:jira::site/x',
      '--system-token',
      'env:NOPE',
      `--system-tokn=${secret}`,
    ]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("unknown option '--system-tokn=");
    expect(r.stderr + r.stdout).to.not.include(secret);
  });
});
