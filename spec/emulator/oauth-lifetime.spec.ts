import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../lib/emulator/index.js';
import { fakeClock, refresh } from './support.js';

const IDLE_MS = 60_000;
const DAY_MS = 86_400_000;

describe('emulator: refresh-token inactivity and grant lifetime', () => {
  let emulator: Emulator;
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = fakeClock();
  });

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  describe('refreshTokenIdleTTLMS', () => {
    it('keeps a grant refreshed every half idle TTL alive and kills one left unused', async () => {
      emulator = await startEmulator({ refreshTokenIdleTTLMS: IDLE_MS });
      const busy = emulator.issueTokens();
      const idle = emulator.issueTokens();
      let token = busy.refreshToken;
      for (let i = 0; i < 6; i++) {
        await clock.tickAsync(IDLE_MS / 2);
        const res = await refresh(emulator, token);
        expect(res.status, `refresh ${i}`).to.equal(200);
        token = res.body.refresh_token;
      }
      expect(emulator.tokenState(idle.refreshToken)).to.equal('expired');
      const dead = await refresh(emulator, idle.refreshToken);
      expect(dead.status).to.equal(400);
      expect(dead.body).to.deep.equal({ error: 'invalid_grant', error_description: 'The refresh token has expired from inactivity' });
      expect(emulator.family(idle.familyId)).to.deep.include({ lost: true, currentRefreshToken: undefined, revoked: false });
      expect(emulator.family(busy.familyId)).to.deep.include({ lost: false, currentRefreshToken: token, refreshCount: 6 });
      expect(emulator.grantStats()).to.deep.equal({ families: 2, forkedFamilies: 0, lostGrants: 1, revokedFamilies: 0, expiredGrants: 0 });
      expect(emulator.counts).to.include({ refresh: 7, invalidGrant: 1 });
    });

    it('expires a refresh token exactly one idle TTL after it was handed out', async () => {
      emulator = await startEmulator({ refreshTokenIdleTTLMS: IDLE_MS });
      const early = emulator.issueTokens();
      const late = emulator.issueTokens();
      await clock.tickAsync(IDLE_MS - 1);
      expect((await refresh(emulator, early.refreshToken)).status).to.equal(200);
      await clock.tickAsync(1);
      expect((await refresh(emulator, late.refreshToken)).body.error).to.equal('invalid_grant');
    });

    it('restarts the clock of the presented token when rotation is off', async () => {
      emulator = await startEmulator({ refreshTokenIdleTTLMS: IDLE_MS, rotateRefreshTokens: false });
      const issued = emulator.issueTokens();
      await clock.tickAsync(40_000);
      expect((await refresh(emulator, issued.refreshToken)).status).to.equal(200);
      await clock.tickAsync(40_000);
      expect((await refresh(emulator, issued.refreshToken)).status).to.equal(200);
      expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
    });
  });

  describe('grantLifetimeMS', () => {
    const lifetime = { grantLifetimeMS: 365 * DAY_MS } satisfies EmulatorOptions;

    it('reports the time left in refresh_token_expires_in, which refreshing does not extend', async () => {
      emulator = await startEmulator(lifetime);
      const issued = emulator.issueTokens();
      expect(issued.refreshTokenExpiresIn).to.equal(365 * 86_400);
      expect(emulator.family(issued.familyId)?.expiresAtMS).to.equal(issued.acquiredAtMS + 365 * DAY_MS);
      await clock.tickAsync(1_500);
      const first = await refresh(emulator, issued.refreshToken);
      expect(first.body.refresh_token_expires_in).to.equal(365 * 86_400 - 2);
      clock.setSystemTime(issued.acquiredAtMS + 300 * DAY_MS);
      const later = await refresh(emulator, first.body.refresh_token);
      expect(later.status).to.equal(200);
      expect(later.body.refresh_token_expires_in).to.equal(65 * 86_400);
    });

    it('refuses every refresh of the grant once its lifetime is over', async () => {
      emulator = await startEmulator(lifetime);
      const issued = emulator.issueTokens();
      clock.setSystemTime(issued.acquiredAtMS + 365 * DAY_MS - 1);
      const last = await refresh(emulator, issued.refreshToken);
      expect(last.status).to.equal(200);
      expect(last.body.refresh_token_expires_in).to.equal(0);
      clock.setSystemTime(issued.acquiredAtMS + 365 * DAY_MS);
      const over = await refresh(emulator, last.body.refresh_token);
      expect(over.status).to.equal(400);
      expect(over.body).to.deep.equal({
        error: 'invalid_grant',
        error_description: 'The grant has expired: its absolute lifetime is over',
      });
      expect(emulator.tokenState(last.body.refresh_token)).to.equal('expired');
      expect(emulator.family(issued.familyId)).to.deep.include({ lost: false, revoked: false, currentRefreshToken: undefined });
      expect(emulator.grantStats()).to.deep.equal({ families: 1, forkedFamilies: 0, lostGrants: 0, revokedFamilies: 0, expiredGrants: 1 });
    });

    it('sends no refresh_token_expires_in without a lifetime', async () => {
      emulator = await startEmulator();
      const issued = emulator.issueTokens();
      expect(issued).to.not.have.property('refreshTokenExpiresIn');
      expect((await refresh(emulator, issued.refreshToken)).body).to.not.have.property('refresh_token_expires_in');
      expect(emulator.family(issued.familyId)?.expiresAtMS).to.equal(undefined);
    });
  });

  describe('reissueWithinSeconds', () => {
    it('hands back the same access token with its time left until its last N seconds, then a new one', async () => {
      emulator = await startEmulator({ reissueWithinSeconds: 60 });
      const issued = emulator.issueTokens({ ttlSeconds: 3600 });
      await clock.tickAsync(3_000_500);
      const same = await refresh(emulator, issued.refreshToken);
      expect(same.status).to.equal(200);
      // 599.5 s left: whole seconds, rounded down.
      expect(same.body).to.include({ access_token: issued.accessToken, expires_in: 599 });
      expect(same.body.refresh_token).to.not.equal(issued.refreshToken);
      await clock.tickAsync(539_500); // 60 s left: inside the window
      const next = await refresh(emulator, same.body.refresh_token);
      expect(next.body.access_token).to.not.equal(issued.accessToken);
      expect(next.body.expires_in).to.equal(3600);
      expect(emulator.tokenState(issued.accessToken)).to.equal('active');
      expect(emulator.counts).to.include({ refresh: 2 });
    });

    it('issues a new token on every refresh by default, and for a narrower scope', async () => {
      emulator = await startEmulator();
      const issued = emulator.issueTokens({ ttlSeconds: 3600 });
      const fresh = await refresh(emulator, issued.refreshToken);
      expect(fresh.body.access_token).to.not.equal(issued.accessToken);
      await emulator.close();
      emulator = await startEmulator({ reissueWithinSeconds: 60 });
      const wide = emulator.issueTokens({ ttlSeconds: 3600, scope: 'read write' });
      const narrow = await refresh(emulator, wide.refreshToken, { scope: 'read' });
      expect(narrow.body.access_token).to.not.equal(wide.accessToken);
      expect(narrow.body.expires_in).to.equal(3600);
    });
  });

  describe('validation', () => {
    const cases: Array<[EmulatorOptions, string]> = [
      [{ refreshTokenReuseGraceMS: -1 }, 'Expected `refreshTokenReuseGraceMS` to be a finite number >= 0, got `-1` (number)'],
      [{ refreshTokenReuseMode: 'latest' as 'same' }, "Expected `refreshTokenReuseMode` to be 'same' or 'fork', got `'latest'` (string)"],
      [
        { refreshTokenReuseMode: 'fork' },
        "Expected `refreshTokenReuseGraceMS` to be > 0 with `refreshTokenReuseMode` 'fork', got `0` (number)",
      ],
      [{ refreshTokenIdleTTLMS: 0 }, 'Expected `refreshTokenIdleTTLMS` to be a number >= 1 or Infinity, got `0` (number)'],
      [
        { refreshTokenIdleTTLMS: 30_000, refreshTokenReuseGraceMS: 30_000 },
        'Expected `refreshTokenIdleTTLMS` to be longer than `refreshTokenReuseGraceMS` (30000), got `30000` (number)',
      ],
      [{ grantLifetimeMS: Number.NaN }, 'Expected `grantLifetimeMS` to be a number >= 1 or Infinity, got `NaN` (number)'],
      [{ reissueWithinSeconds: -1 }, 'Expected `reissueWithinSeconds` to be a number >= 0 or Infinity, got `-1` (number)'],
    ];
    for (const [options, message] of cases) {
      it(`rejects ${JSON.stringify(options)}`, async () => {
        let failure: unknown;
        try {
          emulator = await startEmulator(options);
        } catch (error) {
          failure = error;
        }
        expect(failure).to.be.instanceOf(TypeError);
        expect((failure as Error).message).to.equal(message);
      });
    }
  });
});
