import { inspect } from 'node:util';
import { expect } from 'chai';
import sinon from 'sinon';
import { ImpersonationError, TokenRequestError } from '../../../lib/errors.js';
import type { MintErrorEvent, MintEvent } from '../../../lib/events.js';
import { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import { MAX_RATE_LIMIT_REQUEUES } from '../../../lib/session/rate-limit-queue.js';
import { UserSession } from '../../../lib/session/user-session.js';
import { advanceUntil, settle, useFakeClock } from '../../support/clock.js';
import { expectNoSecrets, recordSecret, rejection } from '../../support/secrets.js';
import { SITE, accounts, startForge, userToken, type Forge, forgeNs } from './support.js';

describe('UserSession', () => {
  let forge: Forge;
  const stores: KeyvTokenStore[] = [];
  afterEach(async () => {
    sinon.restore();
    await forge?.emu.close();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  describe('minting and caching', () => {
    it('1,000 concurrent calls over 100 accounts cause exactly 100 mints', async () => {
      forge = await startForge();
      const users = forge.session();
      const ids = accounts(100);
      const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => userToken(users, ids[i % 100]!)));
      expect(forge.emu.counts.mint).to.equal(100);
      expect(users.mints).to.equal(100);
      expect(users.singleFlightJoins).to.equal(900);
      for (let i = 0; i < 1000; i++) expect(tokens[i]).to.equal(tokens[i % 100]);
      expect(new Set(tokens).size).to.equal(100);
      for (const t of tokens.slice(0, 100)) expect(forge.emu.forge.userTokenState(t)).to.equal('active');
    });

    it('serves a second round inside the ttl with 0 mints, no store read and no queue task', async () => {
      forge = await startForge();
      const store = new KeyvTokenStore();
      stores.push(store);
      const users = forge.session({ tokenStore: store });
      const ids = accounts(100);
      await Promise.all(ids.map((id) => userToken(users, id)));
      const reads = sinon.spy(store, 'read');
      const adds = sinon.spy(users.queue, 'add');
      await Promise.all(Array.from({ length: 1000 }, (_, i) => users.getAccessToken(ids[i % 100]!)));
      expect(forge.emu.counts.mint).to.equal(100);
      expect(reads.callCount).to.equal(0);
      expect(adds.callCount).to.equal(0);
    });

    it('mints all 100 again, exactly once each, when time enters the refresh buffer', async () => {
      const clock = useFakeClock();
      forge = await startForge({ forge: { userTokenTTLSeconds: 3600 } });
      const users = forge.session({ refreshBufferSeconds: 60 });
      const ids = accounts(100);
      const first = await Promise.all(Array.from({ length: 1000 }, (_, i) => userToken(users, ids[i % 100]!)));
      expect(forge.emu.counts.mint).to.equal(100);
      await clock.tickAsync(3_600_000 - 61_000); // 61 s left: still fresh
      await Promise.all(Array.from({ length: 1000 }, (_, i) => users.getAccessToken(ids[i % 100]!)));
      expect(forge.emu.counts.mint).to.equal(100);
      await clock.tickAsync(2_000); // 59 s left: inside the buffer
      const round = settle(Promise.all(Array.from({ length: 1000 }, (_, i) => userToken(users, ids[i % 100]!))));
      await advanceUntil(clock, round.done, 10_000);
      const third = await round.result;
      expect(third.ok).to.equal(true);
      expect(forge.emu.counts.mint).to.equal(200);
      const fresh = (third as { value: string[] }).value;
      for (let i = 0; i < 100; i++) expect(fresh[i]).to.not.equal(first[i]);
    });

    it('success: false rejects with ImpersonationError, caches nothing, and the next call tries again', async () => {
      forge = await startForge({ users: ['alice'] });
      const users = forge.session();
      const errors: MintErrorEvent[] = [];
      users.on('mintError', (e) => errors.push(e));
      const err = await rejection(users.getAccessToken('mallory'));
      expect(err).to.be.instanceOf(ImpersonationError);
      expect((err as ImpersonationError).code).to.equal('ERR_IMPERSONATION');
      expect((err as ImpersonationError).messages[0]).to.include('Could not load permissions');
      expect(users.size).to.equal(0);
      await rejection(users.getAccessToken('mallory'));
      expect(forge.emu.counts.graphql).to.equal(2);
      expect(errors.map((e) => e.code)).to.deep.equal(['ERR_IMPERSONATION', 'ERR_IMPERSONATION']);
      expect(errors[0]).to.include({
        type: 'mintError',
        accountId: 'mallory',
        namespace: users.namespace,
        key: `${users.namespace}:mallory`,
      });
      expect(await userToken(users, 'alice')).to.match(/^ut_/);
    });

    it('exchangeToken mints even when a fresh token is held, once for concurrent callers, and stores it', async () => {
      forge = await startForge();
      const store = new KeyvTokenStore();
      stores.push(store);
      const users = forge.session({ tokenStore: store });
      const before = await userToken(users, 'alice');
      const infos = await Promise.all([users.exchangeToken('alice'), users.exchangeToken('alice'), users.exchangeToken('alice')]);
      recordSecret(infos[0]!.accessToken);
      expect(forge.emu.counts.mint).to.equal(2);
      expect(infos[1]).to.equal(infos[0]);
      expect(infos[0]!.accessToken).to.not.equal(before);
      expect(infos[0]!.accessTokenTTLMS).to.equal(3_600_000);
      expect((await store.read(`${users.namespace}:alice`))?.accessToken).to.equal(infos[0]!.accessToken);
      expect(await users.getAccessToken('alice')).to.equal(infos[0]!.accessToken);
    });

    it('emits mint events, from the server and from the store, without tokens', async () => {
      forge = await startForge();
      const store = new KeyvTokenStore();
      stores.push(store);
      const a = forge.session({ tokenStore: store });
      const b = forge.session({ tokenStore: store });
      const events: MintEvent[] = [];
      a.on('mint', (e) => events.push(e));
      b.on('mint', (e) => events.push(e));
      const t = await userToken(a, 'alice');
      expect(await b.getAccessToken('alice')).to.equal(t);
      expect(events.map((e) => [e.source, e.accountId, e.key])).to.deep.equal([
        ['server', 'alice', `${forgeNs(forge)}${SITE}:alice`],
        ['store', 'alice', `${forgeNs(forge)}${SITE}:alice`],
      ]);
      expect(events[0]!.expiresAtMS).to.be.closeTo(Date.now() + 3_600_000, 5_000);
      expect(b.storeAdoptions).to.equal(1);
      expect(forge.emu.counts.mint).to.equal(1);
      expectNoSecrets(events);
    });
  });

  describe('options and output', () => {
    it('rejects bad options at construction, naming the field', async () => {
      forge = await startForge();
      const exchanger = forge.exchanger();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ exchange: {} }, 'exchange'],
        [{ exchanger: {} }, 'exchanger'],
        [{}, 'exchanger'],
        [{ exchanger, exchange: exchanger }, 'exchange'],
        [{ exchanger, refreshBufferMS: -1 }, 'refreshBufferMS'],
        [{ exchanger, refreshBufferMS: 1_000, refreshBufferSeconds: 1 }, 'refreshBufferSeconds'],
        [{ exchanger, namespace: '' }, 'namespace'],
        [{ exchanger, refreshBufferSeconds: -1 }, 'refreshBufferSeconds'],
        [{ exchanger, rateLimit: { perMinute: 0 } }, 'rateLimit.perMinute'],
        [{ exchanger, rateLimit: { perMinute: 1.5 } }, 'rateLimit.perMinute'],
        [{ exchanger, queue: {} }, 'queue.add'],
        [{ exchanger, queue: forge.session().queue, rateLimit: { perMinute: 5 } }, 'rateLimit'],
        [{ exchanger, now: 5 }, 'now'],
        [{ exchanger, refreshBuffer: 5 }, 'options.refreshBuffer'],
      ];
      for (const [options, field] of cases) {
        const err = (() => {
          try {
            new UserSession(options as never);
          } catch (e) {
            return e as { code?: string; field?: string; message: string };
          }
          return undefined;
        })();
        expect(err, field).to.include({ code: 'ERR_INVALID_ARG_VALUE', field });
        expect(err!.message).to.include(`\`${field}\``);
      }
      expect(() => new UserSession({ exchanger, tokenStore: { read: 1 } as never }))
        .to.throw()
        .with.property('code', 'ERR_INVALID_TOKEN_STORE');
      const users = new UserSession({ exchanger });
      for (const bad of ['', 42, undefined, { toString: () => 'alice' }]) {
        let pending: Promise<string> | undefined;
        expect(() => {
          pending = users.getAccessToken(bad as never);
        }, String(bad)).to.not.throw();
        expect(await rejection(pending!)).to.include({ code: 'ERR_INVALID_ARG_VALUE', field: 'accountId' });
      }
      const unbound = users.getAccessToken;
      let pending: Promise<string> | undefined;
      expect(() => {
        pending = unbound('alice');
      }).to.not.throw();
      expect(await rejection(pending!)).to.be.instanceOf(TypeError);
      expect(() => users.forUser(undefined as never))
        .to.throw()
        .with.property('field', 'accountId');
    });

    it('never shows a token in inspect or JSON output, or in errors', async () => {
      forge = await startForge({ users: ['alice'] });
      const users = forge.session();
      const t = await userToken(users, 'alice');
      const err = await rejection(users.getAccessToken('mallory'));
      for (const value of [users, users.forUser('alice'), forge.exchanger(), err]) expectNoSecrets(value, [t, forge.systemToken]);
      expect(inspect(users)).to.include(`${forgeNs(forge)}${SITE}`);
    });

    it("queues a mint up again when 429s outlast the exchanger's retries", async () => {
      forge = await startForge();
      const users = forge.session({}, { retry: { maxAttempts: 2, baseDelayMS: 1, maxDelayMS: 1 } });
      forge.emu.inject('graphql', { status: 429, retryAfter: 0, times: 5 });
      expect(await userToken(users, 'alice')).to.match(/^ut_/);
      expect(forge.emu.requests('graphql').map((r) => r.status)).to.deep.equal([429, 429, 429, 429, 429, 200]);
    });

    it('a 429 that never ends surfaces as a transient TokenRequestError, not an expiry', async () => {
      forge = await startForge();
      const users = forge.session({}, { retry: { maxAttempts: 2, baseDelayMS: 1, maxDelayMS: 1 } });
      const attempts = 2 * (MAX_RATE_LIMIT_REQUEUES + 1);
      forge.emu.inject('graphql', { status: 429, retryAfter: 0, times: attempts });
      const err = await rejection(users.getAccessToken('alice'));
      expect(err).to.be.instanceOf(TokenRequestError);
      expect(err).to.include({ status: 429, transient: true, code: 'ERR_TOKEN_REQUEST' });
      expect(forge.emu.counts.graphql).to.equal(attempts);
      expect(await userToken(users, 'alice')).to.match(/^ut_/);
    });
  });
});
