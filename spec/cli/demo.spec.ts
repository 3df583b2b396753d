import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { runCli, runInProcess, summaryValue } from './support.js';

describe('persistent-session CLI: demo', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-cli-demo-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'runs the worker (mints, refreshes, recovered 401s, zero errors); a second run on the same store mints nothing for tokens still ' +
      'valid',
    async function () {
      this.timeout(40_000);
      const store = `sqlite://${join(dir, 'demo.sqlite')}`;
      const args = ['demo', '--duration', '3s', '--users', '20', '--store', store];

      const first = await runCli(args);
      expect(first.code, first.stdout + first.stderr).to.equal(0);
      expect(first.stdout).to.include('persistent-session demo: 20 users for 3s');
      expect(summaryValue(first.stdout, 'API calls made')).to.be.greaterThan(100);
      expect(summaryValue(first.stdout, 'tokens minted')).to.be.at.least(20);
      expect(summaryValue(first.stdout, 'refreshes')).to.be.greaterThan(0);
      expect(summaryValue(first.stdout, '401s recovered')).to.be.greaterThan(0);
      expect(summaryValue(first.stdout, 'errors (unrecovered)')).to.equal(0);
      expect(first.stdout).to.include('app grant: seeded from the emulator and stored');
      expect(first.stderr, 'a progress line every 2 s when stderr is not a terminal').to.match(
        /^\[2\.\d+s\/3s\] calls [\d,]+ \| minted \d+/m,
      );
      expect(existsSync(join(dir, 'demo.sqlite'))).to.equal(true);

      const second = await runCli(args);
      expect(summaryValue(second.stdout, 'mints for tokens still valid')).to.equal(0);
      expect(second.stdout, 'the stored user tokens were found').to.match(/stored user tokens still valid at start: [1-9]/);
      expect(summaryValue(second.stdout, 'user tokens reused from the store')).to.be.greaterThan(0);
      if (second.stdout.includes('emulator state: restored')) {
        // The emulator remembered the first run: nothing stored may be refused or re-minted early.
        expect(second.code, second.stdout + second.stderr).to.equal(0);
        expect(second.stdout).to.include('app grant: reused from the store');
        expect(summaryValue(second.stdout, 'errors (unrecovered)')).to.equal(0);
      } else {
        // Without a restored emulator state (lib/cli/emulator-state.ts) the new emulator refuses every
        // stored token; the grant is re-seeded and the refused user tokens re-minted.
        expect(second.stdout).to.include('app grant: the stored grant was refused by this emulator');
      }
    },
  );

  it('--json prints the counts as JSON', async function () {
    this.timeout(20_000);
    const r = await runCli([
      'demo',
      '--duration',
      '1s',
      '--users',
      '3',
      '--no-faults',
      '--json',
      '--store',
      `sqlite://${join(dir, 'json.sqlite')}`,
    ]);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    expect(out.users).to.equal(3);
    expect(out.mints).to.be.at.least(3);
    expect(out.errors).to.equal(0);
    expect(out.recovered401).to.equal(0);
  });

  it('bad input exits 2 with a message naming the flag', async () => {
    const [users, duration, store, zero] = await Promise.all([
      runCli(['demo', '--users', 'abc']),
      runInProcess(['demo', '--duration', 'forever']),
      runInProcess(['demo', '--store', 'tokens.sqlite']),
      runInProcess(['demo', '--users', '0']),
    ]);
    expect(users.code).to.equal(2);
    expect(users.stderr).to.include('error: --users must be a positive integer, got "abc"');
    expect(duration.code).to.equal(2);
    expect(duration.stderr).to.include('error: --duration must be a duration such as 20s, 1m30s or 500ms');
    expect(store.code).to.equal(2);
    expect(store.stderr).to.include('error: --store must be a store URI');
    expect(zero.code).to.equal(2);
    expect(zero.stderr).to.include('error: --users must be a positive integer, got "0"');
  });
});
