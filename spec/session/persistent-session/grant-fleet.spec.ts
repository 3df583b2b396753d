// Grant health shared by a fleet, with real child processes on one SQLite file: a dead grant is sent to the
// server once and announced (grantDead) once across the fleet; and without any lock, in a server's 'fork'
// reuse grace window, the compare-and-swap write-back keeps every process on the stored grant.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { createTokenStore } from '../../../lib/store/keyv-token-store.js';
import { useFakeClock } from '../../support/clock.js';
import { emulator, seed } from '../../support/oauth.js';
import { exited, startWorker, type Worker } from '../../support/processes.js';
import { recordSecret } from '../../support/secrets.js';

const WORKER = 'spec/session/persistent-session/fixtures/grant-worker.ts';

interface Outcome {
  tokens: string[];
  count: number;
  errors: string[];
  grantDead: string[];
  refreshes: number;
  adoptions: number;
  exited?: number;
}

async function all(workers: Worker[], cmd: string): Promise<Outcome[]> {
  for (const w of workers) w.child.stdin!.write(`${cmd}\n`);
  const out = await Promise.all(workers.map(async (w) => JSON.parse(await w.nextLine()) as Outcome));
  for (const o of out) {
    expect(o.exited, JSON.stringify(o)).to.equal(undefined);
    for (const t of o.tokens) recordSecret(t);
  }
  return out;
}

describe('grant health across processes (real child processes, one SQLite file)', function () {
  this.timeout(90_000);
  let emu: Emulator;
  let dir: string;
  let workers: Worker[] = [];
  let clock: sinon.SinonFakeTimers | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-grant-'));
  });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => exited(w.child)));
    workers = [];
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string>) => {
    workers = Array.from({ length: 4 }, () => startWorker(WORKER, { TOKEN_ENDPOINT: emu.tokenEndpoint, ...env }));
    for (const w of workers) expect(await w.nextLine(), w.stderr()).to.equal('ready');
  };

  it(
    'a dead grant: 1 request with its refresh token, 1 grantDead across 4 processes, every caller an ExpiredTokensError with the ' +
      'reason',
    async () => {
      emu = await emulator();
      const uri = `sqlite://${join(dir, 'dead.sqlite')}`;
      const store = createTokenStore(uri, { namespace: 'dead' });
      const { tokenInfo } = seed(emu, { expired: true });
      emu.revokeToken(tokenInfo.refreshToken!);
      await store.write('shared', tokenInfo);
      await start({ STORE_URI: uri, STORE_NAMESPACE: 'dead', CALLERS: '25' });
      const first = await all(workers, 'go');
      const second = await all(workers, 'go');
      const deadRequests = emu.requests('token').filter((r) => r.body.refresh_token === tokenInfo.refreshToken).length;
      expect(deadRequests, 'requests carrying the dead refresh token').to.equal(1);
      expect(emu.counts.refresh).to.equal(1);
      expect(second.flatMap((o) => o.grantDead)).to.deep.equal(['invalid_grant']);
      for (const o of [...first, ...second]) {
        expect(o.count).to.equal(0);
        expect(o.errors).to.have.length(25);
        for (const e of o.errors) expect(e).to.match(/^ERR_EXPIRED_TOKENS/);
      }
      // Every caller of the second round learns why (the store's dead marker).
      for (const o of second) expect(new Set(o.errors)).to.deep.equal(new Set(['ERR_EXPIRED_TOKENS:invalid_grant']));
      const stored = (await store.read('shared')) as { refreshToken?: string; grant?: { dead?: { reason: string } } } | undefined;
      expect(stored?.grant?.dead?.reason).to.equal('invalid_grant');
      expect(stored?.refreshToken, 'the dead refresh token is not kept').to.equal(undefined);
      await store.close();
    },
  );

  it("a lease lost mid-refresh, 'fork' grace window: 0 forked families and 0 lost grants, every process on the stored grant", async () => {
    // Each holder pauses for 1.5 s between its token request and its write-back (a GC pause, a starved CPU):
    // its 1 s lease expires unrenewed, and the next process takes the lock and refreshes the same refresh token.
    clock = useFakeClock();
    emu = await emulator({ refreshTokenReuseGraceMS: 2_000, refreshTokenReuseMode: 'fork', refreshTokenIdleTTLMS: 3_000 });
    const uri = `sqlite://${join(dir, 'lease.sqlite')}`;
    const store = createTokenStore(uri, { namespace: 'lease' });
    const { tokenInfo } = seed(emu, { expired: true });
    await store.write('shared', tokenInfo);
    await start({ STORE_URI: uri, STORE_NAMESPACE: 'lease', STALL_IN_LOCK_MS: '1500', LOCK_TTL_MS: '1000' });
    for (let round = 0; round < 2; round++) {
      const out = await all(workers, 'force');
      for (const o of out) expect(o.errors, `round ${round}`).to.deep.equal([]);
    }
    expect(emu.counts.invalidGrant).to.equal(0);
    const forked = emu.family(tokenInfo.refreshToken!)?.forks ?? 0;
    expect(forked, 'the lost leases let two processes refresh one refresh token: the server forked the family').to.be.above(0);
    await clock.tickAsync(2_000);
    for (const w of workers) {
      const [o] = await all([w], 'force');
      expect(o!.errors).to.deep.equal([]);
    }
    await clock.tickAsync(1_500);
    expect(emu.grantStats()).to.include({ families: 1, forkedFamilies: 0, lostGrants: 0, revokedFamilies: 0 });
    expect(emu.counts.invalidGrant).to.equal(0);
    const stored = (await store.read('shared'))!;
    expect(emu.tokenState(stored.refreshToken!)).to.equal('active');
    expect(emu.family(stored.refreshToken!)?.liveRefreshTokens).to.equal(1);
    const last = await all(workers, 'token');
    for (const o of last) expect(emu.tokenState(o.tokens[0]!)).to.equal('active');
    await store.close();
  });

  it("no lock, 'fork' grace window: 0 forked families and 0 lost grants after 20 rounds, every process on the stored grant", async () => {
    // The emulator's clock is the fake one (this process); the workers run in real time. Every round happens
    // at one instant, inside the grace window: each concurrent reuse forks the family at the server.
    clock = useFakeClock();
    emu = await emulator({ refreshTokenReuseGraceMS: 2_000, refreshTokenReuseMode: 'fork', refreshTokenIdleTTLMS: 3_000 });
    const uri = `sqlite://${join(dir, 'grace.sqlite')}`;
    const store = createTokenStore(uri, { namespace: 'grace' });
    const { tokenInfo } = seed(emu, { expired: true });
    await store.write('shared', tokenInfo);
    await start({ STORE_URI: uri, STORE_NAMESPACE: 'grace', NO_LOCK: '1' });
    let adoptions = 0;
    for (let round = 0; round < 20; round++) {
      const out = await all(workers, 'force');
      for (const o of out) expect(o.errors, `round ${round}`).to.deep.equal([]);
      adoptions = out.reduce((n, o) => n + o.adoptions, 0);
    }
    expect(emu.counts.invalidGrant).to.equal(0);
    expect(adoptions, 'processes that lost the write adopted the stored tokens').to.be.above(0);
    // Later, each process refreshes once more, one after the other, on the stored branch; then the branches
    // nobody stored go idle and die, and only the stored one is left.
    await clock.tickAsync(2_000);
    for (const w of workers) {
      const [o] = await all([w], 'force');
      expect(o!.errors).to.deep.equal([]);
    }
    await clock.tickAsync(1_500);
    expect(emu.grantStats()).to.include({ families: 1, forkedFamilies: 0, lostGrants: 0, revokedFamilies: 0 });
    expect(emu.counts.invalidGrant).to.equal(0);
    const stored = (await store.read('shared'))!;
    expect(emu.tokenState(stored.refreshToken!)).to.equal('active');
    expect(emu.family(stored.refreshToken!)?.liveRefreshTokens).to.equal(1);
    // Every process serves a valid token, and the last one to refresh serves the stored one.
    const last = await all(workers, 'token');
    for (const o of last) expect(emu.tokenState(o.tokens[0]!)).to.equal('active');
    expect(last[3]!.tokens).to.deep.equal([stored.accessToken]);
    await store.close();
  });
});
