// The refresh margin has one name on both sessions, `refreshBufferMS`; PersistentSession still
// accepts its older name `expiredBufferMS`, and giving both is an error (they could disagree). The margin
// is capped at half a token's lifetime, so that a server that reissues only late cannot loop us.
import { expect } from 'chai';
import type sinon from 'sinon';
import type { Emulator } from '../../../lib/emulator/index.js';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { DEFAULT_EXPIRED_BUFFER_MS, PersistentSession } from '../../../lib/session/persistent-session.js';
import { useFakeClock } from '../../support/clock.js';
import { emulator, seed, sessionFor, token } from '../../support/oauth.js';

describe('PersistentSession: refreshBufferMS and its alias expiredBufferMS', () => {
  let emu: Emulator;
  let clock: sinon.SinonFakeTimers | undefined;
  beforeEach(async () => {
    emu = await emulator();
  });
  afterEach(async () => {
    clock?.restore();
    clock = undefined;
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

  it("a margin longer than the server's reissue window: a few refreshes per token, never an expired one (lesson 11)", async () => {
    // The server hands the same token back (its time left as expires_in) unless it is in its last 60 s.
    await emu.close();
    emu = await emulator({ reissueWithinSeconds: 60 });
    clock = useFakeClock();
    const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
    // No refresh ahead: every refresh is the hard margin's, awaited by the call that needs it.
    const session = sessionFor(emu, { tokenInfo, refreshBufferMS: 300_000, refreshAheadRatio: 0 });
    const seen = new Set<string>();
    for (let t = 0; t <= 3 * 3_600_000; t += 10_000) {
      const handed = await token(session);
      expect(emu.tokenState(handed), `token handed out at +${t / 1000} s`).to.equal('active');
      seen.add(handed);
      await clock.tickAsync(10_000);
    }
    // The margin is capped at half the lifetime the server reports: refreshes at <= 300, 150 and 75 s left get
    // the same token back, the one at <= 60 s left a new one; so at most 4 per token. Each token lives >= 3540 s:
    // at most 4 tokens in 3 h, so at most 16 refreshes. Without the cap every call in the last 300 s refreshes.
    expect(seen.size).to.equal(4);
    expect(emu.counts.refresh).to.be.within(3, 16);
  });

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
