// The refresh margin has one name on both sessions, `refreshBufferMS`; PersistentSession still
// accepts its older name `expiredBufferMS`, and giving both is an error (they could disagree).
import { expect } from 'chai';
import type { Emulator } from '../../../lib/emulator/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { DEFAULT_EXPIRED_BUFFER_MS, PersistentSession } from '../../../lib/session/persistent-session.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';

describe('PersistentSession: refreshBufferMS and its alias expiredBufferMS', () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    await emu.close();
  });

  /** A session whose 10-minute token has 4 minutes left by its clock, with the margin given as `options`. */
  const fourMinutesLeft = (options: Record<string, number>) => {
    const { tokenInfo } = seed(emu, { ttlSeconds: 600 });
    return sessionFor(emu, { tokenInfo, now: () => tokenInfo.acquiredAtMS + 6 * 60_000, ...options });
  };

  it('the default margin (3 minutes) serves a token with 4 minutes left as it is', async () => {
    expect(DEFAULT_EXPIRED_BUFFER_MS).to.equal(180_000);
    await token(fourMinutesLeft({}));
    expect(emu.counts.refresh).to.equal(0);
  });

  for (const name of ['refreshBufferMS', 'expiredBufferMS']) {
    it(`${name}: 4.5 minutes refreshes a token with 4 minutes left, once`, async () => {
      const session = fourMinutesLeft({ [name]: 270_000 });
      const [a, b] = await Promise.all([token(session), token(session)]);
      expect(a).to.equal(b);
      expect(emu.counts.refresh).to.equal(1);
    });
  }

  it('refuses both names at once, and names the one that failed validation', () => {
    const client = { tokenEndpoint: 'https://auth.example/token', clientId: 'id', clientSecret: 'secret' };
    expect(() => new PersistentSession({ client, refreshBufferMS: 1_000, expiredBufferMS: 1_000 }))
      .to.throw(InvalidArgumentError, /`refreshBufferMS` or `expiredBufferMS`/)
      .with.property('field', 'expiredBufferMS');
    expect(() => new PersistentSession({ client, refreshBufferMS: -1 }))
      .to.throw(InvalidArgumentError, /`refreshBufferMS` to be a finite number >= 0, got `-1` \(number\)/)
      .with.property('field', 'refreshBufferMS');
  });
});
