import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { expect } from 'chai';
import { KeyvTokenStore } from '../../lib/keyv-token-store.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';
import { freePort, pollUntil } from './helpers.js';
import { unavailable } from '../support/services.js';

const OPERATION_TIMEOUT_MS = 2_000;

const accepts = (port: number) => new Promise<boolean>((resolve) => {
  const socket = connect(port, '127.0.0.1');
  socket.once('connect', () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

describe('KeyvTokenStore on Redis: a real outage', function () {
  this.timeout(20_000);
  let server: ChildProcess | undefined;
  let port: number;

  const startServer = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    expect(await pollUntil(() => accepts(port), 5_000), `redis-server did not start on port ${port}`).to.equal(true);
  };
  const stopServer = async () => {
    const s = server!;
    if (s.exitCode === null && s.signalCode === null) {
      const exited = new Promise((r) => s.once('exit', r));
      s.kill('SIGKILL');
      await exited;
    }
  };

  before(function () {
    if (spawnSync('redis-server', ['--version']).error !== undefined) {
      unavailable(this, 'Redis outage test skipped: no redis-server binary on PATH');
    }
  });
  afterEach(async () => { if (server) await stopServer(); });

  it('rejects with ERR_TOKEN_STORE while Redis is down, then the same store works again once it is back', async () => {
    port = await freePort();
    await startServer();
    const store = new KeyvTokenStore(`redis://127.0.0.1:${port}`, { namespace: 'outage', operationTimeoutMS: OPERATION_TIMEOUT_MS });
    const info = sampleTokenInfo();
    await store.write('k', info);
    expect((await store.read('k'))!.accessToken).to.equal(info.accessToken);

    await stopServer();
    const ops = [() => store.read('k'), () => store.write('k', info), () => store.clear('k'), () => store.keys(), () => store.withLock!('k', async () => {})];
    for (const op of ops) {
      const started = performance.now();
      const err = await op().then(() => 'resolved', (e: unknown) => e);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      // Well inside the operation timeout: the client rejects at once instead of queueing the command.
      expect(performance.now() - started).to.be.below(OPERATION_TIMEOUT_MS / 2);
      expect((err as Error).message).not.to.include(info.accessToken);
    }

    await startServer();
    // The client reconnects in the background (backoff capped at 1 s); poll with a deadline.
    expect(await pollUntil(() => store.read('k').then(() => true, () => false), 5_000)).to.equal(true);
    // The restarted server kept nothing (--save ''): a genuine miss, reported as one.
    expect(await store.read('k')).to.equal(undefined);
    await store.write('k', info);
    expect((await store.read('k'))!.accessToken).to.equal(info.accessToken);
    expect(await store.withLock!('k', async () => 'locked')).to.equal('locked');
    await store.close();
  });
});
