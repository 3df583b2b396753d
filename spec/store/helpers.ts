import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';

/** Root of the repository (children run from there so that `--import tsx` resolves). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A child process running one of spec/store/fixtures through tsx. */
export interface Fixture {
  child: ChildProcess;
  /** Resolves once stdout has carried `line`; rejects when the child exits first or after `timeoutMS`. */
  waitForLine(line: string, timeoutMS?: number): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
}

/** Starts `node --import tsx spec/store/fixtures/<name>.ts ...args`, with extra environment; `stdin` gives it a pipe to read. */
export function runFixture(name: string, args: string[], env: Record<string, string> = {}, { stdin = false } = {}): Fixture {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'spec', 'store', 'fixtures', `${name}.ts`), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      for (const l of listeners) l();
    });
  });
  return {
    child,
    exit,
    output: () => out,
    waitForLine: (line, timeoutMS = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`fixture ${name}: no "${line}" within ${timeoutMS} ms; output: ${out}`));
        }, timeoutMS);
        const check = () => {
          const done = out.split('\n').includes(line);
          if (done || child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            listeners.delete(check);
            if (done) resolve();
            else reject(new Error(`fixture ${name} exited before "${line}"; output: ${out}`));
          }
        };
        listeners.add(check);
        check();
      }),
  };
}

/** Polls `probe` until it returns true; false when `deadlineMS` passes first. */
export async function pollUntil(probe: () => Promise<boolean>, deadlineMS: number, everyMS = 20): Promise<boolean> {
  const end = Date.now() + deadlineMS;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, everyMS));
  }
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Why a backend cannot be reached, or undefined when it answers. */
export async function unreachable(uri: string): Promise<string | undefined> {
  const store = new KeyvTokenStore(uri, { operationTimeoutMS: 3_000 });
  try {
    await store.keys();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await store.close().catch(() => {});
  }
}

/** A short random id that keeps test runs (and parallel runs) apart. */
export function runId(): string {
  return `${process.pid.toString(36)}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * Asserts that every operation of a store whose server does not listen fails at once with
 * ERR_TOKEN_STORE (ECONNREFUSED as cause): no hang until the operation timeout, no silent miss.
 */
export async function expectFailFast(
  uri: string,
  expectChai: Chai.ExpectStatic,
  sample: () => import('../../lib/token/token-info.js').TokenInfo,
): Promise<void> {
  const store = new KeyvTokenStore(uri, { operationTimeoutMS: 5_000 });
  const ops = [
    () => store.read('k'),
    () => store.write('k', sample()),
    () => store.clear('k'),
    () => store.keys(),
    () => store.withLock!('k', async () => {}),
    () => store.read('k'),
  ];
  for (const op of ops) {
    const started = performance.now();
    const err = await op().then(
      () => 'resolved',
      (e: unknown) => e,
    );
    // Far below the 5 s operation timeout: the client refuses at once instead of queueing.
    expectChai(performance.now() - started).to.be.below(1_000);
    expectChai(err).to.have.property('code', 'ERR_TOKEN_STORE');
    expectChai(String((err as Error).cause ?? err)).to.match(/ECONNREFUSED/);
  }
  await store.close();
}
