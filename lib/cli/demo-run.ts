/**
 * The implementation of `persistent-session demo` (loaded only when the command runs): the library's main job, end to end,
 * against the emulator started in this process. A worker holds the app's OAuth grant (a PersistentSession seeded once and kept in
 * the store) and acts for N users through Forge offline impersonation (a UserSession over
 * `forgeRemoteExchanger`), with short token lifetimes and injected 401s and 429s, so that
 * refreshes, mints, recoveries and waits all happen within seconds. A second run on the same store
 * reuses what the first one persisted.
 *
 * @module
 */
import { dirname, basename, extname, join } from 'node:path';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator, type Emulator } from '../emulator/index.js';
import { ExpiredTokensError } from '../errors.js';
import { forgeRemoteExchanger } from '../forge/forge-remote-exchanger.js';
import type { KeyvTokenStore } from '../store/keyv-token-store.js';
import { PersistentSession } from '../session/persistent-session.js';
import { validateTokenInfo } from '../token/token-info.js';
import { DEFAULT_REFRESH_AHEAD_RATIO, refreshAheadFromMS } from '../session/held-token.js';
import { UserSession } from '../session/user-session.js';
import { authorizedFetch } from '../fetch/authorized-fetch.js';
import { println, type CliContext } from './context.js';
import { createProgress, printSummary } from './demo-report.js';
import { DemoWorker, type DemoStats } from './demo-worker.js';
import { readState, saveState, supportsState, withState } from './emulator-state.js';
import { DEFAULT_DEMO_STORE, type DemoFlags } from './demo-options.js';
import { checkStoreLocation, openStore, sqliteFile } from './store.js';

/** Store key of the app's OAuth grant. */
export const DEMO_APP_KEY = 'demo-app';
/** The demo site: fixed, so that user-token keys (`forge:<context>:<account>`) are the same in every run. */
export const DEMO_CLOUD_ID = '6d656d6f-0000-4000-8000-000000000001';
/** Context ARI of the demo site. */
export const DEMO_CONTEXT_ARI = `ari:cloud:jira::site/${DEMO_CLOUD_ID}`;
/** Installation of the demo app. */
export const DEMO_INSTALLATION_ID = 'ari:cloud:ecosystem::installation/6d656d6f-0000-4000-8000-000000000002';

/** Where the emulator's state is kept by default: next to a SQLite store (`demo.sqlite` → `demo.emulator.json`). */
export function defaultStateFile(store: string): string | undefined {
  const file = sqliteFile(store);
  return file === undefined ? undefined : join(dirname(file), `${basename(file, extname(file))}.emulator.json`);
}

/** Seeds the app's grant as if the user had just authorized it, and persists it. */
async function seedApp(emulator: Emulator, store: KeyvTokenStore): Promise<void> {
  const issued = emulator.issueTokens();
  await store.write(
    DEMO_APP_KEY,
    validateTokenInfo({
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      accessTokenTTLMS: issued.expiresIn * 1000,
      acquiredAtMS: issued.acquiredAtMS,
      scope: issued.scope,
      tokenType: 'Bearer',
    }),
  );
}

function appSession(emulator: Emulator, store: KeyvTokenStore): PersistentSession {
  return new PersistentSession({
    tokenStore: store,
    key: DEMO_APP_KEY,
    client: {
      tokenEndpoint: emulator.tokenEndpoint,
      revocationEndpoint: emulator.revocationEndpoint,
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
    },
  });
}

/**
 * The app's session, checked with one call. A grant the server refuses (`invalid_grant`: revoked,
 * or unknown to a server that forgot it) is re-seeded once, as a real worker would re-authorize.
 */
async function readyApp(emulator: Emulator, store: KeyvTokenStore, forceSeed: boolean, notes: string[]): Promise<PersistentSession> {
  let seeded = forceSeed || (await store.read(DEMO_APP_KEY)) === undefined;
  if (seeded) await seedApp(emulator, store);
  for (;;) {
    const app = appSession(emulator, store);
    try {
      const res = await authorizedFetch(app, emulator.resourceUrl);
      await res.arrayBuffer();
      if (res.ok) {
        notes.push(
          seeded ? 'app grant: seeded from the emulator and stored' : 'app grant: reused from the store (no new authorization needed)',
        );
        return app;
      }
      throw new Error(`the protected resource answered ${res.status} to a fresh app token`);
    } catch (err) {
      if (!(err instanceof ExpiredTokensError) || seeded) throw err;
      await app.handleExpiredTokensError(err);
      notes.push('app grant: the stored grant was refused by this emulator (it has no memory of the last run), so a new one was seeded');
      await seedApp(emulator, store);
      seeded = true;
    }
  }
}

/**
 * Which users' stored tokens are still valid now, and until when no mint for them is due: the start of
 * the soft window, where the session (with the default refreshAheadRatio) mints ahead by design.
 */
async function validStoredTokens(store: KeyvTokenStore, users: UserSession, bufferMS: number, nowMS: number): Promise<Map<string, number>> {
  const valid = new Map<string, number>();
  const prefix = `${users.namespace}:`;
  for (const key of await store.keys(prefix)) {
    const info = await store.read(key);
    if (info === undefined) continue;
    const until = refreshAheadFromMS(info, bufferMS, DEFAULT_REFRESH_AHEAD_RATIO);
    if (until > nowMS) valid.set(key.slice(prefix.length), until);
  }
  return valid;
}

/**
 * Runs the demo and prints its summary.
 * @returns 0 when no call failed for good, else 1
 */
export async function runDemo(ctx: CliContext, flags: DemoFlags): Promise<number> {
  // Before the emulator starts: a --store in a directory that does not exist is a usage error;
  // the default store's own directory is made on first use.
  const createDirectory = flags.store === DEFAULT_DEMO_STORE;
  checkStoreLocation(flags.store, { createDirectory });
  const notes: string[] = [];
  const stateFile = flags.emulatorState ?? defaultStateFile(flags.store);
  const saved = stateFile === undefined ? undefined : readState(stateFile);
  const emulator = await startEmulator(
    withState({ accessTokenTTLSeconds: flags.accessTtl / 1000, forge: { userTokenTTLSeconds: flags.userTtl / 1000 } }, saved),
  );
  let stats!: DemoStats;
  let ran = { elapsedMS: flags.duration, interrupted: false };
  try {
    const { store } = openStore(flags.store, { createDirectory });
    try {
      const app = await readyApp(emulator, store, flags.seed === true, notes);
      const systemToken = emulator.forge.issueSystemToken({ installationId: DEMO_INSTALLATION_ID, contextAri: DEMO_CONTEXT_ARI });
      const refreshBufferSeconds = Math.max(1, flags.userTtl / 5_000);
      const users = new UserSession({
        exchanger: forgeRemoteExchanger({ systemToken, contextAri: DEMO_CONTEXT_ARI, gatewayUrl: emulator.graphqlUrl }),
        // The emulator listens on a new port each run, and the default namespace includes the
        // gateway; a fixed one lets the second run find the first run's tokens.
        namespace: `demo:${DEMO_CONTEXT_ARI}`,
        tokenStore: store,
        refreshBufferSeconds,
      });
      const accountIds = Array.from({ length: flags.users }, (_, i) => `user-${String(i + 1).padStart(3, '0')}`);
      const wanted = new Set(accountIds);
      const validAtStart = new Map(
        [...(await validStoredTokens(store, users, refreshBufferSeconds * 1000, ctx.now()))].filter(([a]) => wanted.has(a)),
      );
      const worker = new DemoWorker({
        emulator,
        app,
        users,
        accountIds,
        validAtStart,
        productApiUrl: emulator.productApiUrl(DEMO_CLOUD_ID),
        concurrency: flags.concurrency,
        faults: flags.faults,
      });
      ({ stats, ...ran } = await runFor(ctx, worker, flags.duration));
    } finally {
      await store.close().catch(() => {});
    }
  } finally {
    if (stateFile !== undefined && supportsState(emulator)) {
      saveState(emulator, stateFile);
      notes.push(`emulator state: ${saved === undefined ? 'saved' : 'restored, and saved again'} to ${stateFile}`);
    } else if (!supportsState(emulator)) {
      notes.push(
        'emulator state: not saved (the emulator has no exportState() yet): the next run starts an emulator that refuses these tokens;' +
          ' the refusals count as 401s recovered, and refused tokens are not "still valid"',
      );
    }
    await emulator.close();
  }
  if (flags.json === true) {
    println(
      ctx.stdout,
      JSON.stringify(
        { users: flags.users, durationMS: ran.elapsedMS, interrupted: ran.interrupted, store: flags.store, ...stats, notes },
        null,
        2,
      ),
    );
  } else {
    printSummary(ctx, stats, {
      users: flags.users,
      durationMS: ran.interrupted ? ran.elapsedMS : flags.duration,
      interrupted: ran.interrupted,
      store: flags.store,
      notes,
    });
  }
  return stats.errors === 0 ? 0 : 1;
}

/** Runs the worker for `durationMS` (or until Ctrl+C), with live progress. */
async function runFor(
  ctx: CliContext,
  worker: DemoWorker,
  durationMS: number,
): Promise<{ stats: DemoStats; elapsedMS: number; interrupted: boolean }> {
  const controller = new AbortController();
  const started = ctx.now();
  const progress = createProgress(ctx, durationMS);
  const deadline = setTimeout(() => controller.abort(), durationMS);
  const ticker = setInterval(() => progress.update(ctx.now() - started, worker.stats()), 125);
  let interrupts = 0;
  const off = ctx.onSignal(() => {
    // First Ctrl+C: finish the jobs in flight and print the summary; second: leave at once.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  });
  try {
    const stats = await worker.run(controller.signal);
    return { stats, elapsedMS: ctx.now() - started, interrupted: interrupts > 0 };
  } finally {
    clearTimeout(deadline);
    clearInterval(ticker);
    progress.stop();
    off();
  }
}
