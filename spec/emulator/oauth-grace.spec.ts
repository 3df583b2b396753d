import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { fakeClock, getResource, refresh } from './support.js';

const GRACE_MS = 30_000;

describe('emulator: refresh-token reuse grace window', () => {
  let emulator: Emulator;
  let clock: sinon.SinonFakeTimers;

  beforeEach(() => {
    clock = fakeClock();
  });

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  describe("'same' mode (Okta, Atlassian)", () => {
    it('answers a reuse inside the window with the identical successor, without forking the family', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS });
      const issued = emulator.issueTokens();
      const first = await refresh(emulator, issued.refreshToken);
      await clock.tickAsync(GRACE_MS - 1);
      const second = await refresh(emulator, issued.refreshToken);
      expect(first.status).to.equal(200);
      expect(second.status).to.equal(200);
      expect(second.body.refresh_token).to.equal(first.body.refresh_token);
      expect(second.body.access_token).to.match(/^at_/).and.not.equal(first.body.access_token);
      expect((await getResource(emulator, second.body.access_token)).status).to.equal(200);
      expect(emulator.families()).to.have.length(1);
      expect(emulator.family(issued.familyId)).to.deep.include({
        currentRefreshToken: first.body.refresh_token,
        liveRefreshTokens: 1,
        refreshCount: 2,
        graceReuses: 1,
        forks: 0,
        reuseDetected: false,
        revoked: false,
        lost: false,
      });
      expect(emulator.grantStats()).to.deep.equal({ families: 1, forkedFamilies: 0, lostGrants: 0, revokedFamilies: 0, expiredGrants: 0 });
      expect(emulator.tokenState(issued.refreshToken)).to.equal('rotated');
      expect(emulator.counts).to.include({ token: 2, refresh: 2, invalidGrant: 0 });
    });

    it('treats a reuse after the window as before: reuse detection revokes the family', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS });
      const issued = emulator.issueTokens();
      const first = await refresh(emulator, issued.refreshToken);
      await clock.tickAsync(GRACE_MS);
      const late = await refresh(emulator, issued.refreshToken);
      expect(late.status).to.equal(400);
      expect(late.body).to.deep.equal({ error: 'invalid_grant', error_description: 'The refresh token has already been used' });
      expect(emulator.family(issued.familyId)).to.deep.include({
        revoked: true,
        reuseDetected: true,
        currentRefreshToken: undefined,
        graceReuses: 0,
      });
      expect((await refresh(emulator, first.body.refresh_token)).body.error).to.equal('invalid_grant');
      expect(emulator.grantStats()).to.include({ revokedFamilies: 1, lostGrants: 0 });
      expect(emulator.counts).to.include({ refresh: 3, invalidGrant: 2 });
    });

    it('without reuse detection a reuse after the window fails alone', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS, reuseDetection: false });
      const issued = emulator.issueTokens();
      const first = await refresh(emulator, issued.refreshToken);
      await clock.tickAsync(GRACE_MS);
      expect((await refresh(emulator, issued.refreshToken)).body.error).to.equal('invalid_grant');
      expect(emulator.family(issued.familyId)).to.deep.include({ revoked: false, reuseDetected: false });
      expect((await refresh(emulator, first.body.refresh_token)).status).to.equal(200);
    });

    it('gives a retry after a lost answer the successor the lost answer carried', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS });
      const issued = emulator.issueTokens();
      emulator.inject('token', { status: 502, afterHandling: true });
      expect((await refresh(emulator, issued.refreshToken)).status).to.equal(502);
      const rotatedTo = emulator.family(issued.familyId)!.currentRefreshToken;
      expect(rotatedTo).to.be.a('string').and.not.equal(issued.refreshToken);
      const retry = await refresh(emulator, issued.refreshToken);
      expect(retry.status).to.equal(200);
      expect(retry.body.refresh_token).to.equal(rotatedTo);
      expect(emulator.grantStats()).to.include({ forkedFamilies: 0, lostGrants: 0 });
    });

    it('hands back the first successor even when it was rotated since; its own window then covers it', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS });
      const issued = emulator.issueTokens();
      const one = await refresh(emulator, issued.refreshToken);
      await clock.tickAsync(10_000);
      const two = await refresh(emulator, one.body.refresh_token);
      await clock.tickAsync(10_000);
      const stale = await refresh(emulator, issued.refreshToken);
      expect(stale.body.refresh_token).to.equal(one.body.refresh_token);
      await clock.tickAsync(GRACE_MS - 20_000);
      // 30 s after the first rotation, 20 s after the second: only the second window is still open.
      expect((await refresh(emulator, one.body.refresh_token)).body.refresh_token).to.equal(two.body.refresh_token);
      expect(emulator.family(issued.familyId)).to.deep.include({
        liveRefreshTokens: 1,
        currentRefreshToken: two.body.refresh_token,
        graceReuses: 2,
      });
    });
  });

  describe("'fork' mode (Auth0)", () => {
    it('hands each reuse inside the window a different refresh token, forking the family', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS, refreshTokenReuseMode: 'fork' });
      const issued = emulator.issueTokens();
      const first = await refresh(emulator, issued.refreshToken);
      await clock.tickAsync(GRACE_MS - 1);
      const second = await refresh(emulator, issued.refreshToken);
      expect([first.status, second.status]).to.deep.equal([200, 200]);
      expect(second.body.refresh_token).to.match(/^rt_/).and.not.equal(first.body.refresh_token);
      expect(emulator.families()).to.have.length(1);
      expect(emulator.family(issued.familyId)).to.deep.include({
        liveRefreshTokens: 2,
        forks: 1,
        graceReuses: 1,
        currentRefreshToken: second.body.refresh_token,
      });
      expect(emulator.grantStats()).to.deep.equal({ families: 1, forkedFamilies: 1, lostGrants: 0, revokedFamilies: 0, expiredGrants: 0 });
      // Each branch lives on by itself.
      const left = await refresh(emulator, first.body.refresh_token);
      const right = await refresh(emulator, second.body.refresh_token);
      expect([left.status, right.status]).to.deep.equal([200, 200]);
      expect(emulator.family(issued.familyId)).to.deep.include({ liveRefreshTokens: 2, forks: 1, refreshCount: 4 });
      expect(emulator.grantStats().forkedFamilies).to.equal(1);
    });

    it('revokes every branch when a rotated-out token comes back after the window', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS, refreshTokenReuseMode: 'fork' });
      const issued = emulator.issueTokens();
      const first = await refresh(emulator, issued.refreshToken);
      const second = await refresh(emulator, issued.refreshToken);
      await clock.tickAsync(GRACE_MS);
      expect((await refresh(emulator, issued.refreshToken)).body.error).to.equal('invalid_grant');
      for (const branch of [first, second]) expect(emulator.tokenState(branch.body.refresh_token)).to.equal('revoked');
      expect(emulator.grantStats()).to.deep.equal({ families: 1, forkedFamilies: 0, lostGrants: 0, revokedFamilies: 1, expiredGrants: 0 });
    });

    it('counts a grant as lost once every branch has died from inactivity', async () => {
      const idleMS = 60_000;
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS, refreshTokenReuseMode: 'fork', refreshTokenIdleTTLMS: idleMS });
      const issued = emulator.issueTokens();
      const kept = await refresh(emulator, issued.refreshToken);
      const dropped = await refresh(emulator, issued.refreshToken);
      let branch: string = kept.body.refresh_token;
      for (let i = 0; i < 4; i++) {
        await clock.tickAsync(idleMS / 2);
        const next = await refresh(emulator, branch);
        expect(next.status).to.equal(200);
        branch = next.body.refresh_token;
      }
      // The unused branch died; the family is no longer forked, and not lost either.
      expect(emulator.tokenState(dropped.body.refresh_token)).to.equal('expired');
      expect(emulator.grantStats()).to.include({ forkedFamilies: 0, lostGrants: 0 });
      await clock.tickAsync(idleMS);
      expect(emulator.grantStats()).to.deep.equal({ families: 1, forkedFamilies: 0, lostGrants: 1, revokedFamilies: 0, expiredGrants: 0 });
      expect(emulator.family(issued.familyId)).to.deep.include({
        lost: true,
        liveRefreshTokens: 0,
        currentRefreshToken: undefined,
        revoked: false,
      });
      expect((await refresh(emulator, branch)).body.error_description).to.match(/inactivity/);
    });

    it('keeps branches and counters across exportState and a restart', async () => {
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS, refreshTokenReuseMode: 'fork' });
      const issued = emulator.issueTokens();
      const first = await refresh(emulator, issued.refreshToken);
      const second = await refresh(emulator, issued.refreshToken);
      const state = JSON.parse(JSON.stringify(emulator.exportState()));
      await emulator.close();
      emulator = await startEmulator({ refreshTokenReuseGraceMS: GRACE_MS, refreshTokenReuseMode: 'fork', state });
      expect(emulator.family(issued.familyId)).to.deep.include({ liveRefreshTokens: 2, forks: 1, graceReuses: 1 });
      expect(emulator.grantStats().forkedFamilies).to.equal(1);
      expect((await refresh(emulator, first.body.refresh_token)).status).to.equal(200);
      expect((await refresh(emulator, second.body.refresh_token)).status).to.equal(200);
    });
  });
});
