/**
 * The clock-skew guard, end to end: the emulator's clock runs 10 minutes ahead of ours, and the
 * first token was stamped by the server's clock (as tokens adopted from a store written by a
 * host with a correct clock are). A 401 through authorizedFetch teaches the session the offset
 * from the server's Date header (ExpiredTokensError.serverDateMS → PersistentSession#learnSkew).
 */
import { expect } from 'chai';
import type { SinonFakeTimers } from 'sinon';
import { authorizedFetch } from '../../lib/fetch/authorized-fetch.js';
import type { Emulator } from '../../lib/emulator/index.js';
import type { PersistentSession } from '../../lib/session/persistent-session.js';
import { useFakeClock } from '../support/clock.js';
import { emulator, sessionFor, token } from '../support/oauth.js';
import { recordSecret } from '../support/secrets.js';
import { recordSeenTokens } from './table.js';

const MIN = 60_000;
const OFFSET_MS = 10 * MIN;
const TTL_MS = 15 * MIN;
const BUFFER_MS = 3 * MIN;
const STEP_MS = 30_000;

describe('clock-skew guard through authorizedFetch (server 10 min ahead, 15 min tokens, 3 min buffer)', () => {
  let emu: Emulator;
  let session: PersistentSession;
  let first: string;
  let clock: SinonFakeTimers;
  const tick = (ms: number) => clock.tickAsync(ms);

  beforeEach(async () => {
    clock = useFakeClock();
    emu = await emulator({ clockOffsetMS: OFFSET_MS, accessTokenTTLSeconds: TTL_MS / 1000 });
    const issued = emu.issueTokens({ ttlSeconds: TTL_MS / 1000 });
    recordSecret(issued.accessToken, issued.refreshToken);
    first = issued.accessToken;
    // acquiredAtMS is the emulator's issue time: 10 minutes later than our clock says it is now.
    session = sessionFor(emu, {
      tokenInfo: {
        accessToken: issued.accessToken,
        refreshToken: issued.refreshToken,
        accessTokenTTLMS: TTL_MS,
        acquiredAtMS: issued.acquiredAtMS,
      },
      expiredBufferMS: BUFFER_MS,
      // The hard path is under test: a background refresh on the wire while the fake clock jumps 30 s would
      // time out (fake) after the server answered (real), and its retry would reuse the rotated token.
      refreshAheadRatio: 0,
    });
  });
  afterEach(async () => {
    recordSeenTokens(emu);
    await emu.close();
  });

  /**
   * Walks the fake clock forward, one request per step, and checks that no request needed a retry
   * and that the token handed out a little less than one buffer ago is still active at the server.
   */
  async function walk(totalMS: number): Promise<void> {
    const lag = Math.floor((BUFFER_MS - STEP_MS) / STEP_MS);
    const used: string[] = [];
    for (let t = 0; t < totalMS; t += STEP_MS) {
      const before = emu.counts.resource;
      const res = await authorizedFetch(session, emu.resourceUrl);
      await res.arrayBuffer();
      expect(res.status, `at +${t / 1000}s`).to.equal(200);
      expect(emu.counts.resource - before, `requests at +${t / 1000}s`).to.equal(1);
      used.push(await token(session));
      if (used.length > lag)
        expect(emu.tokenState(used[used.length - 1 - lag]!), `token used at +${(t - lag * STEP_MS) / 1000}s, now`).to.equal('active');
      await tick(STEP_MS);
    }
    expect(used).to.not.include(first);
  }

  it('without a refusal, the session keeps handing out a token the server considers expired', async () => {
    await tick(16 * MIN);
    expect(emu.tokenState(first)).to.equal('expired');
    expect(await token(session)).to.equal(first);
    await tick(5 * MIN);
    expect(await token(session)).to.equal(first);
    expect(emu.counts.refresh).to.equal(0);
  });

  it(
    'after one 401 it refreshes once, retries once, and never again hands out a token within the buffer of its server-side ' + 'expiry',
    async () => {
      await tick(16 * MIN);
      const res = await authorizedFetch(session, emu.resourceUrl);
      expect(res.status).to.equal(200);
      expect(emu.counts.refresh).to.equal(1);
      expect(emu.counts.resource).to.equal(2);
      expect(emu.requests('resource')[0]!.status).to.equal(401);
      await walk(60 * MIN);
    },
  );

  // Refreshed tokens are stamped in the server's clock (`now + skew`), the clock they are compared
  // in. Stamped with our own clock, each 15 min token would be used for 2 min only once the skew is
  // learnt (and a skew >= ttl - buffer would refresh on every call).
  it('after learning the skew it refreshes about once per token lifetime, not every couple of minutes', async () => {
    await tick(16 * MIN);
    await (await authorizedFetch(session, emu.resourceUrl)).arrayBuffer();
    const before = emu.counts.refresh;
    await walk(60 * MIN);
    // A 15 min token refreshed 3 min before it expires lasts 12 min: 5 refreshes in 60 min.
    expect(emu.counts.refresh - before).to.be.within(4, 6);
  });
});
