/**
 * Benchmark 5, restart: 10,000 valid user tokens sit in a SQLite file (written through the library's
 * KeyvTokenStore under the keys a UserSession uses); a fresh store and UserSession open the file and
 * ask for one user's token. Measures the time from opening to the first token, and the mints that
 * reach the emulated gateway (none should). Baselines, same run: a cold UserSession without a store,
 * which must mint over HTTP (fresh connection pool, as after a restart), and a bare @keyv/sqlite
 * open-and-get of the same record.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { Agent } from 'undici';
import { UserSession, createTokenStore, forgeRemoteExchanger, type TokenExchanger } from '../lib/index.js';
import { startEmulator } from '../lib/emulator/index.js';
import { fmtMS, fmtRatio, median, type BenchResult, type Row } from './report.js';

const USERS = 10_000;
const TRIALS = 7;
const HOUR = 3_600_000;
const SITE = 'ari:cloud:jira::site/bench-restart';

/** Runs benchmark 5. */
export async function runRestart(): Promise<BenchResult> {
  const emu = await startEmulator();
  const dir = mkdtempSync(join(tmpdir(), 'bench-restart-'));
  const uri = `sqlite://${join(dir, 'tokens.sqlite')}`;
  const systemToken = emu.forge.issueSystemToken({ contextAri: SITE });
  const agents: Agent[] = [];
  const exchanger = (fresh = false): TokenExchanger => {
    const dispatcher = fresh ? new Agent() : undefined;
    if (dispatcher !== undefined) agents.push(dispatcher);
    return forgeRemoteExchanger({
      systemToken,
      contextAri: SITE,
      gatewayUrl: emu.graphqlUrl,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
  };
  const namespace = exchanger().describe();
  const ids = Array.from({ length: USERS }, (_, i) => `acc-${i}`);

  // Before the restart: 10,000 valid tokens, written by the library under the UserSession's keys.
  const writeStarted = performance.now();
  const before = createTokenStore(uri);
  const now = Date.now();
  for (let i = 0; i < USERS; i += 500) {
    await Promise.all(
      ids.slice(i, i + 500).map((id) =>
        before.write(`${namespace}:${id}`, {
          accessToken: `ut_bench_${id}_${now}`,
          accessTokenTTLMS: HOUR,
          acquiredAtMS: now,
          tokenType: 'Bearer',
        }),
      ),
    );
  }
  await before.close();
  const writeMS = performance.now() - writeStarted;
  emu.resetCounts();

  // After the restart: a fresh store and session per trial, first token of a different user each time.
  const restart: number[] = [];
  let sessionMints = 0,
    adoptions = 0,
    sweepMS = 0,
    wrongTokens = 0;
  for (let t = 0; t < TRIALS; t++) {
    const id = ids[(t * 1_237) % USERS]!;
    const t0 = performance.now();
    const store = createTokenStore(uri);
    const session = new UserSession({ exchanger: exchanger(), tokenStore: store });
    const token = await session.getAccessToken(id);
    restart.push(performance.now() - t0);
    if (token !== `ut_bench_${id}_${now}`) wrongTokens++;
    if (t === 0) {
      // Every other user, once: all 10,000 come from the file.
      const s0 = performance.now();
      for (let i = 0; i < USERS; i += 500) await Promise.all(ids.slice(i, i + 500).map((u) => session.getAccessToken(u)));
      sweepMS = performance.now() - s0;
    }
    sessionMints += session.mints;
    adoptions += session.storeAdoptions;
    await store.close();
  }
  const gatewayMints = emu.counts.mint;

  // Baseline 1: a cold UserSession without a store mints (new connection pool: nothing survives a restart).
  const cold: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    const session = new UserSession({ exchanger: exchanger(true) });
    await session.getAccessToken(`cold-${t}`);
    cold.push(performance.now() - t0);
  }
  // Baseline 2: bare @keyv/sqlite, open the file and get one record.
  const bare: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    const raw = new KeyvSqlite({ uri });
    const value = await raw.get(`persistent-session:${namespace}:${ids[(t * 1_237) % USERS]!}`);
    bare.push(performance.now() - t0);
    if (value === undefined) wrongTokens++;
    await raw.disconnect();
  }
  await Promise.all(agents.map((a) => a.close()));
  await emu.close();
  rmSync(dir, { recursive: true, force: true });

  const first = median(restart),
    coldMedian = median(cold),
    bareMedian = median(bare);
  const row = (name: string, xs: number[]): Row => ({
    path: name,
    'first token (median)': fmtMS(median(xs)),
    'min..max': `${fmtMS(Math.min(...xs))}..${fmtMS(Math.max(...xs))}`,
    'x cold mint': fmtRatio(median(xs) / coldMedian),
    'x bare SQLite get': fmtRatio(median(xs) / bareMedian),
  });
  return {
    name: 'restart',
    title: `5. Restart: first token with ${USERS.toLocaleString('en')} valid tokens in SQLite`,
    baseline: 'a cold UserSession without a store that must mint over HTTP, and a bare @keyv/sqlite open + get, same run',
    tables: [
      {
        caption: `${TRIALS} restarts each (open store + new UserSession + first getAccessToken)`,
        rows: [
          row('ours: restart on the SQLite file', restart),
          row('baseline: cold UserSession, mints over HTTP', cold),
          row('baseline: bare @keyv/sqlite open + get', bare),
        ],
      },
    ],
    goals: [
      {
        goal: '0 mints after the restart',
        measured:
          `${gatewayMints} at the gateway, ${sessionMints} by the sessions; ${adoptions} tokens adopted from the file; ` +
          `${wrongTokens} wrong or missing`,
        met: gatewayMints === 0 && sessionMints === 0 && wrongTokens === 0,
      },
      {
        goal: 'first token within 5 ms of the restart',
        measured:
          `${fmtMS(first)} median, ${fmtMS(Math.max(...restart))} max (${fmtRatio(first / coldMedian)} a cold mint, ` +
          `${fmtRatio(first / bareMedian)} a bare SQLite get)`,
        met: first <= 5,
      },
    ],
    notes: [
      `writing the ${USERS.toLocaleString('en')} tokens took ${fmtMS(writeMS)}; after the first restart all ` +
        `${USERS.toLocaleString('en')} users got their token from the file in ${fmtMS(sweepMS)}, with no mint`,
      'restarts happen in this process (the SQLite native module is already loaded); a new process adds its own module loading before ' +
        'the first call',
    ],
    data: { restartMS: restart, coldMintMS: cold, bareSqliteMS: bare, writeMS, sweepMS, gatewayMints, sessionMints, adoptions },
  };
}
