import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startEmulator, type Emulator, type IssuedTokens } from '../lib/emulator/index.js';
import {
  PersistentSession,
  SESSION_EVENT_NAMES,
  SessionError,
  UserSession,
  authorizedFetch,
  createTokenStore,
  forgeRemoteExchanger,
  type KeyvTokenStore,
} from '../lib/index.js';
import { DIAGNOSTICS_CHANNEL_PREFIX } from '../lib/events.js';
import { expectNoSecrets, recordOutput, recordSecret } from '../spec/support/secrets.js';

/** Length of the soak in seconds; CI runs the full 60. */
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const WORKERS = 24;
const USERS = 40;

describe('soak: mixed traffic with 5% injected faults', function () {
  this.timeout((SOAK_SECONDS + 60) * 1000);
  let emu: Emulator;
  let dir: string;
  let store: KeyvTokenStore;
  before(async () => {
    emu = await startEmulator({ accessTokenTTLSeconds: 4, forge: { userTokenTTLSeconds: 6 } });
    dir = mkdtempSync(join(tmpdir(), 'ps-soak-'));
    store = createTokenStore(`sqlite://${join(dir, 'soak.sqlite')}`, { namespace: 'soak' });
  });
  after(async () => {
    await store.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`runs ${SOAK_SECONDS} s with 0 unhandled rejections, 0 bad tokens handed out, 0 lost refresh tokens, bounded heap`, async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'run with --expose-gc (reliability/.mocharc.json)').to.be.a('function');
    let unhandled = 0;
    const onUnhandled = () => {
      unhandled++;
    };
    process.on('unhandledRejection', onUnhandled);
    const events: unknown[] = [];
    const onEvent = (msg: unknown) => {
      if (events.length < 500) events.push(msg);
    };
    for (const name of SESSION_EVENT_NAMES) subscribe(`${DIAGNOSTICS_CHANNEL_PREFIX}${name}`, onEvent);

    const client = {
      tokenEndpoint: emu.tokenEndpoint,
      revocationEndpoint: emu.revocationEndpoint,
      clientId: 'test-client',
      clientSecret: 'test-secret',
    };
    const retry = { maxAttempts: 5, baseDelayMS: 20, maxDelayMS: 200, timeoutMS: 800 };
    const families: Array<{ key: string; issued: IssuedTokens; session: PersistentSession }> = [];
    for (const key of ['alpha', 'beta', 'gamma']) {
      const issued = emu.issueTokens();
      recordSecret(issued.accessToken, issued.refreshToken);
      const session = new PersistentSession({
        client,
        key,
        tokenStore: store,
        expiredBufferMS: 1_000,
        retry,
        tokenInfo: {
          accessToken: issued.accessToken,
          refreshToken: issued.refreshToken,
          accessTokenTTLMS: issued.expiresIn * 1000,
          acquiredAtMS: issued.acquiredAtMS,
        },
      });
      families.push({ key, issued, session });
    }
    const cloudId = randomUUID();
    const contextAri = `ari:cloud:jira::site/${cloudId}`;
    const systemToken = emu.forge.issueSystemToken({ contextAri, ttlSeconds: 3_600 });
    const users = new UserSession({
      exchanger: forgeRemoteExchanger({ systemToken, contextAri, gatewayUrl: emu.graphqlUrl, retry }),
      tokenStore: store,
      refreshBufferSeconds: 2,
      rateLimit: { perMinute: 100_000 },
    });
    const accounts = Array.from({ length: USERS }, (_, i) => `user-${i}`);

    emu.setRandomFaults('*', { rate: 0.05, kinds: ['5xx', 'reset', 'hang', 'malformed', '429', '401'], seed: 20261123, hangMS: 1_500 });

    const stats = {
      tokens: 0,
      badTokens: 0,
      apiCalls: 0,
      apiOK: 0,
      apiNetworkErrors: 0,
      errors: new Map<string, number>(),
      foreignErrors: 0,
    };
    const seen = new Set<string>();
    const handedOut = (token: string) => {
      if (!seen.has(token)) {
        seen.add(token);
        recordSecret(token);
      }
    };
    // authorizedFetch keeps fetch's contract: a network failure of the API call itself rejects with fetch's TypeError.
    const api = async (call: () => Promise<Response>) => {
      let res: Response;
      try {
        res = await call();
      } catch (err) {
        if (err instanceof TypeError) {
          stats.apiNetworkErrors++;
          return;
        }
        throw err;
      }
      await res.body?.cancel();
      stats.apiCalls++;
      if (res.status === 200) stats.apiOK++;
    };
    const fail = (err: unknown) => {
      if (!(err instanceof SessionError)) {
        stats.foreignErrors++;
        recordOutput(err);
        return;
      }
      stats.errors.set(err.code, (stats.errors.get(err.code) ?? 0) + 1);
      if ((stats.errors.get(err.code) ?? 0) <= 20) recordOutput(err);
    };
    let heapAfterWarmup = 0;
    const started = performance.now();
    const deadline = started + SOAK_SECONDS * 1000;
    const warmupAt = started + Math.min(10_000, SOAK_SECONDS * 200);
    const worker = async (n: number) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const useUser = (n + i) % 2 === 0;
        try {
          if (useUser) {
            const account = accounts[(n * 7 + i) % USERS]!;
            const token = await users.getAccessToken(account);
            stats.tokens++;
            if (emu.forge.userTokenState(token) !== 'active') stats.badTokens++;
            handedOut(token);
            await api(() => authorizedFetch(users.forUser(account), `${emu.productApiUrl(cloudId)}/rest/api/3/myself`));
          } else {
            const { session } = families[(n + i) % families.length]!;
            const token = await session.getAccessToken();
            stats.tokens++;
            if (emu.tokenState(token) !== 'active') stats.badTokens++;
            handedOut(token);
            await api(() => authorizedFetch(session, emu.resourceUrl));
          }
        } catch (err) {
          fail(err);
        }
        if (heapAfterWarmup === 0 && performance.now() >= warmupAt && n === 0) {
          gc!();
          heapAfterWarmup = process.memoryUsage().heapUsed;
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
    emu.setRandomFaults('*', undefined);
    // Let in-flight background work settle, then measure the heap.
    await new Promise((r) => setTimeout(r, 200));
    gc!();
    const heapAtEnd = process.memoryUsage().heapUsed;
    process.off('unhandledRejection', onUnhandled);
    for (const name of SESSION_EVENT_NAMES) unsubscribe(`${DIAGNOSTICS_CHANNEL_PREFIX}${name}`, onEvent);

    // Lost refresh tokens: each family is alive, never saw reuse, and the store holds its current refresh token.
    const lost: string[] = [];
    for (const { key, issued, session } of families) {
      const family = emu.family(issued.familyId)!;
      const stored = await store.read(key);
      if (family.revoked || family.reuseDetected || stored?.refreshToken !== family.currentRefreshToken) lost.push(key);
      recordSecret(stored?.accessToken, stored?.refreshToken, family.currentRefreshToken);
      // And the session still works.
      recordSecret(await session.getAccessToken());
    }
    const growth = (heapAtEnd - heapAfterWarmup) / heapAfterWarmup;
    const summary = {
      seconds: SOAK_SECONDS,
      tokens: stats.tokens,
      distinctTokens: seen.size,
      apiCalls: stats.apiCalls,
      apiOK: stats.apiOK,
      apiNetworkErrors: stats.apiNetworkErrors,
      refreshes: emu.counts.refresh,
      mints: emu.counts.mint,
      errors: Object.fromEntries(stats.errors),
      unhandled,
      badTokens: stats.badTokens,
      lost,
      heapAfterWarmupMB: +(heapAfterWarmup / 2 ** 20).toFixed(1),
      heapAtEndMB: +(heapAtEnd / 2 ** 20).toFixed(1),
      heapGrowthPct: +(growth * 100).toFixed(1),
    };
    process.stdout.write(`      soak: ${JSON.stringify(summary)}\n`);
    for (const e of events) expectNoSecrets(e);

    expect(unhandled, 'unhandled rejections').to.equal(0);
    expect(stats.foreignErrors, 'errors that are not SessionError').to.equal(0);
    expect(stats.badTokens, 'callers handed an expired or revoked token').to.equal(0);
    expect(lost, 'sessions whose refresh token was lost').to.deep.equal([]);
    expect(growth, 'heap growth after warm-up').to.be.below(0.1);
    expect(stats.tokens, 'traffic actually flowed').to.be.greaterThan(SOAK_SECONDS * 50);
    expect(emu.counts.refresh, 'refreshes happened under faults').to.be.greaterThan(SOAK_SECONDS / 4);
    expect(emu.counts.mint, 'mints happened under faults').to.be.greaterThan(USERS);
  });
});
