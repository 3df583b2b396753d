import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { unavailable } from '../support/services.js';
import { recordOutput, recordSecret } from '../support/secrets.js';
import { pollUntil, runFixture, runId, unreachable, type Fixture } from './helpers.js';

const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const PROCESSES = 4;
const ROUNDS = 40;
const CONTROL_ROUNDS = 20;

/** Lines `<round> won|lost` printed so far by a racer, by round. */
function outcomes(racer: Fixture): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of racer.output().split('\n')) {
    const m = /^(\d+) (won|lost)$/.exec(line);
    if (m) out.set(Number(m[1]), m[2]!);
  }
  return out;
}

/**
 * Runs `rounds` rounds: the parent stores the refresh token `rt-round-<r>`, then tells every racer to
 * go at once; each tries to replace it with tokens of its own. Returns the winners of each round and
 * the refresh token left in the store after each.
 */
async function race(
  uri: string,
  mode: 'write-if' | 'naive',
  rounds: number,
): Promise<{ winners: string[][]; stored: Array<string | undefined> }> {
  const namespace = `ps-race-${runId()}`;
  const key = 'grant';
  const encryptionKey = randomBytes(32).toString('hex');
  const store = new KeyvTokenStore(uri, { namespace, encryptionKey });
  const racers = Array.from({ length: PROCESSES }, (_, i) =>
    runFixture('write-if-racer', [uri, namespace, key, String(i), encryptionKey, mode], {}, { stdin: true }),
  );
  const winners: string[][] = [];
  const stored: Array<string | undefined> = [];
  try {
    await Promise.all(racers.map((r) => r.waitForLine('ready', 20_000)));
    for (let round = 0; round < rounds; round++) {
      await store.write(key, {
        accessToken: `at-round-${round}`,
        refreshToken: `rt-round-${round}`,
        accessTokenTTLMS: 3_600_000,
        acquiredAtMS: Date.now(),
      });
      for (const r of racers) r.child.stdin!.write(`go ${round}\n`);
      const answered = await pollUntil(async () => racers.every((r) => outcomes(r).has(round) || r.child.exitCode !== null), 10_000, 2);
      expect(answered, `round ${round}: ${racers.map((r) => r.output()).join(' | ')}`).to.equal(true);
      winners.push(racers.flatMap((r, i) => (outcomes(r).get(round) === 'won' ? [String(i)] : [])));
      stored.push((await store.read(key))?.refreshToken);
    }
    for (const r of racers) expect(r.output(), 'a racer failed').not.to.match(/^error /m);
    for (const r of racers) recordOutput(r.output());
  } finally {
    for (const r of racers) r.child.stdin!.end();
    await Promise.all(racers.map((r) => r.exit));
    await store.clear(key).catch(() => {});
    await store.close();
  }
  return { winners, stored };
}

function backend(title: string, uri: () => string, setup?: (ctx: Mocha.Context) => Promise<void>): void {
  describe(`writeIf across processes: ${title}`, function () {
    this.timeout(120_000);
    before(async function () {
      await setup?.(this);
      const why = await unreachable(uri());
      if (why !== undefined) unavailable(this, `${title} race skipped: ${uri()} is unreachable (${why})`);
      for (let r = 0; r < ROUNDS; r++) {
        recordSecret(`rt-round-${r}`, `at-round-${r}`);
        for (let i = 0; i < PROCESSES; i++) recordSecret(`rt-${r}-${i}-racer`, `at-${r}-${i}-racer`);
      }
    });

    it(`${PROCESSES} processes × ${ROUNDS} rounds, one expected refresh token a round: one wins, its tokens stay`, async () => {
      const { winners, stored } = await race(uri(), 'write-if', ROUNDS);
      expect(
        winners.map((w) => w.length),
        'winners per round',
      ).to.deep.equal(Array(ROUNDS).fill(1));
      expect(stored).to.deep.equal(winners.map((w, round) => `rt-${round}-${w[0]}-racer`));
    });

    it('control: reading, comparing and writing in three steps lets several processes win a round', async () => {
      const { winners } = await race(uri(), 'naive', CONTROL_ROUNDS);
      // Proves that the racers overlap: without an atomic write, some round has more than one winner.
      expect(Math.max(...winners.map((w) => w.length)), 'most winners in one round').to.be.at.least(2);
    });
  });
}

let dir: string | undefined;
after(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});
backend(
  'SQLite',
  () => `sqlite://${join(dir!, 'tokens.sqlite')}`,
  async () => {
    dir ??= mkdtempSync(join(tmpdir(), 'ps-race-'));
  },
);
backend('Redis', () => REDIS_URL);
backend('Postgres', () => POSTGRES_URL);
