import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { createTokenStore } from '../../../lib/store/keyv-token-store.js';
import { waitFor } from '../../support/clock.js';
import { emulator, seed } from '../../support/oauth.js';
import { exited, startWorker, type Worker } from '../../support/processes.js';
import { recordSecret } from '../../support/secrets.js';

const WORKER = 'spec/session/persistent-session/fixtures/session-worker.ts';
const REDIS_URI = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URI = process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

interface WorkerResult {
  tokens: string[];
  count: number;
  errors: string[];
  nonStrings: number;
  ms: number;
  refreshes: number;
}

describe('cross-process refresh (real child processes)', function () {
  this.timeout(60_000);
  let emu: Emulator;
  let dir: string;
  beforeEach(async () => {
    emu = await emulator({ reuseDetection: true, rotateRefreshTokens: true });
    dir = mkdtempSync(join(tmpdir(), 'ps-xproc-'));
  });
  afterEach(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const backends: Array<[string, () => string]> = [
    ['SQLite', () => `sqlite://${join(dir, 'shared.sqlite')}`],
    ['Redis', () => REDIS_URI],
    ['Postgres', () => POSTGRES_URI],
  ];

  for (const [name, uri] of backends) {
    it(`${name}: 4 processes x 100 callers on one expired rotating token make exactly 1 refresh`, async () => {
      const namespace = `xproc-${randomUUID()}`;
      const store = createTokenStore(uri(), { namespace });
      const { tokenInfo } = seed(emu, { expired: true });
      await store.write('shared', tokenInfo);
      const workers: Worker[] = Array.from({ length: 4 }, () =>
        startWorker(WORKER, {
          STORE_URI: uri(),
          STORE_NAMESPACE: namespace,
          TOKEN_ENDPOINT: emu.tokenEndpoint,
          CALLERS: '100',
        }),
      );
      try {
        for (const w of workers) expect(await w.nextLine(), w.stderr()).to.equal('ready');
        for (const w of workers) w.child.stdin!.write('go\n');
        const results = await Promise.all(workers.map(async (w) => JSON.parse(await w.nextLine()) as WorkerResult & { exited?: number }));
        for (const r of results) expect(r.exited, JSON.stringify(r)).to.equal(undefined);
        const all = results.flatMap((r) => r.tokens);
        for (const t of all) recordSecret(t);
        expect(results.flatMap((r) => r.errors)).to.deep.equal([]);
        expect(results.reduce((n, r) => n + r.count, 0)).to.equal(400);
        expect(results.reduce((n, r) => n + r.nonStrings, 0)).to.equal(0);
        expect(new Set(all).size, 'all 400 callers hold the same token').to.equal(1);
        expect(all[0]).to.not.equal(tokenInfo.accessToken);
        expect(emu.counts.refresh).to.equal(1);
        expect(emu.counts.invalidGrant).to.equal(0);
        expect((await store.read('shared'))?.accessToken).to.equal(all[0]);
      } finally {
        for (const w of workers) w.child.kill('SIGKILL');
        await Promise.all(workers.map((w) => exited(w.child)));
        await store.clear('shared').catch(() => {});
        await store.close();
      }
    });
  }

  it('a lock holder killed with SIGKILL mid-refresh delays the others by at most the lease ttl', async () => {
    const uri = `sqlite://${join(dir, 'kill.sqlite')}`;
    const namespace = 'kill';
    const store = createTokenStore(uri, { namespace });
    const { tokenInfo } = seed(emu, { expired: true });
    await store.write('shared', tokenInfo);
    const LEASE = 2_000;
    const env = {
      STORE_URI: uri,
      STORE_NAMESPACE: namespace,
      TOKEN_ENDPOINT: emu.tokenEndpoint,
      CALLERS: '10',
      LOCK_TTL_MS: String(LEASE),
      TIMEOUT_MS: '20000',
    };
    // The holder's refresh hangs at the server, so it is inside the lock when it dies.
    emu.inject('token', { hang: true });
    const holder = startWorker(WORKER, env);
    const waiter = startWorker(WORKER, env);
    try {
      expect(await holder.nextLine(), holder.stderr()).to.equal('ready');
      expect(await waiter.nextLine(), waiter.stderr()).to.equal('ready');
      holder.child.stdin!.write('go\n');
      await waitFor(() => emu.counts.refresh === 1, 'holder refresh reached the server', 10_000);
      waiter.child.stdin!.write('go\n');
      const killedAt = performance.now();
      holder.child.kill('SIGKILL');
      const result = JSON.parse(await waiter.nextLine()) as WorkerResult;
      const delay = performance.now() - killedAt;
      for (const t of result.tokens) recordSecret(t);
      expect(result.errors).to.deep.equal([]);
      expect(result.tokens).to.have.length(1);
      expect(emu.counts.refresh).to.equal(2);
      expect(emu.counts.invalidGrant).to.equal(0);
      expect(delay, `waiter recovered ${Math.round(delay)} ms after the kill`).to.be.below(LEASE + 1_500);
      expect((await store.read('shared'))?.accessToken).to.equal(result.tokens[0]);
    } finally {
      holder.child.kill('SIGKILL');
      waiter.child.kill('SIGKILL');
      await Promise.all([exited(holder.child), exited(waiter.child)]);
      await store.close();
    }
  });
});
