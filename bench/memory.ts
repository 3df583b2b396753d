/**
 * Benchmark 4, memory: heap bytes per cached user at 100,000 users, beyond the strings themselves.
 *
 * The account ids and tokens are allocated (as flat one-byte strings) before anything is measured,
 * and every contender holds those very strings, so the heap growth it causes is its own structure.
 * The exchanger is an in-process TokenExchanger (no HTTP), so the figure is the cache's. Heap is read
 * after full collections (node --expose-gc) before and after filling each contender.
 */
import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import { RateLimitQueue, UserSession, createTokenStore, type TokenExchanger } from '../lib/index.js';
import { googleClient } from './peers.js';
import { fmtRatio, fullGC, type BenchResult, type Row } from './report.js';

const USERS = 100_000;
const HOUR = 3_600_000;

/** A flat (sequential, one-byte) string, as a server's answer would be after parsing. */
function flat(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** V8's size of a sequential one-byte string on a 64-bit heap without pointer compression (Node's default): 16-byte header, padded to 8. */
export function seqStringBytes(length: number): number {
  return Math.ceil((16 + length) / 8) * 8;
}

function heapUsed(): number {
  fullGC();
  return process.memoryUsage().heapUsed;
}

/** Heap growth, per user, of what `build` returns (kept alive until measured). */
async function perUser(build: () => Promise<unknown> | unknown): Promise<number> {
  const before = heapUsed();
  const kept = await build();
  const after = heapUsed();
  (globalThis as { benchKeep?: unknown }).benchKeep = kept; // alive through the measurement
  delete (globalThis as { benchKeep?: unknown }).benchKeep;
  return (after - before) / USERS;
}

/** Runs benchmark 4. */
export async function runMemory(): Promise<BenchResult> {
  const base = heapUsed();
  const ids = Array.from({ length: USERS }, (_, i) => flat(`acc-${i}`));
  const tokens = Array.from({ length: USERS }, () => flat(`ut_${randomBytes(24).toString('base64url')}`));
  const stringsMeasured = (heapUsed() - base - 2 * 8 * USERS) / USERS; // minus the two arrays' slots
  const stringsComputed =
    (ids.reduce((s, t) => s + seqStringBytes(t.length), 0) + tokens.reduce((s, t) => s + seqStringBytes(t.length), 0)) / USERS;
  const acquiredAtMS = Date.now();
  const exchanger = (): TokenExchanger => ({
    describe: () => 'bench:memory',
    exchange: async (accountId) => ({
      accessToken: tokens[Number(accountId.slice(4))]!,
      accessTokenTTLMS: HOUR,
      acquiredAtMS,
      tokenType: 'Bearer',
    }),
  });
  const fill = async (session: UserSession) => {
    for (let i = 0; i < USERS; i += 1_000) await Promise.all(ids.slice(i, i + 1_000).map((id) => session.getAccessToken(id)));
    if (session.size !== USERS) throw new Error(`UserSession holds ${session.size} users, expected ${USERS}`);
    return session;
  };
  // A plain unbounded queue: the rate limiter's held slots (a timer per mint for a minute) are not the cache.
  const cacheOnly = () => new UserSession({ exchanger: exchanger(), queue: new PQueue({ concurrency: Number.POSITIVE_INFINITY }) });

  const map = await perUser(() => new Map(ids.map((id, i) => [id, tokens[i]!])));
  const ours = await perUser(() => fill(cacheOnly()));
  let storeStrings = 0;
  const withStore = await perUser(async () => {
    const store = createTokenStore();
    const session = await fill(
      new UserSession({ exchanger: exchanger(), tokenStore: store, queue: new PQueue({ concurrency: Number.POSITIVE_INFINITY }) }),
    );
    // Keyv keeps each record as a JSON string under a prefixed key: new strings, counted apart.
    for (const [k, v] of store.keyv.store as Map<string, unknown>)
      storeStrings += seqStringBytes(k.length) + (typeof v === 'string' ? seqStringBytes(v.length) : 0);
    return [session, store];
  });
  storeStrings /= USERS;
  // What the default rate limiter holds per mint for its window: one unref'd timer (against a bare one).
  const heldSlot = await perUser(async () => {
    const queue = new RateLimitQueue(USERS);
    for (let i = 0; i < USERS; i += 1_000) await Promise.all(ids.slice(i, i + 1_000).map((id) => queue.add(() => id)));
    if (queue.held !== USERS) throw new Error(`RateLimitQueue holds ${queue.held} slots, expected ${USERS}`);
    return queue;
  });
  const bareTimer = await perUser(() => ids.map(() => setTimeout(() => {}, HOUR).unref()));
  const google = await perUser(
    () =>
      new Map(
        ids.map((id, i) => [
          id,
          googleClient('http://127.0.0.1:1/oauth/token', { access_token: tokens[i]!, expiry_date: acquiredAtMS + HOUR }),
        ]),
      ),
  );

  const rows: Row[] = [
    { contender: 'baseline: Map<string, string> (id -> token)', 'B/user beyond strings': map.toFixed(1), 'x Map': '1.00x' },
    {
      contender: 'ours: UserSession, in-process cache (no store)',
      'B/user beyond strings': ours.toFixed(1),
      'x Map': fmtRatio(ours / map),
    },
    {
      contender: 'ours: UserSession + memory KeyvTokenStore (store records excluded)',
      'B/user beyond strings': (withStore - storeStrings).toFixed(1),
      'x Map': fmtRatio((withStore - storeStrings) / map),
    },
    {
      contender: 'google-auth-library: OAuth2Client per user, in a Map',
      'B/user beyond strings': google.toFixed(1),
      'x Map': fmtRatio(google / map),
    },
  ];
  return {
    name: 'memory',
    title: `4. Memory: heap bytes per cached user at ${USERS.toLocaleString('en')} users`,
    baseline: 'a bare Map<string, string> holding the same id and token strings, same run',
    tables: [
      {
        caption:
          `heap growth after full GC / ${USERS.toLocaleString('en')}; the ${stringsMeasured.toFixed(0)} B/user of id + token ` +
          `strings (computed ${stringsComputed.toFixed(0)}) are allocated beforehand and shared`,
        rows,
      },
    ],
    goals: [
      {
        goal: 'UserSession <= 200 B/user beyond the token strings',
        measured:
          `${ours.toFixed(1)} B/user (${fmtRatio(ours / map)} the bare Map; ` + `google ${google.toFixed(0)} B/user, historically 1,509)`,
        met: ours <= 200,
      },
    ],
    notes: [
      `with the memory KeyvTokenStore the heap grows ${withStore.toFixed(0)} B/user, of which ${storeStrings.toFixed(0)} B are Keyv's ` +
        `own JSON record and key strings (Keyv serialises even in memory)`,
      `the UserSession rows use a plain unbounded p-queue: the default rate limiter holds a slot per mint for 60 s, which is not cache ` +
        `memory; a held slot costs ${heldSlot.toFixed(0)} B (a bare unref'd setTimeout with a callback of its own: ` +
        `${bareTimer.toFixed(0)} B)`,
    ],
    data: {
      perUser: { map, ours, withStore, storeStrings, google, heldSlot, bareTimer },
      strings: { measured: stringsMeasured, computed: stringsComputed },
    },
  };
}
