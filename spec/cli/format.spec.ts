import { expect } from 'chai';
import { durationFlag, integerFlag, parseDuration, resolveSecret, storeFlag } from '../../lib/cli/args.js';
import type { CliContext } from '../../lib/cli/context.js';
import { UsageError } from '../../lib/cli/exit.js';
import { colorEnabled, formatDuration, formatExpiry, renderTable, styleFor } from '../../lib/cli/format.js';
import { run } from '../../lib/cli/program.js';

/** A context with in-memory streams; `tty` makes them look like terminals. */
function memoryContext(tty: boolean, env: NodeJS.ProcessEnv = {}): CliContext & { output(): { out: string; err: string } } {
  let out = '';
  let err = '';
  const stdout = {
    isTTY: tty,
    write: (t: string) => {
      out += t;
      return true;
    },
  };
  const stderr = {
    isTTY: tty,
    write: (t: string) => {
      err += t;
      return true;
    },
  };
  return {
    stdout,
    stderr,
    out: styleFor(stdout, env),
    err: styleFor(stderr, env),
    env,
    now: Date.now,
    onSignal: () => () => {},
    output: () => ({ out, err }),
  };
}

describe('persistent-session CLI: output and flag parsing', () => {
  it('colours only a TTY, and never with NO_COLOR', () => {
    expect(colorEnabled({ write: () => true, isTTY: true }, {})).to.equal(true);
    expect(colorEnabled({ write: () => true, isTTY: false }, {})).to.equal(false);
    expect(colorEnabled({ write: () => true }, {})).to.equal(false);
    expect(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '1' })).to.equal(false);
    expect(colorEnabled({ write: () => true, isTTY: true }, { NO_COLOR: '' }), 'an empty NO_COLOR does not count').to.equal(true);
  });

  it('an error on a terminal is red; with NO_COLOR it is plain', async () => {
    const tty = memoryContext(true);
    expect(await run(['node', 'ps', 'demo', '--users', 'abc'], tty)).to.equal(2);
    expect(tty.output().err).to.equal('\u001b[31merror: --users must be a positive integer, got "abc"\u001b[39m\n');
    const plain = memoryContext(true, { NO_COLOR: '1' });
    expect(await run(['node', 'ps', 'demo', '--users', 'abc'], plain)).to.equal(2);
    expect(plain.output().err).to.equal('error: --users must be a positive integer, got "abc"\n');
  });

  it('formats durations and expiry relative to now', () => {
    expect(formatDuration(850)).to.equal('850ms');
    expect(formatDuration(252_000)).to.equal('4m 12s');
    expect(formatDuration(3 * 3_600_000)).to.equal('3h');
    expect(formatDuration(3 * 3_600_000 + 5_000)).to.equal('3h', 'two units at most, and no gap: hours then minutes');
    expect(formatDuration(2 * 86_400_000 + 5 * 3_600_000)).to.equal('2d 5h');
    expect(formatExpiry(1_000_000 + 252_000, 1_000_000)).to.equal('in 4m 12s');
    expect(formatExpiry(1_000_000, 1_000_000 + 3 * 3_600_000)).to.equal('expired 3h ago');
  });

  it('renders aligned tables', () => {
    expect(
      renderTable(
        [
          ['a', '1'],
          ['long label', '22'],
        ],
        { header: ['name', 'n'], align: ['left', 'right'] },
      ),
    ).to.equal('name         n\n----------  --\na            1\nlong label  22');
  });

  it('parses flags, naming the flag in every error', () => {
    expect(parseDuration('20s')).to.equal(20_000);
    expect(parseDuration('1m30s')).to.equal(90_000);
    expect(parseDuration('500ms')).to.equal(500);
    expect(parseDuration('2')).to.equal(2_000);
    expect(parseDuration('soon')).to.equal(undefined);
    expect(durationFlag('--duration')('1h')).to.equal(3_600_000);
    expect(integerFlag('--users')('200')).to.equal(200);
    expect(() => integerFlag('--users')('1.5')).to.throw(UsageError, '--users must be a positive integer, got "1.5"');
    expect(() => integerFlag('--port', 0, 65_535)('-1')).to.throw(UsageError, '--port must be a non-negative integer, got "-1"');
    expect(storeFlag('--store')('redis://localhost:6379')).to.equal('redis://localhost:6379');
    expect(() => storeFlag('--store')('sqlite://')).to.throw(UsageError, '--store needs a file path after sqlite://');
    expect(resolveSecret('--system-token', 'env:TOKEN', { TOKEN: 'abc' })).to.equal('abc');
    expect(() => resolveSecret('--system-token', 'env:NOPE', {})).to.throw(
      UsageError,
      '--system-token names the environment variable NOPE, which is not set or empty',
    );
  });
});
