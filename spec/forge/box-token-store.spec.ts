// fromBoxTokenStore: a box-node-sdk 3.x callback store as a TokenStore. The same PersistentSession
// scenario runs over it and over the native MemoryStore; results and emulator counts must match.
import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import {
  TokenStoreError,
  authorizedFetch,
  fromBoxTokenStore,
  validateTokenInfo,
  type BoxStyleTokenStore,
  type BoxTokenInfo,
  type TokenInfo,
  type TokenStore,
} from '../../lib/index.js';
import { MemoryStore } from '../../lib/store/memory-store.js';
import { fakeClock } from '../emulator/support.js';
import { seed, sessionFor } from '../support/oauth.js';
import { recordSecret } from '../support/secrets.js';

/** A Box-style store as box-node-sdk users write them: one token set, callbacks, asynchronous answers. */
class CallbackStore implements BoxStyleTokenStore {
  held: unknown;
  failNext: Error | undefined;
  calls: string[] = [];
  read(cb: (err: Error | null, info?: BoxTokenInfo | null) => void): void {
    this.calls.push('read');
    const fail = this.failNext;
    this.failNext = undefined;
    setImmediate(() => (fail === undefined ? cb(null, this.held as BoxTokenInfo | null) : cb(fail)));
  }
  write(info: BoxTokenInfo, cb: (err?: Error | null) => void): void {
    this.calls.push('write');
    this.held = JSON.parse(JSON.stringify(info));
    setImmediate(() => cb(null));
  }
  clear(cb: (err?: Error | null) => void): void {
    this.calls.push('clear');
    this.held = undefined;
    setImmediate(() => cb());
  }
}

async function run(emulator: Emulator, tokenStore: TokenStore, clock: sinon.SinonFakeTimers): Promise<unknown[]> {
  const seen: unknown[] = [];
  const { tokenInfo } = seed(emulator, { ttlSeconds: 600 });
  await tokenStore.write('default', tokenInfo);
  const session = sessionFor(emulator, { tokenStore });
  const first = await session.getAccessToken();
  recordSecret(first);
  seen.push(['seeded token served', first === tokenInfo.accessToken]);
  await clock.tickAsync(500_000); // within expiredBufferMS of expiry: refresh
  const second = await session.getAccessToken();
  recordSecret(second);
  seen.push(['refreshed', second !== first]);
  const stored = await tokenStore.read('default');
  seen.push(['store holds the new pair', stored?.accessToken === second, stored?.refreshToken !== tokenInfo.refreshToken]);
  const res = await authorizedFetch(session, emulator.resourceUrl);
  seen.push(['resource', res.status]);
  await session.revokeTokens();
  seen.push(['revoked, store empty', await tokenStore.read('default')]);
  return seen;
}

describe('fromBoxTokenStore (box-node-sdk 3.x TokenStore) vs. the native store', () => {
  let emulator: Emulator;
  afterEach(async () => {
    sinon.restore();
    await emulator?.close();
  });

  it('the same PersistentSession scenario gives the same results and the same token-endpoint traffic', async () => {
    const results: Array<{ seen: unknown[]; counts: object }> = [];
    const box = new CallbackStore();
    for (const store of [fromBoxTokenStore(box), new MemoryStore()]) {
      const clock = fakeClock();
      emulator = await startEmulator();
      const seen = await run(emulator, store, clock);
      results.push({ seen, counts: { ...emulator.counts } });
      await emulator.close();
      sinon.restore();
    }
    expect(results[0]).to.deep.equal(results[1]);
    expect(results[0]!.seen).to.deep.equal([
      ['seeded token served', true],
      ['refreshed', true],
      ['store holds the new pair', true, true],
      ['resource', 200],
      ['revoked, store empty', undefined],
    ]);
    expect(results[0]!.counts).to.include({ refresh: 1, revoke: 1 });
    expect(box.calls).to.include.members(['read', 'write', 'clear']);
  });

  it("writes Box's tokenInfo fields, so the store stays readable by box-node-sdk", async () => {
    const box = new CallbackStore();
    const store = fromBoxTokenStore(box);
    const fields = { accessToken: 'at-box-1', refreshToken: 'rt-box-1', accessTokenTTLMS: 3_600_000, acquiredAtMS: 1_700_000_000_000 };
    await store.write('default', validateTokenInfo(fields));
    expect(box.held).to.include(fields);
    expect(await store.read('default')).to.deep.include({ accessToken: 'at-box-1' });
  });

  it('keeps the grant health: it travels in the tokenInfo the Box store holds, and reads back', async () => {
    const box = new CallbackStore();
    const store = fromBoxTokenStore(box);
    const grant = { failures: 2, lastErrorCode: 'ERR_TOKEN_REQUEST', dead: { reason: 'invalid_grant' as const, atMS: 1_700_000_000_500 } };
    const info = { accessToken: 'at-box-2', refreshToken: 'rt-box-2', accessTokenTTLMS: 3_600_000, acquiredAtMS: 1_700_000_000_000, grant };
    await store.write('default', validateTokenInfo(info));
    expect((box.held as { grant?: unknown }).grant).to.deep.equal(grant);
    expect({ ...(await store.read('default')) }).to.deep.equal(info);
  });

  it('errors become TokenStoreError; other keys read as absent, refuse writes; a bad record reads as absent, warned', async () => {
    const box = new CallbackStore();
    const store = fromBoxTokenStore(box, { key: 'box:user-1' });
    box.failNext = new Error('disk on fire');
    const err = await store.read('box:user-1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TokenStoreError);
    expect((err as TokenStoreError).key).to.equal('box:user-1');
    const thrower = fromBoxTokenStore({
      read: () => {
        throw new Error('sync');
      },
      write: (_i, cb) => cb(),
      clear: (cb) => cb(),
    });
    expect(
      await thrower.read('default').then(
        () => 'ok',
        (e: unknown) => e instanceof TokenStoreError,
      ),
    ).to.equal(true);
    expect(await store.read('other')).to.equal(undefined);
    const record = { accessToken: 'x', accessTokenTTLMS: 1, acquiredAtMS: 1 } as TokenInfo;
    const refused = await store.write('other', record).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).to.be.instanceOf(TokenStoreError);
    box.held = { accessToken: '', acquiredAtMS: 'yesterday' };
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => {
      warnings.push(w.code ?? '');
    };
    process.on('warning', onWarning);
    try {
      expect(await store.read('box:user-1')).to.equal(undefined);
      await new Promise((resolve) => {
        setImmediate(resolve);
      });
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).to.include('PERSISTENT_SESSION_INVALID_RECORD');
    expect(() => fromBoxTokenStore({ read: 1 } as never)).to.throw(/store\.read/);
  });
});
