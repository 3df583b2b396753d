// Helpers for the CLI specs: the command runs as a real subprocess, exactly as a user runs it
// without a build (`node --import tsx lib/cli/main.ts …`).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The entry point under test. */
export const MAIN = 'lib/cli/main.ts';

/** What a finished run returned. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a run: no colour, no inherited store default. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.PERSISTENT_SESSION_STORE;
  delete env.FORCE_COLOR;
  return env;
}

/** Starts the CLI; the caller reads and ends it. */
export function startCli(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: cliEnv(env) });
}

/** Collects a child's output until it exits. */
export function finished(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Runs the CLI to the end.
 * @param args - the arguments after `persistent-session`
 * @param env - extra environment variables
 * @param timeoutMS - kill it after this long
 */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMS = 30_000): Promise<CliResult> {
  const child = startCli(args, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMS);
  try {
    return await finished(child);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the output so far once `pattern` appears on stdout (or rejects when the child exits first). */
export function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMS = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}; got: ${seen}`));
    }, timeoutMS);
    const onData = (chunk: Buffer | string) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        cleanup();
        resolve(seen);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`exited before ${pattern}; got: ${seen}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/** The number on a summary row of `demo` (`  tokens minted   23`). */
export function summaryValue(stdout: string, label: string): number {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^\\s+${escaped}\\s+([\\d,]+)\\s*$`, 'm').exec(stdout);
  if (match === null) throw new Error(`no "${label}" row in:\n${stdout}`);
  return Number(match[1]!.replace(/,/g, ''));
}

/**
 * Runs the program in this process, with in-memory streams (no colour): for the many variants of
 * bad input, which need no subprocess each.
 */
export async function runInProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean },
): Promise<CliResult> {
  const { run } = await import('../../lib/cli/program.js');
  const { styleFor } = await import('../../lib/cli/format.js');
  let stdout = '';
  let stderr = '';
  const out = {
    isTTY: false,
    write: (t: string) => {
      stdout += t;
      return true;
    },
  };
  const err = {
    isTTY: false,
    write: (t: string) => {
      stderr += t;
      return true;
    },
  };
  const code = await run(['node', 'persistent-session', ...args], {
    stdout: out,
    stderr: err,
    out: styleFor(out, env),
    err: styleFor(err, env),
    env,
    now: Date.now,
    onSignal: () => () => {},
    ...(stdin === undefined ? {} : { stdin }),
  });
  return { code, signal: null, stdout, stderr };
}
