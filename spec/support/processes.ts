import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process running a TypeScript fixture through tsx, speaking JSON lines on stdout. */
export interface Worker {
  child: ChildProcess;
  /** Resolves with the next stdout line. */
  nextLine(): Promise<string>;
  /** Everything written to stderr so far. */
  stderr(): string;
}

/** Starts `node --import tsx <script>` with extra environment. */
export function startWorker(script: string, env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (line) => {
    const w = waiters.shift();
    if (w) w(line);
    else queue.push(line);
  });
  child.on('exit', (code, signal) => {
    for (const w of waiters.splice(0)) w(JSON.stringify({ exited: code, signal, stderr: err.slice(-2000) }));
  });
  return {
    child,
    stderr: () => err,
    nextLine: () =>
      new Promise<string>((resolve) => {
        const l = queue.shift();
        if (l !== undefined) resolve(l);
        else waiters.push(resolve);
      }),
  };
}

/** Waits for a child to exit. */
export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
      });
}
