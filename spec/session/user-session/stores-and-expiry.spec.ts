import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { request } from 'undici';
import { authorizedFetch } from '../../../lib/fetch/authorized-fetch.js';
import { TokenStoreError } from '../../../lib/errors.js';
import { markRejectedToken } from '../../../lib/session/refusals.js';
import { KeyvTokenStore, createTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { jsonStore } from '../../support/json-store.js';
import { recordSecret, rejection } from '../../support/secrets.js';
import { CLOUD_ID, OTHER_SITE, SITE, accounts, startForge, userToken, type Forge, forgeNs } from './support.js';

describe('UserSession: stores, revocation and expired tokens', () => {
  let forge: Forge;
  let dir: string;
  const stores: KeyvTokenStore[] = [];
  const sqlite = () => {
    const s = createTokenStore(`sqlite://${join(dir, 'tokens.sqlite')}`);
    stores.push(s);
    return s;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'user-session-'));
  });
  afterEach(async () => {
    sinon.restore();
    await forge?.emu.close();
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('stores, namespaces and locks', () => {
    it('namespaces default to the exchanger description and isolate installations sharing a store', async () => {
      forge = await startForge();
      const other = forge.emu.forge.issueSystemToken({ contextAri: OTHER_SITE });
      recordSecret(other);
      const store = sqlite();
      const a = forge.session({ tokenStore: store });
      const b = forge.session({ tokenStore: store }, { systemToken: other, contextAri: OTHER_SITE });
      expect(a.namespace).to.equal(`${forgeNs(forge)}${SITE}`);
      expect(b.namespace).to.equal(`${forgeNs(forge)}${OTHER_SITE}`);
      const ta = await userToken(a, 'alice');
      const tb = await userToken(b, 'alice');
      expect(ta).to.not.equal(tb);
      expect(forge.emu.counts.mint).to.equal(2);
      expect(await store.keys(forgeNs(forge))).to.deep.equal(
        [`${forgeNs(forge)}${OTHER_SITE}:alice`, `${forgeNs(forge)}${SITE}:alice`].sort(),
      );
    });

    it('two sessions sharing a SQLite store (with its lock) mint each user once', async () => {
      forge = await startForge();
      const store = sqlite();
      const a = forge.session({ tokenStore: store });
      const b = forge.session({ tokenStore: store });
      const ids = accounts(10);
      const all = await Promise.all([...ids, ...ids].flatMap((id) => [userToken(a, id), userToken(b, id)]));
      expect(forge.emu.counts.mint).to.equal(10);
      expect(new Set(all).size).to.equal(10);
      expect(a.mints + b.mints).to.equal(10);
      expect(a.storeAdoptions + b.storeAdoptions).to.equal(10);
    });

    it('revokeTokens() forgets every user of the session, in memory and store, and no user of another installation', async () => {
      forge = await startForge();
      const other = forge.emu.forge.issueSystemToken({ contextAri: OTHER_SITE });
      recordSecret(other);
      const store = sqlite();
      const a = forge.session({ tokenStore: store });
      const aElsewhere = forge.session({ tokenStore: store }); // same installation, another worker
      const b = forge.session({ tokenStore: store }, { systemToken: other, contextAri: OTHER_SITE });
      const ids = accounts(5);
      await Promise.all(ids.map((id) => userToken(a, id)));
      await userToken(aElsewhere, 'only-elsewhere');
      const bTokens = await Promise.all(ids.map((id) => userToken(b, id)));
      expect(forge.emu.counts.mint).to.equal(11);
      const revoked: string[] = [];
      a.on('revoke', (e) => revoked.push(e.key));
      await a.revokeTokens();
      expect(a.size).to.equal(0);
      expect(await store.keys(`${a.namespace}:`)).to.deep.equal([]);
      expect(revoked.sort()).to.deep.equal([...ids, 'only-elsewhere'].map((id) => `${a.namespace}:${id}`).sort());
      expect(await store.keys(`${b.namespace}:`)).to.have.length(5);
      expect(await Promise.all(ids.map((id) => b.getAccessToken(id)))).to.deep.equal(bTokens);
      expect(forge.emu.counts.mint).to.equal(11);
      await Promise.all(ids.map((id) => userToken(a, id)));
      expect(forge.emu.counts.mint).to.equal(16);
    });

    it('revokeTokens(accountId) forgets only that user, and a mint that was running keeps nothing', async () => {
      forge = await startForge();
      const store = new KeyvTokenStore();
      stores.push(store);
      const users = forge.session({ tokenStore: store });
      await userToken(users, 'alice');
      await userToken(users, 'bob');
      await users.revokeTokens('alice');
      expect(await store.read(`${users.namespace}:alice`)).to.equal(undefined);
      expect(await store.read(`${users.namespace}:bob`)).to.not.equal(undefined);
      forge.emu.inject('graphql', { delayMS: 50 });
      const running = userToken(users, 'carol');
      await new Promise((r) => setTimeout(r, 10));
      await users.revokeTokens('carol');
      expect(await running).to.match(/^ut_/);
      expect(await store.read(`${users.namespace}:carol`)).to.equal(undefined);
      await userToken(users, 'carol');
      expect(forge.emu.counts.mint).to.equal(4);
    });

    it('a failed store write rejects with TokenStoreError once; the token is kept in memory', async () => {
      forge = await startForge();
      const store: TokenStore = {
        read: async () => undefined,
        write: async () => {
          throw new Error('disk full');
        },
        clear: async () => {},
      };
      const users = forge.session({ tokenStore: store });
      const err = await rejection(users.getAccessToken('alice'));
      expect(err).to.be.instanceOf(TokenStoreError);
      expect(await userToken(users, 'alice')).to.match(/^ut_/);
      expect(forge.emu.counts.mint).to.equal(1);
    });
  });

  describe('expired tokens', () => {
    it('a store without TTL holding a well-formed but expired record: 1 mint, the expired token never handed out (lesson 5)', async () => {
      forge = await startForge();
      const store = jsonStore();
      const users = forge.session({ tokenStore: store });
      const key = `${users.namespace}:alice`;
      // Written 2 h ago with a 1 h lifetime, and never evicted: nothing but its own fields says it is dead.
      const stale = { accessToken: 'ut_expired-but-well-formed', accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() - 7_200_000 };
      recordSecret(stale.accessToken);
      store.map.set(key, JSON.stringify(stale));
      const tokens = await Promise.all(Array.from({ length: 20 }, () => userToken(users, 'alice')));
      expect(tokens).to.not.include(stale.accessToken);
      expect(new Set(tokens).size).to.equal(1);
      expect(forge.emu.tokenState(tokens[0]!)).to.equal('active');
      expect(forge.emu.counts.mint).to.equal(1);
      expect(JSON.parse(store.map.get(key)!).accessToken).to.equal(tokens[0]);
      expect(await userToken(users, 'alice')).to.equal(tokens[0]);
      expect(forge.emu.counts.mint).to.equal(1);
    });

    it('handleExpiredTokensError forgets a refused token so that the next call mints again', async () => {
      forge = await startForge();
      const store = new KeyvTokenStore();
      stores.push(store);
      const alice = forge.session({ tokenStore: store }).forUser('alice');
      const t1 = await alice.getAccessToken();
      recordSecret(t1);
      forge.emu.forge.revokeUserToken(t1);
      const res = await request(`${forge.emu.productApiUrl(CLOUD_ID)}/rest/api/3/myself`, { headers: { authorization: `Bearer ${t1}` } });
      await res.body.dump();
      expect(res.statusCode).to.equal(401);
      const apiErr = Object.assign(new Error('401 from Jira'), { status: 401 });
      markRejectedToken(apiErr, t1);
      expect(await alice.handleExpiredTokensError(apiErr)).to.equal(apiErr);
      expect(await store.read(`${forgeNs(forge)}${SITE}:alice`)).to.equal(undefined);
      const t2 = await alice.getAccessToken();
      recordSecret(t2);
      expect(t2).to.not.equal(t1);
      // A late report about t1 (already replaced) and a transient failure forget nothing.
      await alice.handleExpiredTokensError(apiErr);
      await alice.handleExpiredTokensError(Object.assign(new Error('503'), { status: 503 }));
      expect(await alice.getAccessToken()).to.equal(t2);
      expect(forge.emu.counts.mint).to.equal(2);
      await alice.revokeTokens();
      expect(await store.read(`${forgeNs(forge)}${SITE}:alice`)).to.equal(undefined);
    });
  });

  it('authorizedFetch with a forUser view: a revoked user token is re-minted once and the call retried', async () => {
    forge = await startForge();
    const users = forge.session();
    const alice = users.forUser('alice');
    const t1 = await alice.getAccessToken();
    recordSecret(t1);
    forge.emu.forge.revokeUserToken(t1);
    const res = await authorizedFetch(alice, `${forge.emu.productApiUrl(CLOUD_ID)}/rest/api/3/myself`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.include({ accountId: 'alice', cloudId: CLOUD_ID });
    expect(forge.emu.counts.mint).to.equal(2);
    recordSecret(await alice.getAccessToken());
  });
});
