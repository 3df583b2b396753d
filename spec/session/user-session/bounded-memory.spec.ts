// UserSession memory stays bounded: an expired token is dropped when its user is read again
// (eviction on read), and per-user revocation marks live only while a mint they concern runs.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { markRejectedToken } from '../../../lib/session/refusals.js';
import { RevocationEpochs } from '../../../lib/session/revocation-epochs.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import { UserSession } from '../../../lib/session/user-session.js';
import { deferred } from '../../fetch/support.js';
import { recordSecret } from '../../support/secrets.js';

const HOUR = 3_600_000;

describe('UserSession: bounded memory', () => {
  describe('eviction on read', () => {
    let clock: number;
    let failing: boolean;
    const users = () =>
      new UserSession({
        exchanger: {
          exchange: async (): Promise<TokenInfo> => {
            if (failing) throw new Error('gateway down');
            const accessToken = `user-${randomUUID()}`;
            recordSecret(accessToken);
            return { accessToken, accessTokenTTLMS: HOUR, acquiredAtMS: clock };
          },
          describe: () => 'ns',
        },
        now: () => clock,
      });
    beforeEach(() => {
      clock = 1_800_000_000_000;
      failing = false;
    });

    it('drops an expired token when its user is asked for again, even if minting a new one fails', async () => {
      const session = users();
      await session.getAccessToken('alice');
      await session.getAccessToken('bob');
      expect(session.size).to.equal(2);
      clock += HOUR + 1;
      failing = true;
      const err = await session.getAccessToken('alice').catch((e: unknown) => e);
      expect(err).to.have.property('message', 'gateway down');
      expect(session.size).to.equal(1); // alice's expired token is gone; bob's was not read
    });

    it('keeps a token that is only due (inside the refresh buffer, still valid) but never serves it again', async () => {
      const session = users();
      const first = await session.getAccessToken('alice');
      clock += HOUR - 60_001; // 60.001 s left: still served
      expect(await session.getAccessToken('alice')).to.equal(first);
      clock += 1; // 60 s left, the buffer: due
      failing = true;
      await session.getAccessToken('alice').catch(() => {});
      expect(session.size).to.equal(1); // kept, so that a refusal of it can still be recognised
      failing = false;
      expect(await session.getAccessToken('alice')).to.not.equal(first);
    });

    it('a refusal reported after a failed due mint clears only that token, not one another process minted since', async () => {
      const records = new Map<string, TokenInfo>();
      const store = {
        read: async (k: string) => records.get(k),
        write: async (k: string, v: TokenInfo) => {
          records.set(k, v);
        },
        clear: async (k: string) => {
          records.delete(k);
        },
      };
      let n = 0;
      const exchanger = (fails: () => boolean) => ({
        describe: () => 'ns',
        exchange: async (): Promise<TokenInfo> => {
          if (fails()) throw Object.assign(new Error('gateway 503'), { status: 503 });
          const accessToken = `user-token-${++n}-${randomUUID()}`;
          recordSecret(accessToken);
          return { accessToken, accessTokenTTLMS: HOUR, acquiredAtMS: clock };
        },
      });
      let aFails = false;
      const a = new UserSession({ exchanger: exchanger(() => aFails), tokenStore: store, now: () => clock });
      const b = new UserSession({ exchanger: exchanger(() => false), tokenStore: store, now: () => clock });
      await a.getAccessToken('u');
      clock += HOUR - 60_000; // due, not expired
      aFails = true;
      await a.getAccessToken('u').catch(() => {});
      const fromB = await b.getAccessToken('u');
      // An API refused A's old token with an error that does not name it (built outside authorizedFetch).
      await a.handleExpiredTokensError(Object.assign(new Error('401 Unauthorized'), { status: 401 }), 'u');
      expect(records.get('ns:u')?.accessToken).to.equal(fromB);
    });

    it('remembers at most 10,000 refused tokens, the newest', async () => {
      const session = users();
      const refusal = (n: number) => {
        const err = Object.assign(new Error('401'), { status: 401 });
        markRejectedToken(err, `refused-token-${n}`);
        return err;
      };
      for (let i = 0; i < 10_005; i++) await session.handleExpiredTokensError(refusal(i), `acc-${i}`);
      expect(session.toJSON()).to.include({ refusedMarks: 10_000 });
    });

    it('still serves a fresh token from memory, without a queue task', async () => {
      const session = users();
      const first = await session.getAccessToken('alice');
      const adds = sinon.spy(session.queue, 'add');
      expect(await session.getAccessToken('alice')).to.equal(first);
      expect(adds.callCount).to.equal(0);
    });
  });

  describe('revocation marks', () => {
    it('a revocation while no mint runs leaves no mark', () => {
      const epochs = new RevocationEpochs();
      for (let i = 0; i < 10_000; i++) epochs.revoke(`acc-${i}`);
      expect(epochs.size).to.equal(0);
    });

    it('a mark lives while a mint that began before it runs, and concerns only that mint', () => {
      const epochs = new RevocationEpochs();
      const old = epochs.begin();
      epochs.revoke('alice');
      const later = epochs.begin();
      expect(epochs.revokedSince('alice', old)).to.equal(true);
      expect(epochs.revokedSince('alice', later)).to.equal(false);
      expect(epochs.revokedSince('bob', old)).to.equal(false);
      expect(epochs.size).to.equal(1);
      epochs.end(later);
      expect(epochs.size).to.equal(1); // the old mint still runs
      epochs.end(old);
      expect(epochs.size).to.equal(0);
    });

    it('revoking every user concerns every mint that began before, and clears the per-user marks', () => {
      const epochs = new RevocationEpochs();
      const old = epochs.begin();
      epochs.revoke('alice');
      epochs.revoke(undefined);
      expect(epochs.size).to.equal(0);
      expect(epochs.revokedSince('anyone', old)).to.equal(true);
      expect(epochs.revokedSince('anyone', epochs.begin())).to.equal(false);
    });

    it('through UserSession: a user revoked during a mint is not kept, and a later mint is', async () => {
      const gate = deferred<void>();
      let hold = true;
      const session = new UserSession({
        exchanger: {
          exchange: async (): Promise<TokenInfo> => {
            if (hold) await gate.promise;
            const accessToken = `user-${randomUUID()}`;
            recordSecret(accessToken);
            return { accessToken, accessTokenTTLMS: HOUR, acquiredAtMS: Date.now() };
          },
          describe: () => 'ns',
        },
      });
      const pending = session.getAccessToken('alice');
      await new Promise((r) => setImmediate(r));
      await session.revokeTokens('alice');
      gate.resolve();
      await pending;
      expect(session.size).to.equal(0);
      hold = false;
      await session.getAccessToken('alice');
      expect(session.size).to.equal(1);
    });
  });
});
