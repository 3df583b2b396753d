// A strictly rotating server (the emulator, with reuse detection) answers a refresh with 200, a new refresh
// token and an unusable rest. The old refresh token is dead at the server from then on, so the session must
// keep the new one: the call still fails with the malformed answer's error, and the next call refreshes once
// with the new refresh token, never with the old one (which would be invalid_grant, and revoke the family).
import { inspect } from 'node:util';
import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { TokenRequestError } from '../../../lib/errors.js';
import { fingerprint } from '../../../lib/redact.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';
import { expectNoSecrets, recordSecret, rejection } from '../../support/secrets.js';

// No cooldown, so that the next call may refresh at once (the cooldown has its own spec: cooldown.spec.ts).
const OPTIONS = { refreshCooldownMS: 0 };

describe('PersistentSession: a malformed answer that rotated the refresh token', () => {
  let emu: Emulator;
  let store: KeyvTokenStore;
  beforeEach(async () => {
    emu = await emulator();
    store = new KeyvTokenStore();
  });
  afterEach(async () => {
    await store.close();
    await emu.close();
  });

  /** Refreshes once into `patch`; returns the error, the seeded tokens and the family's new refresh token. */
  async function malformedRefresh(
    patch: Record<string, unknown>,
    truncate?: number,
  ): Promise<{ err: TokenRequestError; tokenInfo: TokenInfo; rotated: string; session: ReturnType<typeof sessionFor> }> {
    const { tokenInfo, issued } = seed(emu, { expired: true });
    await store.write('default', tokenInfo);
    const session = sessionFor(emu, { tokenStore: store, ...OPTIONS });
    emu.inject('token', { patch, ...(truncate === undefined ? {} : { truncate }) });
    const err = (await rejection(session.getAccessToken())) as TokenRequestError;
    const rotated = emu.family(issued.familyId)!.currentRefreshToken!;
    recordSecret(rotated);
    // The rotation really happened at the server: the refresh token the session held is dead there.
    expect(rotated).to.not.equal(tokenInfo.refreshToken);
    expect(emu.tokenState(tokenInfo.refreshToken!)).to.equal('rotated');
    expect(err).to.be.instanceOf(TokenRequestError);
    expect(err.code).to.equal('ERR_TOKEN_REQUEST');
    expect(emu.counts.refresh).to.equal(1);
    return { err, tokenInfo, rotated, session };
  }

  /** The store holds `rotated` with an expired access token; the next call refreshes once with it, with no invalid_grant. */
  async function expectKept(session: ReturnType<typeof sessionFor>, rotated: string): Promise<void> {
    const stored = await store.read('default');
    expect(stored?.refreshToken).to.equal(rotated);
    expect(stored!.acquiredAtMS + stored!.accessTokenTTLMS).to.be.at.most(Date.now());
    const access = await token(session);
    expect(emu.counts.refresh).to.equal(2);
    expect(emu.counts.invalidGrant).to.equal(0);
    expect(emu.tokenState(access)).to.equal('active');
    expect(emu.tokenState(rotated)).to.equal('rotated');
    expect((await store.read('default'))?.accessToken).to.equal(access);
  }

  for (const expiresIn of [0, -5, '3600,0', 'abc', {}]) {
    it(`expires_in ${JSON.stringify(expiresIn)}: the new refresh token is stored, the next call refreshes with it`, async () => {
      const { err, rotated, session } = await malformedRefresh({ expires_in: expiresIn });
      expect(err.message).to.match(/malformed token response \(`expires_in` is not a positive number\)/);
      expect(err.transient).to.equal(false);
      await expectKept(session, rotated);
    });
  }

  for (const [what, accessToken] of [
    ['a missing', undefined],
    ['a numeric', 42],
    ['an empty', ''],
  ] as const) {
    it(`${what} access_token: the new refresh token is stored, the next call refreshes with it`, async () => {
      const { err, rotated, session } = await malformedRefresh({ access_token: accessToken });
      expect(err.message).to.match(/`access_token` is missing/);
      await expectKept(session, rotated);
    });
  }

  it('a still valid access token keeps serving after a forced refresh whose answer was malformed', async () => {
    const { tokenInfo, issued } = seed(emu);
    await store.write('default', tokenInfo);
    const session = sessionFor(emu, { tokenStore: store, ...OPTIONS });
    emu.inject('token', { patch: { expires_in: -5 } });
    const err = await rejection(session.getAccessToken({ forceRefresh: true }));
    expect(err).to.be.instanceOf(TokenRequestError);
    const rotated = emu.family(issued.familyId)!.currentRefreshToken!;
    recordSecret(rotated);
    const stored = await store.read('default');
    expect(stored).to.include({ accessToken: tokenInfo.accessToken, refreshToken: rotated, acquiredAtMS: tokenInfo.acquiredAtMS });
    expect(stored?.grant).to.include({ failures: 1, lastErrorCode: 'ERR_TOKEN_REQUEST', clientId: 'test-client' });
    expect(await token(session)).to.equal(tokenInfo.accessToken);
    expect(emu.counts.refresh).to.equal(1);
    const access = await token(session, { forceRefresh: true });
    expect(access).to.not.equal(tokenInfo.accessToken);
    expect(emu.counts).to.include({ refresh: 2, invalidGrant: 0 });
    expect((await store.read('default'))?.grant?.failures).to.equal(undefined);
  });

  it('a store outage keeps the new refresh token in memory; the next refresh uses it and is written over the stale record', async () => {
    const { tokenInfo, issued } = seed(emu, { expired: true });
    await store.write('default', tokenInfo);
    const writeIf = store.writeIf!.bind(store);
    let outage = true;
    store.writeIf = async (...args) => {
      if (outage) throw new Error('store down');
      return writeIf(...args);
    };
    const session = sessionFor(emu, { tokenStore: store, ...OPTIONS });
    emu.inject('token', { patch: { expires_in: 0 } });
    expect(await rejection(session.getAccessToken())).to.be.instanceOf(TokenRequestError);
    const rotated = emu.family(issued.familyId)!.currentRefreshToken!;
    recordSecret(rotated);
    expect((await store.read('default'))?.refreshToken).to.equal(tokenInfo.refreshToken);
    outage = false;
    const access = await token(session);
    expect(emu.counts).to.include({ refresh: 2, invalidGrant: 0 });
    expect(emu.tokenState(access)).to.equal('active');
    const stored = await store.read('default');
    expect(stored?.accessToken).to.equal(access);
    expect(stored?.refreshToken).to.equal(emu.family(issued.familyId)!.currentRefreshToken);
  });

  it('a body cut short after the new refresh token: not retried with the old one, the new one is stored', async () => {
    // `scope` left out, so that the body ends with the refresh token; the closing brace cut off.
    const { err, rotated, session } = await malformedRefresh({ scope: undefined }, 1);
    expect(err.message).to.match(/not valid JSON .* carries a new refresh token; not retried/);
    await expectKept(session, rotated);
  });

  it('a body cut short before any refresh token is still retried (the server may have a reuse grace window)', async () => {
    const { tokenInfo } = seed(emu, { expired: true });
    const session = sessionFor(emu, { tokenInfo, ...OPTIONS });
    emu.inject('token', { malformed: true });
    await token(session);
    expect(emu.counts.refresh).to.equal(2);
  });

  it('"3600.0", 1799.9995 and "90.25" are lifetimes in seconds, to the millisecond', async () => {
    for (const [expiresIn, ttlMS] of [
      ['3600.0', 3_600_000],
      [1799.9995, 1_800_000],
      ['90.25', 90_250],
    ] as const) {
      const { tokenInfo } = seed(emu, { expired: true });
      await store.write('default', tokenInfo);
      const session = sessionFor(emu, { tokenStore: store, ...OPTIONS });
      emu.inject('token', { patch: { expires_in: expiresIn } });
      const access = await token(session);
      const stored = await store.read('default');
      expect(stored?.accessToken).to.equal(access);
      expect(stored?.accessTokenTTLMS, String(expiresIn)).to.equal(ttlMS);
    }
    expect(emu.counts.invalidGrant).to.equal(0);
  });

  it("the error's response holds no live token, however it is printed", async () => {
    const { err, rotated } = await malformedRefresh({ expires_in: 'abc', id_token: 'eyJhbGciOi.live-id-token-value.sig' });
    // The answer's access token was usable (only its lifetime was not) and is live at the server: the one
    // access token of the emulator's state that is active.
    const live = JSON.stringify(emu.exportState()).match(/at_[A-Za-z0-9_-]{32}/g) ?? [];
    const active = [...new Set(live)].filter((t) => emu.tokenState(t) === 'active');
    expect(active).to.have.length(1);
    const access = active[0]!;
    recordSecret(access, 'eyJhbGciOi.live-id-token-value.sig');
    const response = err.response as Record<string, unknown>;
    expect(response.expires_in).to.equal('abc');
    expect(response.token_type).to.equal('Bearer');
    for (const field of ['access_token', 'refresh_token', 'id_token'])
      expect(response[field]).to.match(/^\[redacted sha256:[0-9a-f]{8}\]$/);
    expect(response.access_token).to.equal(`[redacted ${fingerprint(access)}]`);
    expect(response.refresh_token).to.equal(`[redacted ${fingerprint(rotated)}]`);
    expectNoSecrets(response, [rotated, access]);
    expectNoSecrets(inspect(err, { showHidden: true, depth: 10 }), [rotated, access]);
    expectNoSecrets(inspect(response, { showHidden: true, depth: 10 }), [rotated, access]);
    expectNoSecrets(JSON.stringify(response), [rotated, access]);
  });
});
