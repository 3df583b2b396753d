import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { expect } from 'chai';
import sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { ExpiredTokensError, SessionError } from '../../../lib/errors.js';
import { KeyvTokenStore, createTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';
import { recordSecret, rejection } from '../../support/secrets.js';

// Races between refresh, revoke and seed tokens, and hostile stores: no grant is lost, failures are
// typed errors, and getAccessToken() resolves with nothing but a token string.
describe('PersistentSession: races and hostile stores', () => {
  let emu: Emulator;
  let dir: string;
  beforeEach(async () => {
    emu = await emulator();
    dir = mkdtempSync(join(tmpdir(), 'ps-races-'));
  });
  afterEach(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a forced refresh refreshes even while ordinary callers keep starting flights (hot path disarmed by a store outage)', async () => {
    const { tokenInfo } = seed(emu);
    let writes = 0;
    // The first write fails (an outage), later ones succeed.
    const store: TokenStore = {
      read: async () => tokenInfo,
      write: async () => {
        if (writes++ === 0) throw new Error('store down');
      },
      clear: async () => {},
    };
    const session = sessionFor(emu, { tokenStore: store });
    expect(await session.getAccessToken()).to.equal(tokenInfo.accessToken);
    // A refresh whose write fails: the new token is kept in memory, unpersisted, and the hot path stays
    // disarmed (the write is tried again only a second later).
    expect(await rejection(session.getAccessToken({ forceRefresh: true }))).to.have.property('code', 'ERR_TOKEN_STORE');
    const held = await session.getAccessToken();
    let stop = false;
    const loop = async () => {
      while (!stop) await session.getAccessToken();
    };
    const loopers = [loop(), loop()];
    await null; // the loopers are between flights
    await null;
    const refreshesBefore = emu.counts.refresh;
    const forced = await session.getAccessToken({ forceRefresh: true });
    stop = true;
    await Promise.all(loopers);
    // Before: it kept joining the loopers' flights, which handed the held token back, and sent nothing.
    expect(forced).to.not.equal(held);
    expect(emu.counts.refresh - refreshesBefore).to.equal(1);
    expect(await session.getAccessToken()).to.equal(forced);
  });

  it('a hand-written store returning malformed records never makes getAccessToken resolve with a non-string', async () => {
    const { tokenInfo } = seed(emu);
    const records: unknown[] = [
      { accessToken: 12345, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() },
      { accessToken: tokenInfo.accessToken, refreshToken: tokenInfo.refreshToken, accessTokenTTLMS: '3600000', acquiredAtMS: Date.now() },
      'garbage',
      42,
      [],
    ];
    const warn = sinon.stub(process, 'emitWarning');
    for (const record of records) {
      const store: TokenStore = { read: async () => record as TokenInfo, write: async () => {}, clear: async () => {} };
      const session = sessionFor(emu, { tokenStore: store });
      const outcome = await session.getAccessToken().then(
        (v) => v,
        (e: unknown) => e,
      );
      if (typeof outcome !== 'string') expect(outcome).to.be.instanceOf(SessionError);
      expect(inspect(session)).to.not.include(tokenInfo.accessToken);
      expect(JSON.stringify(session)).to.not.include(tokenInfo.refreshToken!);
    }
    const codes = warn.getCalls().map((c) => (c.args[1] as { code?: string } | undefined)?.code);
    expect(codes.filter((c) => c === 'PERSISTENT_SESSION_INVALID_RECORD').length).to.be.at.least(records.length);
  });

  it('a store that throws a foreign error surfaces as TokenStoreError', async () => {
    const store: TokenStore = {
      read: async () => {
        JSON.parse('{"accessToken":"at_secret');
        return undefined;
      },
      write: async () => {},
      clear: async () => {},
    };
    const err = await rejection(sessionFor(emu, { tokenStore: store }).getAccessToken());
    expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
  });

  it('forceRefresh alongside a cold-start call still refreshes', async () => {
    const { tokenInfo } = seed(emu);
    const store = new KeyvTokenStore();
    await store.write('default', tokenInfo);
    const session = sessionFor(emu, { tokenStore: store });
    const [plain, forced] = await Promise.all([session.getAccessToken(), session.getAccessToken({ forceRefresh: true })]);
    recordSecret(forced);
    expect(plain).to.equal(tokenInfo.accessToken);
    expect(forced).to.not.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(1);
  });

  it('revokeTokens() during a refresh: the refresh keeps nothing and its new tokens are revoked too', async () => {
    const { tokenInfo } = seed(emu, { expired: true });
    const store = new KeyvTokenStore();
    const session = sessionFor(emu, { tokenInfo, tokenStore: store });
    emu.inject('token', { delayMS: 150 });
    const inFlight = session.getAccessToken().then(
      (v) => v,
      (e: unknown) => e,
    );
    await new Promise((r) => {
      setImmediate(r);
    });
    await session.revokeTokens();
    const outcome = await inFlight;
    expect(outcome).to.be.instanceOf(ExpiredTokensError);
    expect(await store.read('default')).to.equal(undefined);
    expect(await rejection(session.getAccessToken())).to.be.instanceOf(ExpiredTokensError);
    for (const family of emu.families()) expect(family.revoked).to.equal(true);
  });

  it('seed tokens passed on every start never overwrite a rotated refresh token in the store', async () => {
    const uri = `sqlite://${join(dir, 'restart.sqlite')}`;
    const { tokenInfo, issued } = seed(emu);
    const boot = () => ({ ...tokenInfo, acquiredAtMS: Date.now() });
    const store1 = createTokenStore(uri);
    await token(sessionFor(emu, { tokenStore: store1, tokenInfo: boot() }), { forceRefresh: true });
    const rotated = (await store1.read('default'))!.refreshToken;
    expect(rotated).to.not.equal(issued.refreshToken);
    await store1.close();
    const store2 = createTokenStore(uri);
    const run2 = sessionFor(emu, { tokenStore: store2, tokenInfo: boot() });
    expect(await token(run2)).to.not.equal(tokenInfo.accessToken);
    expect((await store2.read('default'))!.refreshToken).to.equal(rotated);
    await token(run2, { forceRefresh: true });
    expect(emu.counts.invalidGrant).to.equal(0);
    expect(emu.family(issued.familyId)!.revoked).to.equal(false);
    await store2.close();
  });

  it('a seed is tried when the stored grant is dead (a fresh authorization replaces a dead one)', async () => {
    const store = new KeyvTokenStore();
    const dead = seed(emu, { expired: true });
    emu.revokeToken(dead.issued.refreshToken);
    await store.write('default', dead.tokenInfo);
    const fresh = seed(emu, { expired: true });
    const session = sessionFor(emu, { tokenStore: store, tokenInfo: fresh.tokenInfo });
    const t = await token(session);
    expect(emu.tokenState(t)).to.equal('active');
    expect((await store.read('default'))!.refreshToken).to.equal(emu.family(fresh.issued.familyId)!.currentRefreshToken);
  });

  it('handleExpiredTokensError for a dead grant keeps a new grant another process stored meanwhile', async () => {
    const store = createTokenStore(`sqlite://${join(dir, 'handle.sqlite')}`);
    const dead = seed(emu, { expired: true });
    emu.revokeToken(dead.issued.refreshToken);
    await store.write('default', dead.tokenInfo);
    const worker = sessionFor(emu, { tokenStore: store });
    const err = await rejection(worker.getAccessToken());
    expect(err).to.be.instanceOf(ExpiredTokensError);
    const fresh = seed(emu);
    await store.write('default', fresh.tokenInfo);
    await worker.handleExpiredTokensError(err);
    expect((await store.read('default'))?.refreshToken).to.equal(fresh.issued.refreshToken);
    expect(await token(worker)).to.equal(fresh.issued.accessToken);
    await store.close();
  });

  it('an error with no status drops the access token but keeps the grant: one refresh, nothing lost', async () => {
    const { tokenInfo } = seed(emu);
    const store = new KeyvTokenStore();
    const session = sessionFor(emu, { tokenInfo, tokenStore: store });
    await token(session);
    await session.handleExpiredTokensError(new Error('token expired'));
    const next = await token(session);
    expect(next).to.not.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(1);
    expect((await store.read('default'))?.accessToken).to.equal(next);
  });

  it('a refresh whose answer was lost and whose retry is refused says so', async () => {
    const { tokenInfo } = seed(emu, { expired: true });
    const session = sessionFor(emu, { tokenInfo });
    emu.inject('token', { reset: true, afterHandling: true });
    const err = (await rejection(session.getAccessToken())) as ExpiredTokensError;
    expect(err).to.be.instanceOf(ExpiredTokensError);
    expect(err.message).to.match(/earlier attempt got no usable answer/);
    expect(emu.counts.refresh).to.equal(2);
  });
});
