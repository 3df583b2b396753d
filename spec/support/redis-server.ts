import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort, pollUntil } from '../store/helpers.js';

/** Whether a `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).error === undefined;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * A private, disposable redis-server on a free loopback port (keeps nothing on disk), for tests that
 * stop and restart Redis without touching the machine's shared server.
 */
export class PrivateRedis {
  #server: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  /** Picks a free port and starts the server. */
  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on the same port and waits until it accepts connections. */
  async start(): Promise<void> {
    this.#server = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    if (!(await pollUntil(() => accepts(this.port), 5_000))) throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** Kills the server (SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    const s = this.#server;
    if (s !== undefined && s.exitCode === null && s.signalCode === null) {
      const gone = new Promise((r) => s.once('exit', r));
      s.kill('SIGKILL');
      await gone;
    }
  }
}
