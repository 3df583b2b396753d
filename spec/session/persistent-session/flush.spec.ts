import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { TokenStoreError } from '../../../lib/errors.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';
import { rejection } from '../../support/secrets.js';
import { outageStore } from '../session-pool/outage-store.js';

describe('PersistentSession.flush() and hasUnwrittenTokens', () => {
  let emu: Emulator;
  let inner: KeyvTokenStore;
  beforeEach(async () => {
    emu = await emulator();
    inner = new KeyvTokenStore();
  });
  afterEach(async () => {
    await inner.close();
    await emu.close();
  });

  it('keeps the tokens of a refresh the store refused, and writes them at flush() once the store is back', async () => {
    const outage = outageStore(inner);
    const { tokenInfo, issued } = seed(emu, { expired: true });
    await inner.write('default', tokenInfo);
    const session = sessionFor(emu, { tokenStore: outage.store });
    expect(session.hasUnwrittenTokens).to.equal(false);
    outage.down = true;
    expect(await rejection(session.getAccessToken())).to.be.instanceOf(TokenStoreError);
    expect(session.hasUnwrittenTokens).to.equal(true);
    const current = (): string | undefined => emu.family(issued.familyId)!.currentRefreshToken;
    expect((await inner.read('default'))?.refreshToken).to.equal(tokenInfo.refreshToken);
    expect(current()).to.not.equal(tokenInfo.refreshToken);

    // Still down: flush() rejects and the tokens stay in memory.
    const err = await rejection(session.flush());
    expect(err).to.be.instanceOf(TokenStoreError);
    expect((err as TokenStoreError).code).to.equal('ERR_TOKEN_STORE');
    expect(session.hasUnwrittenTokens).to.equal(true);

    outage.down = false;
    const writes = outage.writes;
    await session.flush();
    expect(outage.writes).to.equal(writes + 1);
    expect(session.hasUnwrittenTokens).to.equal(false);
    const stored = await inner.read('default');
    expect(stored?.refreshToken).to.equal(current());
    // Nothing left to write: no store call.
    await session.flush();
    expect(outage.writes).to.equal(writes + 1);
    // The store alone carries the grant on: another session refreshes with what it holds.
    await token(sessionFor(emu, { tokenStore: inner }), { forceRefresh: true });
    expect(emu.counts.invalidGrant).to.equal(0);
    expect(emu.counts.refresh).to.equal(2);
  });

  it('resolves at once for a session that never refreshed', async () => {
    const outage = outageStore(inner);
    outage.down = true;
    const session = sessionFor(emu, { tokenStore: outage.store });
    await session.flush();
    expect(outage.writes).to.equal(0);
    expect(session.hasUnwrittenTokens).to.equal(false);
  });
});
