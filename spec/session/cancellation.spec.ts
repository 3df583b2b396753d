// Cancellation: an abort rejects that caller at once with `signal.reason`; the refresh or mint it was
// waiting on is shared, so it goes on, and the other callers get its token. The token endpoint is
// delayed at the emulator, so every aborted caller settles while the request is still on the wire.
import { expect } from 'chai';
import type { Emulator } from '../../lib/emulator/index.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { emulator, seed, sessionFor, token } from '../support/oauth.js';
import { recordSecret, rejection } from '../support/secrets.js';
import { startForge, userToken, type Forge } from './user-session/support.js';

/** Runs the calls and notes the order in which groups of them settle. */
function tracker() {
  const settled: string[] = [];
  const note = <T>(name: string, p: Promise<T>): Promise<T> =>
    p.finally(() => {
      settled.push(name);
    });
  return { settled, note };
}

describe('cancellation: an abort rejects its own caller only', () => {
  describe('PersistentSession', () => {
    let emu: Emulator;
    beforeEach(async () => {
      emu = await emulator();
    });
    afterEach(async () => {
      await emu.close();
    });

    it('getAccessToken({ signal }): the aborted caller rejects at once; the others get the token of the one refresh', async () => {
      const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true }).tokenInfo });
      emu.inject('token', { delayMS: 300 });
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      const { settled, note } = tracker();
      const aborted = note('aborted', rejection(session.getAccessToken({ signal: controller.signal })));
      const others = note('others', Promise.all([token(session), token(session), token(session, {})]));
      controller.abort(reason);
      expect(await aborted).to.equal(reason);
      expect(settled).to.deep.equal(['aborted']);
      const [a, b, c] = await others;
      expect(b).to.equal(a);
      expect(c).to.equal(a);
      expect(settled).to.deep.equal(['aborted', 'others']);
      expect(emu.counts.refresh).to.equal(1);
      // The refresh completed for everyone: the next call is served as it is.
      expect(await token(session)).to.equal(a);
      expect(emu.counts.refresh).to.equal(1);
    });

    it('a forced refresh: the aborted caller rejects at once; a forced caller sharing the refresh gets its token', async () => {
      const { tokenInfo } = seed(emu);
      const session = sessionFor(emu, { tokenInfo });
      await token(session);
      emu.inject('token', { delayMS: 300 });
      const controller = new AbortController();
      const { settled, note } = tracker();
      const aborted = note('aborted', rejection(session.getAccessToken({ forceRefresh: true, signal: controller.signal })));
      const other = note('other', token(session, { forceRefresh: true }));
      controller.abort();
      expect((await aborted).name).to.equal('AbortError');
      expect(settled).to.deep.equal(['aborted']);
      expect(await other).to.not.equal(tokenInfo.accessToken);
      expect(emu.counts.refresh).to.equal(1);
    });

    it('a signal that has already aborted rejects without any request, even when a refresh is due', async () => {
      const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true }).tokenInfo });
      const reason = new Error('too late');
      expect(await rejection(session.getAccessToken({ signal: AbortSignal.abort(reason) }))).to.equal(reason);
      expect(await rejection(session.exchangeToken('read', undefined, { signal: AbortSignal.abort(reason) }))).to.equal(reason);
      expect(emu.counts.token).to.equal(0);
    });

    it("exchangeToken(…, { signal }): the aborted caller rejects at once; the subject token's refresh serves the other", async () => {
      const session = sessionFor(emu, { tokenInfo: seed(emu, { expired: true, scope: 'read write' }).tokenInfo });
      emu.inject('token', { delayMS: 300 });
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      const { settled, note } = tracker();
      const aborted = note('aborted', rejection(session.exchangeToken('read', undefined, { signal: controller.signal })));
      const other = note('other', session.exchangeToken('read'));
      controller.abort(reason);
      expect(await aborted).to.equal(reason);
      expect(settled).to.deep.equal(['aborted']);
      const info = await other;
      recordSecret(info.accessToken);
      expect(info.scope).to.equal('read');
      expect(emu.counts.refresh).to.equal(1);
    });

    it('a signal that is not an AbortSignal is refused, naming options.signal', async () => {
      const session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo });
      const calls = [
        () => session.getAccessToken({ signal: 5 as never }),
        () => session.exchangeToken('read', undefined, { signal: {} as never }),
      ];
      for (const call of calls) {
        const err = await rejection(call());
        expect(err).to.be.instanceOf(InvalidArgumentError);
        expect(err).to.have.property('field', 'options.signal');
      }
      expect(emu.counts.token).to.equal(0);
    });
  });

  describe('UserSession', () => {
    let forge: Forge;
    beforeEach(async () => {
      forge = await startForge();
    });
    afterEach(async () => {
      await forge.emu.close();
    });

    it("getAccessToken(accountId, { signal }): the aborted caller rejects at once; the others get the one mint's token", async () => {
      const users = forge.session();
      forge.emu.inject('graphql', { delayMS: 300 });
      const controller = new AbortController();
      const reason = new Error('the caller gave up');
      const { settled, note } = tracker();
      const aborted = note('aborted', rejection(users.getAccessToken('alice', { signal: controller.signal })));
      const others = note('others', Promise.all([userToken(users, 'alice'), userToken(users, 'alice')]));
      controller.abort(reason);
      expect(await aborted).to.equal(reason);
      expect(settled).to.deep.equal(['aborted']);
      const [a, b] = await others;
      expect(b).to.equal(a);
      expect(forge.emu.counts.mint).to.equal(1);
      expect(await users.getAccessToken('alice', {})).to.equal(a);
      expect(forge.emu.counts.mint).to.equal(1);
    });

    it(
      'mint / exchangeToken(accountId, { signal }): the aborted caller rejects at once; the one forced mint serves the ' + 'other',
      async () => {
        const users = forge.session();
        forge.emu.inject('graphql', { delayMS: 300 });
        const controller = new AbortController();
        const reason = new Error('the caller gave up');
        const { settled, note } = tracker();
        const aborted = note('aborted', rejection(users.exchangeToken('alice', { signal: controller.signal })));
        const other = note('other', users.mint('alice'));
        controller.abort(reason);
        expect(await aborted).to.equal(reason);
        expect(settled).to.deep.equal(['aborted']);
        const info = await other;
        recordSecret(info.accessToken);
        expect(forge.emu.counts.mint).to.equal(1);
        expect(await userToken(users, 'alice')).to.equal(info.accessToken);
        expect(await rejection(users.mint('bob', { signal: AbortSignal.abort(reason) }))).to.equal(reason);
        expect(await rejection(users.getAccessToken('bob', { signal: 'no' as never }))).to.have.property('field', 'options.signal');
        expect(forge.emu.counts.mint).to.equal(1);
      },
    );
  });
});
