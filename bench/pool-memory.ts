/**
 * Benchmark pool-memory: heap bytes per idle cached grant of a SessionPool at 100,000 grants,
 * beyond the token strings.
 *
 * Every grant's key, access-token and refresh-token strings, and its record in an in-process store
 * (a Map of TokenInfo objects, no lock), exist before anything is measured; the pool then serves
 * each grant once (a fresh token: no HTTP). An idle cached grant is what the pool keeps once the
 * grant's session has been dropped (default: 1,000 live sessions): its cached access token. The
 * row with every session kept shows what a PersistentSession per grant would cost instead.
 */
import { randomBytes } from 'node:crypto';
import { SessionPool } from '../lib/session/session-pool.js';
import type { TokenStore } from '../lib/store/token-store.js';
import { validateTokenInfo, type TokenInfo } from '../lib/token/token-info.js';
import { seqStringBytes } from './memory.js';
import { fmtRatio, fullGC, type BenchResult, type Row } from './report.js';

const GRANTS = 100_000;
const HOUR = 3_600_000;
/** The goal per idle cached grant, in bytes beyond the token strings. */
const GOAL_BYTES = 300;

function flat(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

function heapUsed(): number {
  fullGC();
  return process.memoryUsage().heapUsed;
}

async function perGrant(build: () => Promise<unknown> | unknown): Promise<number> {
  const before = heapUsed();
  const kept = await build();
  const after = heapUsed();
  (globalThis as { benchKeep?: unknown }).benchKeep = kept;
  delete (globalThis as { benchKeep?: unknown }).benchKeep;
  return (after - before) / GRANTS;
}

/** Runs the pool-memory benchmark. */
export async function runPoolMemory(): Promise<BenchResult> {
  const keys = Array.from({ length: GRANTS }, (_, i) => flat(`customer:${i}`));
  const acquiredAtMS = Date.now();
  const records = new Map<string, TokenInfo>(
    keys.map((key) => [
      key,
      validateTokenInfo({
        accessToken: flat(`at_${randomBytes(24).toString('base64url')}`),
        refreshToken: flat(`rt_${randomBytes(24).toString('base64url')}`),
        accessTokenTTLMS: HOUR,
        acquiredAtMS,
        tokenType: 'Bearer',
      }),
    ]),
  );
  const store: TokenStore = {
    read: async (key) => records.get(key),
    write: async (key, info) => {
      records.set(key, info);
    },
    clear: async (key) => {
      records.delete(key);
    },
    keys: async (prefix = '') => [...records.keys()].filter((k) => k.startsWith(prefix)),
  };
  const client = { tokenEndpoint: 'http://127.0.0.1:1/oauth/token', clientId: 'bench', clientSecret: 'bench-secret' };
  const stringBytes = seqStringBytes(keys[0]!.length) + 2 * seqStringBytes(records.get(keys[0]!)!.accessToken.length);

  const fill = async (pool: SessionPool, n: number): Promise<SessionPool> => {
    for (let i = 0; i < n; i += 1_000) await Promise.all(keys.slice(i, Math.min(n, i + 1_000)).map((k) => pool.getAccessToken(k)));
    return pool;
  };
  // Baseline: the same key -> TokenInfo pairs in a bare Map (what any cache of these grants needs at least).
  const map = await perGrant(() => new Map(keys.map((k) => [k, { ...records.get(k)! }])));
  // The default: 1,000 live sessions, every grant's token cached (maxCachedTokens 100,000).
  const pool = await perGrant(async () => {
    const p = await fill(new SessionPool({ tokenStore: store, client }), GRANTS);
    if (p.cachedTokens !== GRANTS || p.size !== 1_000) throw new Error(`the pool holds ${p.cachedTokens} tokens, ${p.size} sessions`);
    return p;
  });
  const allSessions = await perGrant(() => fill(new SessionPool({ tokenStore: store, client, maxSessions: GRANTS }), GRANTS));
  const noCache = await perGrant(() => fill(new SessionPool({ tokenStore: store, client, maxCachedTokens: 0 }), GRANTS));

  const rows: Row[] = [
    { contender: 'baseline: Map<string, {…TokenInfo}> (key -> record copy)', 'B/grant beyond strings': map.toFixed(1), 'x Map': '1.00x' },
    {
      contender: 'ours: SessionPool defaults (1,000 sessions, every token cached)',
      'B/grant beyond strings': pool.toFixed(1),
      'x Map': fmtRatio(pool / map),
    },
    {
      contender: `ours: SessionPool, a session per grant (maxSessions ${GRANTS})`,
      'B/grant beyond strings': allSessions.toFixed(1),
      'x Map': fmtRatio(allSessions / map),
    },
    {
      contender: 'ours: SessionPool, maxCachedTokens 0 (1,000 sessions only)',
      'B/grant beyond strings': noCache.toFixed(1),
      'x Map': fmtRatio(noCache / map),
    },
  ];
  return {
    name: 'pool-memory',
    title: `Pool memory: heap bytes per idle cached grant at ${GRANTS.toLocaleString('en')} grants`,
    baseline: 'a bare Map holding a copy of each record (same strings), same run',
    tables: [
      {
        caption:
          `heap growth after full GC / ${GRANTS.toLocaleString('en')}; the key and token strings (~${stringBytes} B/grant)` +
          " and the store's records exist beforehand",
        rows,
      },
    ],
    goals: [
      {
        goal: `SessionPool <= ${GOAL_BYTES} B per idle cached grant beyond the token strings`,
        measured: `${pool.toFixed(1)} B/grant (${fmtRatio(pool / map)} the bare Map)`,
        met: pool <= GOAL_BYTES,
      },
    ],
    notes: [
      'an idle cached grant is one LRU entry (the settled promise of its access token and until when it is fresh);' +
        ' the 1,000 live sessions are spread over the 100,000 grants',
      'a PersistentSession per grant (its hot-path state, single flight, refusal and pending-write records, OAuth client,' +
        ` listeners, and the TokenInfo read back) costs ${allSessions.toFixed(0)} B/grant`,
    ],
    data: { perGrant: { map, pool, allSessions, noCache }, stringBytes },
  };
}
