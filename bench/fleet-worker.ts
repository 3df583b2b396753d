/**
 * One process of the fleet benchmark (started by bench/fleet.ts as `node --import tsx
 * bench/fleet-worker.ts`). For each phase the parent sends, it builds its sessions over the shared
 * Redis store, reports `ready`, waits for `go` (so that every process starts at once), asks for every
 * account's token concurrently, and reports what happened.
 */
import { PersistentSession, UserSession, createTokenStore, forgeRemoteExchanger, type TokenStore } from '../lib/index.js';

/** A phase, as the parent describes it. */
export interface FleetPhase {
  kind: 'forge' | 'oauth';
  /** Whether the processes may use the store's cross-process lock (the baseline hides it). */
  locked: boolean;
  redisUrl: string;
  namespace: string;
  accounts: number;
  graphqlUrl: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  systemToken: string;
  contextAri: string;
}

/** What a worker reports after a phase. */
export interface FleetReport {
  type: 'done';
  worker: number;
  ms: number;
  ok: number;
  errors: Record<string, number>;
  /** UserSession only: tokens minted and adopted from the store by this process. */
  mints: number;
  adoptions: number;
}

type Message = { type: 'run'; phase: FleetPhase } | { type: 'go' } | { type: 'exit' };

const worker = Number(process.env.FLEET_WORKER ?? 0);
const send = (m: unknown) =>
  new Promise<void>((resolve) => {
    process.send!(m, () => resolve());
  });

/** The store as a process without the lock sees it: read, write and clear only. */
function withoutLock(store: TokenStore): TokenStore {
  return { read: (k) => store.read(k), write: (k, v) => store.write(k, v), clear: (k) => store.clear(k) };
}

let go: (() => void) | undefined;

async function runPhase(phase: FleetPhase): Promise<void> {
  const shared = createTokenStore(phase.redisUrl, { namespace: phase.namespace });
  const store = phase.locked ? shared : withoutLock(shared);
  const ids = Array.from({ length: phase.accounts }, (_, i) => `acct-${i}`);
  let call: (i: number) => Promise<string>;
  let users: UserSession | undefined;
  if (phase.kind === 'forge') {
    users = new UserSession({
      exchanger: forgeRemoteExchanger({ systemToken: phase.systemToken, contextAri: phase.contextAri, gatewayUrl: phase.graphqlUrl }),
      tokenStore: store,
    });
    const session = users;
    call = (i) => session.getAccessToken(ids[i]!);
  } else {
    const client = { tokenEndpoint: phase.tokenEndpoint, clientId: phase.clientId, clientSecret: phase.clientSecret };
    const sessions = ids.map((key) => new PersistentSession({ tokenStore: store, key, client }));
    call = (i) => sessions[i]!.getAccessToken();
  }
  await shared.keys(''); // connect before the start line
  const started = new Promise<void>((resolve) => {
    go = resolve;
  });
  await send({ type: 'ready', worker });
  await started;
  const t0 = performance.now();
  const errors: Record<string, number> = {};
  let ok = 0;
  await Promise.all(
    ids.map((_, i) =>
      call(i).then(
        () => {
          ok++;
        },
        (err: unknown) => {
          const e = err as { code?: string; error?: string };
          const code = `${e.code ?? 'Error'}${e.error === undefined ? '' : `/${e.error}`}`;
          errors[code] = (errors[code] ?? 0) + 1;
        },
      ),
    ),
  );
  const report: FleetReport = {
    type: 'done',
    worker,
    ms: performance.now() - t0,
    ok,
    errors,
    mints: users?.mints ?? 0,
    adoptions: users?.storeAdoptions ?? 0,
  };
  await shared.close();
  await send(report);
}

process.on('message', (m: Message) => {
  if (m.type === 'run') {
    runPhase(m.phase).catch(async (err: unknown) => {
      await send({ type: 'failed', worker, error: err instanceof Error ? err.stack : String(err) });
    });
  } else if (m.type === 'go') {
    go?.();
  } else if (m.type === 'exit') {
    process.disconnect();
    process.exit(0);
  }
});
void send({ type: 'up', worker });
