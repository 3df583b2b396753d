import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createTokenStore } from '../../lib/store/keyv-token-store.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';
import { runFixture, runId, unreachable } from './helpers.js';
import { unavailable } from '../support/services.js';
import { PrivateRedis, hasRedisServer } from '../support/redis-server.js';

const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
/** The acceptance bound: a process whose stores are idle ends within this of its last call. */
const EXIT_WITHIN_MS = 1_000;

describe('Idle stores never hold a process open', function () {
  this.timeout(30_000);
  let dir: string;
  before(async function () {
    for (const url of [REDIS_URL, POSTGRES_URL]) {
      const why = await unreachable(url);
      if (why !== undefined) unavailable(this, `idle-exit test skipped: ${url} is unreachable (${why})`);
    }
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-idle-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const neverClosed = 'a process that used Redis, Postgres and SQLite stores and never closed them';
  it(`${neverClosed} exits within ${EXIT_WITHIN_MS} ms of its last call`, async () => {
    const child = runFixture('idle-exit', [`idle-${runId()}`, REDIS_URL, POSTGRES_URL, `sqlite://${join(dir, 'tokens.sqlite')}`]);
    try {
      await child.waitForLine('last call', 20_000);
      const lastCall = performance.now();
      const { code } = await Promise.race([
        child.exit,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running after 5 s')), 5_000)),
      ]);
      const took = performance.now() - lastCall;
      expect(code, child.output()).to.equal(0);
      expect(took).to.be.below(EXIT_WITHIN_MS);
    } finally {
      child.child.kill('SIGKILL');
    }
  });

  it(
    `a process whose Redis went away while its store was idle still exits within ${EXIT_WITHIN_MS} ms (no reconnection timer holds ` +
      `it)`,
    async function () {
      if (!hasRedisServer()) unavailable(this, 'skipped: no redis-server binary on PATH');
      const redis = await PrivateRedis.start();
      const child = runFixture('idle-exit', [`idle-${runId()}`, redis.url], { PS_TEST_LINGER_MS: '500' });
      try {
        await child.waitForLine('last call', 20_000);
        await redis.stop();
        await child.waitForLine('done lingering', 5_000);
        const lastCall = performance.now();
        const { code } = await Promise.race([
          child.exit,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running after 5 s')), 5_000)),
        ]);
        expect(code, child.output()).to.equal(0);
        expect(performance.now() - lastCall).to.be.below(EXIT_WITHIN_MS);
      } finally {
        child.child.kill('SIGKILL');
        await redis.stop();
      }
    },
  );

  it('closes a store at the end of an `await using` block', async () => {
    let outside: ReturnType<typeof createTokenStore>;
    {
      await using store = createTokenStore(`sqlite://${join(dir, 'using.sqlite')}`);
      outside = store;
      await store.write('k', sampleTokenInfo());
    }
    const err = await outside.read('k').then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
    expect((err as Error).message).to.include('closed');
  });
});
