/**
 * The emulator in a process of its own, for benchmarks whose latency figures should not include the
 * server's CPU time (a real token server runs elsewhere). Started by {@link startRemoteEmulator};
 * answers its parent's requests over the IPC channel.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  startEmulator,
  type Emulator,
  type EmulatorCounts,
  type EmulatorEndpoint,
  type EmulatorOptions,
  type Fault,
  type IssuedTokens,
} from '../lib/emulator/index.js';

type Request = { id: number; op: string; args: unknown[] };
type Reply = { id: number; result?: unknown; error?: string };

/** The parent's handle on an emulator running in a child process: the same calls, asynchronous. */
export interface RemoteEmulator {
  readonly url: string;
  readonly tokenEndpoint: string;
  readonly graphqlUrl: string;
  /** Seeds `n` token families, as `Emulator.issueTokens()` does. */
  issueTokens(n: number): Promise<IssuedTokens[]>;
  issueSystemToken(options: { contextAri: string; ttlSeconds?: number }): Promise<string>;
  counts(): Promise<EmulatorCounts>;
  resetCounts(): Promise<void>;
  inject(endpoint: EmulatorEndpoint, ...faults: Fault[]): Promise<void>;
  clearFaults(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the emulator in a child process (`node --import tsx`, plus `$BENCH_EMULATOR_NODE_ARGS`, e.g. `--cpu-prof`),
 * on a port of its own.
 */
export async function startRemoteEmulator(options: EmulatorOptions = {}): Promise<RemoteEmulator> {
  const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(options)], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_EMULATOR_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let exited = false;
  child.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error === undefined) p?.resolve(m.result);
    else p?.reject(new Error(`remote emulator: ${m.error}`));
  });
  child.on('exit', (code) => {
    exited = true;
    for (const p of pending.values()) p.reject(new Error(`remote emulator exited with code ${code}`));
    pending.clear();
  });
  const call = <T>(op: string, ...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      if (exited) {
        reject(new Error('remote emulator has exited'));
        return;
      }
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args } satisfies Request);
    });
  const urls = await call<{ url: string; tokenEndpoint: string; graphqlUrl: string }>('urls');
  return {
    ...urls,
    issueTokens: (n) => call('issueTokens', n),
    issueSystemToken: (o) => call('issueSystemToken', o),
    counts: () => call('counts'),
    resetCounts: () => call('resetCounts'),
    inject: (endpoint, ...faults) => call('inject', endpoint, ...faults),
    clearFaults: () => call('clearFaults'),
    async close() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      await call('close').catch(() => undefined);
      await gone;
    },
  };
}

async function serve(child: NodeJS.Process, options: EmulatorOptions): Promise<void> {
  const emu: Emulator = await startEmulator(options);
  const ops: Record<string, (...args: never[]) => unknown> = {
    urls: () => ({ url: emu.url, tokenEndpoint: emu.tokenEndpoint, graphqlUrl: emu.graphqlUrl }),
    issueTokens: (n: number) => Array.from({ length: n }, () => emu.issueTokens()),
    issueSystemToken: (o: { contextAri: string; ttlSeconds?: number }) => emu.forge.issueSystemToken(o),
    counts: () => ({ ...emu.counts }),
    resetCounts: () => emu.resetCounts(),
    inject: (endpoint: EmulatorEndpoint, ...faults: Fault[]) => emu.inject(endpoint, ...faults),
    clearFaults: () => emu.clearFaults(),
    close: async () => {
      await emu.close();
      setImmediate(() => child.disconnect());
    },
  };
  child.on('message', async (m: Request) => {
    try {
      const op = ops[m.op];
      if (op === undefined) throw new Error(`unknown op ${m.op}`);
      child.send!({ id: m.id, result: await (op as (...a: unknown[]) => unknown)(...m.args) } satisfies Reply);
    } catch (err) {
      child.send!({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply);
    }
  });
  child.on('disconnect', () => {
    void emu.close().then(() => process.exit(0));
  });
}

if (process.argv[2] === '--child') void serve(process, JSON.parse(process.argv[3] ?? '{}') as EmulatorOptions);
