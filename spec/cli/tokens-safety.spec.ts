// The destructive and file-creating paths of the tokens commands: `clear --all` asks on a terminal
// and needs --yes elsewhere, a --store in a directory that does not exist is refused (and not
// created), and `prune` removes only the records that can never be used again.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { recordSecret } from '../support/secrets.js';
import { MAIN, ROOT, runCli, runInProcess, type CliResult } from './support.js';

const HOUR = 3_600_000;
const TOKENS = {
  live: 'at_safety_live_0123456789abcdef',
  liveRefresh: 'rt_safety_live_0123456789abcdef',
  refreshable: 'at_safety_refreshable_0123456789abcdef',
  refreshableRefresh: 'rt_safety_refreshable_0123456789abcdef',
  dead: 'at_safety_dead_0123456789abcdef',
};

/** A terminal stdin for the in-process runs: answers `answer` once asked. */
function terminal(answer: string | undefined): PassThrough & { isTTY: boolean } {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  setImmediate(() => {
    if (answer === undefined) input.end();
    else input.write(`${answer}\n`);
  });
  return input;
}

/** Runs the CLI on a real pseudo-terminal (util-linux `script`), typing `answer` once the prompt shows. */
function onTerminal(args: string[], answer: string): Promise<CliResult> {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const command = [process.execPath, '--import', 'tsx', MAIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let typed = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!typed && stdout.includes('[y/N]')) {
      typed = true;
      child.stdin.write(`${answer}\n`);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: '' });
    });
  });
}

describe('persistent-session CLI: tokens clear --all, --store paths, prune', () => {
  let dir: string;
  let uri: string;

  before(() => recordSecret(...Object.values(TOKENS)));
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ps-cli-safety-'));
    uri = `sqlite://${join(dir, 'tokens.sqlite')}`;
    const store = new KeyvTokenStore(uri);
    const now = Date.now();
    await store.write('live', { accessToken: TOKENS.live, refreshToken: TOKENS.liveRefresh, accessTokenTTLMS: HOUR, acquiredAtMS: now });
    await store.write('refreshable', {
      accessToken: TOKENS.refreshable,
      refreshToken: TOKENS.refreshableRefresh,
      accessTokenTTLMS: HOUR,
      acquiredAtMS: now - 3 * HOUR,
    });
    await store.write('dead', { accessToken: TOKENS.dead, accessTokenTTLMS: HOUR, acquiredAtMS: now - 3 * HOUR });
    await store.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function keys(): Promise<string[]> {
    const store = new KeyvTokenStore(uri);
    try {
      return (await store.keys()).sort();
    } finally {
      await store.close();
    }
  }

  it('clear --all without --yes exits 2 when stdin is not a terminal, and clears nothing', async () => {
    const [piped, inProcess] = await Promise.all([
      runCli(['tokens', 'clear', '--all', '--store', uri]),
      runInProcess(['tokens', 'clear', '--all', '--store', uri], {}, Object.assign(new PassThrough(), { isTTY: false })),
    ]);
    for (const r of [piped, inProcess]) {
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(
        'error: tokens clear --all removes every key of the namespace; ' + 'stdin is not a terminal to confirm on, so pass --yes',
      );
    }
    expect(await keys()).to.deep.equal(['dead', 'live', 'refreshable']);
    const yes = await runCli(['tokens', 'clear', '--all', '-y', '--store', uri]);
    expect(yes.code, yes.stderr).to.equal(0);
    expect(yes.stdout).to.include('cleared 3 keys');
    expect(await keys()).to.deep.equal([]);
  });

  it('clear --all asks on a terminal: "y" clears, anything else (or end of input) exits 1 and clears nothing', async () => {
    const no = await runInProcess(['tokens', 'clear', '--all', '--store', uri], {}, terminal('n'));
    expect(no.code).to.equal(1);
    expect(no.stderr)
      .to.match(/Clear all 3 keys from sqlite:\/\/.*tokens\.sqlite \(namespace persistent-session\)\? /)
      .and.include('This cannot be undone. [y/N] ');
    expect(no.stderr).to.include('error: not confirmed; nothing was cleared');
    const eof = await runInProcess(['tokens', 'clear', '--all', '--store', uri], {}, terminal(undefined));
    expect(eof.code).to.equal(1);
    expect(await keys()).to.have.length(3);
    const yes = await runInProcess(['tokens', 'clear', '--all', '--store', uri], {}, terminal('YES'));
    expect(yes.code, yes.stderr).to.equal(0);
    expect(yes.stdout).to.include('cleared 3 keys');
    expect(await keys()).to.deep.equal([]);
  });

  it('on a real terminal, the prompt waits for the answer', async function () {
    this.timeout(40_000);
    const declined = await onTerminal(['tokens', 'clear', '--all', '--store', uri], 'n');
    expect(declined.code, declined.stdout).to.equal(1);
    expect(declined.stdout).to.include('[y/N]').and.include('nothing was cleared');
    expect(await keys()).to.have.length(3);
    const confirmed = await onTerminal(['tokens', 'clear', '--all', '--store', uri], 'y');
    expect(confirmed.code, confirmed.stdout).to.equal(0);
    expect(confirmed.stdout).to.include('cleared 3 keys');
    expect(await keys()).to.deep.equal([]);
  });

  it('refuses a sqlite:// store whose directory does not exist (exit 2, naming the path), and creates nothing', async () => {
    const missing = join(dir, 'no', 'such', 'dir');
    const target = `sqlite://${join(missing, 'x.sqlite')}`;
    const results = await Promise.all([
      runInProcess(['tokens', 'list', '--store', target]),
      runInProcess(['tokens', 'prune', '--store', target]),
      runInProcess(['tokens', 'clear', 'k', '--store', target]),
      runInProcess(['demo', '--duration', '1s', '--users', '1', '--store', target]),
      runInProcess(['tokens', 'list', '--store', 'sqlite:///nonexistent/dir/x.sqlite']),
    ]);
    for (const r of results.slice(0, 4)) {
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(
        `error: --store names ${join(missing, 'x.sqlite')}, but the directory ${missing} does not exist; create it first`,
      );
    }
    expect(results[4]!.code).to.equal(2);
    expect(results[4]!.stderr).to.include('/nonexistent/dir/x.sqlite');
    expect(existsSync(join(dir, 'no')), 'no directory was created').to.equal(false);
    expect(existsSync('/nonexistent')).to.equal(false);
  });

  // `KeyvTokenStore.prune()` comes with the store's own branch; until it is there, the command
  // says it cannot prune, and this test waits for it.
  it('prune removes the records that can never be used again, and keeps the rest', async function () {
    if (typeof (KeyvTokenStore.prototype as { prune?: unknown }).prune !== 'function') this.skip();
    const store = new KeyvTokenStore(uri);
    // Keyed as the store keys its own records (see KeyvTokenStore's storeKey), in a format it does not know.
    const { keyv } = store;
    await keyv.set(keyv.useKeyPrefix && keyv.namespace ? `${keyv.namespace}:corrupt` : 'corrupt', '{"tokenInfo": 42}');
    await store.close();
    expect(await keys()).to.deep.equal(['corrupt', 'dead', 'live', 'refreshable']);
    const r = await runCli(['tokens', 'prune', '--store', uri, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ removed: 2 });
    expect(await keys()).to.deep.equal(['live', 'refreshable']);
    const again = await runCli(['tokens', 'prune', '--store', uri]);
    expect(again.stdout).to.include('removed 0 records that can never be used again');
  });

  it("prune prints how many records the store's prune() removed, as text or --json", async () => {
    const proto = KeyvTokenStore.prototype as { prune?: () => Promise<number> };
    const original = Object.getOwnPropertyDescriptor(proto, 'prune');
    Object.defineProperty(proto, 'prune', { value: async () => 7, configurable: true, writable: true });
    try {
      const [text, json] = await Promise.all([
        runInProcess(['tokens', 'prune', '--store', uri]),
        runInProcess(['tokens', 'prune', '--store', uri, '--json']),
      ]);
      expect(text.code, text.stderr).to.equal(0);
      expect(text.stdout)
        .to.match(/^removed 7 records that can never be used again /)
        .and.match(/ \(expired without a refresh token, or unreadable\) from sqlite:\/\/.*\(namespace persistent-session\)\n$/);
      expect(JSON.parse(json.stdout)).to.deep.equal({ store: uri, namespace: 'persistent-session', removed: 7 });
    } finally {
      if (original === undefined) delete proto.prune;
      else Object.defineProperty(proto, 'prune', original);
    }
  });

  it('prune needs --store, like every tokens command', async () => {
    const r = await runInProcess(['tokens', 'prune']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("error: required option '--store <uri>' not specified");
  });
});
