// UserSession and SystemTokenCache validate every record a hand-written store returns (reads go
// through lib/store/store-io.ts): a record such as `{ accessToken: { x: 1 } }` reads as absent, with
// a warning, and getAccessToken() never resolves with anything but a string.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { SessionError } from '../../../lib/errors.js';
import { SystemTokenCache } from '../../../lib/forge/system-token-cache.js';
import type { TokenInfo } from '../../../lib/token/token-info.js';
import type { TokenStore } from '../../../lib/store/token-store.js';
import { UserSession } from '../../../lib/session/user-session.js';
import { jsonStore } from '../../support/json-store.js';
import { recordSecret } from '../../support/secrets.js';

/** Records that are not TokenInfo values, each as a hand-written store could hold it. */
const MALFORMED: Array<[string, unknown]> = [
  ['an object as accessToken', { accessToken: { x: 1 }, accessTokenTTLMS: '3600000', acquiredAtMS: Date.now() }],
  ['a number as accessToken', { accessToken: 12345, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() }],
  ['an empty accessToken', { accessToken: '', accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() }],
  ['a string ttl', { accessToken: 'looks-fine-but-ttl-is-text', accessTokenTTLMS: '3600000', acquiredAtMS: Date.now() }],
  ['no acquiredAtMS', { accessToken: 'looks-fine-but-no-acquired-at', accessTokenTTLMS: 3_600_000 }],
  ['an array', [1, 2, 3]],
  ['a string', 'just a string'],
  ['a number', 42],
];

function exchanger(namespace = 'ns') {
  const minted: string[] = [];
  return {
    minted,
    exchange: async (): Promise<TokenInfo> => {
      const accessToken = `user-${randomUUID()}`;
      recordSecret(accessToken);
      minted.push(accessToken);
      return { accessToken, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() };
    },
    describe: () => namespace,
  };
}

describe('store records are validated before use', () => {
  let warnings: sinon.SinonStub;
  beforeEach(() => {
    warnings = sinon.stub(process, 'emitWarning');
  });

  describe('UserSession', () => {
    for (const [what, record] of MALFORMED) {
      it(`treats ${what} as absent: getAccessToken mints and resolves with a string`, async () => {
        const store = jsonStore();
        store.map.set('ns:u1', JSON.stringify(record));
        const ex = exchanger();
        const users = new UserSession({ exchanger: ex, tokenStore: store });
        const token = await users.getAccessToken('u1');
        expect(token).to.be.a('string');
        expect(token).to.equal(ex.minted[0]);
        expect(users.storeAdoptions).to.equal(0);
        expect(JSON.parse(store.map.get('ns:u1')!)).to.have.property('accessToken', token);
        const codes = warnings.getCalls().map((c) => (c.args[1] as { code?: string } | undefined)?.code);
        expect(codes).to.include('PERSISTENT_SESSION_INVALID_RECORD');
      });
    }

    it('never resolves with a non-string: a mint that fails rejects with a SessionError, a store that throws one too', async () => {
      const store = jsonStore();
      store.map.set('ns:u1', JSON.stringify(MALFORMED[0]![1]));
      const users = new UserSession({
        exchanger: { exchange: async () => ({ accessToken: { x: 1 } }) as unknown as TokenInfo, describe: () => 'ns' },
        tokenStore: store,
      });
      const bad = await users.getAccessToken('u1').then(
        (v) => ({ resolved: v }),
        (e: unknown) => e,
      );
      expect(bad).to.be.instanceOf(SessionError);
      expect(bad).to.have.property('code', 'ERR_INVALID_TOKEN_INFO');

      const throwing: TokenStore = { ...jsonStore(), read: () => Promise.reject('not even an Error') };
      const users2 = new UserSession({ exchanger: exchanger(), tokenStore: throwing });
      const err = await users2.getAccessToken('u1').then(
        (v) => ({ resolved: v }),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(SessionError);
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
    });

    it('handleExpiredTokensError over a malformed record forgets nothing it cannot read and does not throw', async () => {
      const store = jsonStore();
      store.map.set('ns:u1', JSON.stringify(MALFORMED[0]![1]));
      const users = new UserSession({ exchanger: exchanger(), tokenStore: store });
      const original = new Error('401');
      expect(await users.handleExpiredTokensError(original, 'u1')).to.equal(original);
    });
  });

  describe('SystemTokenCache', () => {
    for (const [what, record] of MALFORMED) {
      it(`treats ${what} as absent: get() rejects with ERR_NO_SYSTEM_TOKEN, source() never yields a non-string`, async () => {
        const store = jsonStore();
        store.map.set('forge-system-token:inst-1', JSON.stringify(record));
        const cache = new SystemTokenCache({ tokenStore: store });
        const err = await cache
          .source('inst-1')()
          .then(
            (v) => ({ resolved: v }),
            (e: unknown) => e,
          );
        expect(err).to.be.instanceOf(SessionError);
        expect(err).to.have.property('code', 'ERR_NO_SYSTEM_TOKEN');
      });
    }
  });
});
