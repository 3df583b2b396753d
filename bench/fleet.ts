/**
 * Benchmark 6, the fleet: 4 processes ask at the same moment for the tokens of the same 1,000
 * accounts, sharing one Redis store (redis://127.0.0.1:6379, a namespace unique to the run).
 * Forge flow: one UserSession per process mints user tokens. OAuth flow: one PersistentSession per
 * account per process refreshes expired tokens whose refresh tokens rotate (reuse detection on).
 * Baseline, same run: the same processes with the store's cross-process lock hidden.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTokenStore } from '../lib/index.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator, type Emulator } from '../lib/emulator/index.js';
import type { FleetPhase, FleetReport } from './fleet-worker.js';
import { fmtMS, fmtRatio, type BenchResult, type Goal, type Row } from './report.js';

const WORKERS = 4;
const ACCOUNTS = 1_000;
const REDIS_URL = 'redis://127.0.0.1:6379';
const PHASE_TIMEOUT_MS = 90_000;
const HOUR = 3_600_000;
const SITE = 'ari:cloud:jira::site/bench-fleet';

type Inbound = Omit<Partial<FleetReport>, 'type'> & { type: string; worker?: number; error?: string };

/** A child and the messages it sent that nobody has taken yet. */
class Worker {
  readonly #inbox: Inbound[] = [];
  #wake: (() => void) | undefined;
  constructor(
    readonly child: ChildProcess,
    readonly index: number,
  ) {
    child.on('message', (m: Inbound) => {
      this.#inbox.push(m);
      this.#wake?.();
    });
    child.on('exit', (code) => {
      this.#inbox.push({ type: 'failed', error: `exited with code ${code}` });
      this.#wake?.();
    });
  }

  /** The next message of `type`; a `failed` message rejects. */
  async next(type: string): Promise<Inbound> {
    const deadline = Date.now() + PHASE_TIMEOUT_MS;
    for (;;) {
      const i = this.#inbox.findIndex((m) => m.type === type || m.type === 'failed');
      if (i >= 0) {
        const [m] = this.#inbox.splice(i, 1);
        if (m!.type === 'failed') throw new Error(`fleet worker ${this.index}: ${m!.error}`);
        return m!;
      }
      if (Date.now() > deadline) throw new Error(`fleet worker ${this.index}: no '${type}' within ${PHASE_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 1_000).unref();
      });
    }
  }
}

interface PhaseOutcome {
  name: string;
  flow: 'Forge mint' | 'OAuth refresh';
  locked: boolean;
  requests: number;
  invalidGrant: number;
  failed: number;
  errors: Record<string, number>;
  adoptions: number;
  wallMS: number;
}

async function clearNamespace(namespace: string): Promise<void> {
  const store = createTokenStore(REDIS_URL, { namespace });
  try {
    for (const key of await store.keys('')) await store.clear(key);
  } finally {
    await store.close();
  }
}

async function runPhase(emu: Emulator, workers: Worker[], phase: FleetPhase): Promise<PhaseOutcome> {
  if (phase.kind === 'oauth') {
    // Every account's tokens in the shared store: the access token expired, the refresh token valid (it rotates).
    const seed = createTokenStore(REDIS_URL, { namespace: phase.namespace });
    const now = Date.now();
    await Promise.all(
      Array.from({ length: ACCOUNTS }, (_, i) => {
        const t = emu.issueTokens();
        return seed.write(`acct-${i}`, {
          accessToken: t.accessToken,
          refreshToken: t.refreshToken,
          accessTokenTTLMS: HOUR,
          acquiredAtMS: now - 2 * HOUR,
        });
      }),
    );
    await seed.close();
  }
  emu.resetCounts();
  for (const w of workers) w.child.send({ type: 'run', phase });
  await Promise.all(workers.map((w) => w.next('ready')));
  for (const w of workers) w.child.send({ type: 'go' });
  const reports = (await Promise.all(workers.map((w) => w.next('done')))) as unknown as FleetReport[];
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  await clearNamespace(phase.namespace);
  return {
    name: `${phase.kind} ${phase.locked ? 'locked' : 'unlocked'}`,
    flow: phase.kind === 'forge' ? 'Forge mint' : 'OAuth refresh',
    locked: phase.locked,
    requests: phase.kind === 'forge' ? emu.counts.mint : emu.counts.refresh,
    invalidGrant: emu.counts.invalidGrant,
    failed: Object.values(errors).reduce((s, n) => s + n, 0),
    errors,
    adoptions: reports.reduce((s, r) => s + r.adoptions, 0),
    wallMS: Math.max(...reports.map((r) => r.ms)),
  };
}

/** Runs benchmark 6. */
export async function runFleet(): Promise<BenchResult> {
  const runId = `bench-fleet-${process.pid}-${Date.now()}`;
  const emu = await startEmulator();
  const workerFile = join(dirname(fileURLToPath(import.meta.url)), 'fleet-worker.ts');
  const workers = Array.from(
    { length: WORKERS },
    (_, i) =>
      new Worker(
        fork(workerFile, [], {
          execArgv: ['--import', 'tsx'],
          env: { ...process.env, FLEET_WORKER: String(i) },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
        i,
      ),
  );
  const outcomes: PhaseOutcome[] = [];
  try {
    await Promise.all(workers.map((w) => w.next('up')));
    const base = {
      redisUrl: REDIS_URL,
      accounts: ACCOUNTS,
      graphqlUrl: emu.graphqlUrl,
      tokenEndpoint: emu.tokenEndpoint,
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      systemToken: emu.forge.issueSystemToken({ contextAri: SITE, ttlSeconds: 24 * 3600 }),
      contextAri: SITE,
    };
    for (const [kind, locked] of [
      ['forge', true],
      ['forge', false],
      ['oauth', true],
      ['oauth', false],
    ] as const) {
      outcomes.push(
        await runPhase(emu, workers, { ...base, kind, locked, namespace: `${runId}:${kind}:${locked ? 'locked' : 'unlocked'}` }),
      );
    }
  } finally {
    for (const w of workers) if (w.child.connected) w.child.send({ type: 'exit' });
    await Promise.all(
      workers.map((w) =>
        w.child.exitCode !== null
          ? undefined
          : new Promise((resolve) => {
              w.child.once('exit', resolve);
              setTimeout(() => {
                w.child.kill();
                resolve(undefined);
              }, 5_000).unref();
            }),
      ),
    );
    await emu.close();
  }
  const rows: Row[] = outcomes.map((o) => ({
    flow: o.flow,
    'cross-process lock': o.locked ? 'yes (ours)' : 'hidden (baseline)',
    'upstream requests': o.requests,
    'x ideal': fmtRatio(o.requests / ACCOUNTS),
    invalid_grant: o.invalidGrant,
    'failed calls': o.failed,
    'adopted from store': o.adoptions,
    wall: fmtMS(o.wallMS),
  }));
  const forge = outcomes.find((o) => o.flow === 'Forge mint' && o.locked)!;
  const oauth = outcomes.find((o) => o.flow === 'OAuth refresh' && o.locked)!;
  const unlockedOf = (flow: string) => outcomes.find((o) => o.flow === flow && !o.locked)!;
  const goals: Goal[] = [
    {
      goal: `Forge mint: mints == accounts (${ACCOUNTS}) across ${WORKERS} processes`,
      measured:
        `${forge.requests} mints (${fmtRatio(forge.requests / ACCOUNTS)} ideal; without the lock ` +
        `${unlockedOf('Forge mint').requests}), ${forge.failed} failed calls`,
      met: forge.requests === ACCOUNTS && forge.failed === 0,
    },
    {
      goal: `OAuth refresh: refreshes == accounts (${ACCOUNTS}) and 0 invalid_grant across ${WORKERS} processes`,
      measured:
        `${oauth.requests} refreshes, ${oauth.invalidGrant} invalid_grant, ${oauth.failed} failed calls (without the lock: ` +
        `${unlockedOf('OAuth refresh').requests} refreshes, ${unlockedOf('OAuth refresh').invalidGrant} invalid_grant)`,
      met: oauth.requests === ACCOUNTS && oauth.invalidGrant === 0 && oauth.failed === 0,
    },
  ];
  return {
    name: 'fleet',
    title: `6. Fleet: ${WORKERS} processes x ${ACCOUNTS.toLocaleString('en')} accounts through Redis`,
    baseline: `the ideal of ${ACCOUNTS} upstream requests; the same processes with the store's cross-process lock hidden, same run`,
    tables: [{ caption: `${REDIS_URL}, namespace ${runId}:*, all ${WORKERS} processes start together (one barrier)`, rows }],
    goals,
    notes: outcomes.filter((o) => o.failed > 0).map((o) => `${o.name}: errors ${JSON.stringify(o.errors)}`),
    data: { outcomes },
  };
}
