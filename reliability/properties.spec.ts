import { expect } from 'chai';
import fc from 'fast-check';
import Keyv from 'keyv';
import { SessionError, TokenRequestError } from '../lib/errors.js';
import { parseTokenResponse } from '../lib/oauth/token-response.js';
import { KeyvTokenStore } from '../lib/store/keyv-token-store.js';
import { PersistentSession } from '../lib/session/persistent-session.js';
import { SystemTokenCache, UserSession, forgeRemoteExchanger, oauthTokenExchanger } from '../lib/index.js';
import { validateTokenInfo } from '../lib/token/token-info.js';
import { startEmulator, type Emulator } from '../lib/emulator/index.js';

/** Runs `fn`; it must return normally or throw a SessionError, nothing else. */
function typedOrOk(fn: () => unknown): 'ok' | string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    expect(err, `threw ${String(err)}`).to.be.instanceOf(SessionError);
    expect((err as SessionError).code).to.match(/^ERR_[A-Z_]+$/);
    return (err as SessionError).code;
  }
}

const anyValue = fc.oneof(fc.anything(), fc.string(), fc.double(), fc.constantFrom(undefined, null, NaN, Infinity, -1, 0, '', ' ', [], {}));

const tokenInfoLike = fc.record(
  {
    accessToken: fc.oneof(fc.string(), anyValue),
    refreshToken: fc.option(fc.oneof(fc.string(), anyValue), { nil: undefined }),
    accessTokenTTLMS: fc.oneof(fc.double(), fc.integer(), anyValue),
    acquiredAtMS: fc.oneof(fc.double(), fc.integer(), anyValue),
    scope: fc.option(anyValue, { nil: undefined }),
    tokenType: fc.option(anyValue, { nil: undefined }),
  },
  { requiredKeys: [] },
);

describe('properties: arbitrary input gives a result or a typed SessionError', () => {
  it('validateTokenInfo', () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(tokenInfoLike, anyValue), (v) => {
        codes.add(typedOrOk(() => validateTokenInfo(v)));
      }),
      { numRuns: 2_000 },
    );
    expect(codes.has('ok')).to.equal(true);
    expect(codes.has('ERR_INVALID_TOKEN_INFO')).to.equal(true);
  });

  it('PersistentSession constructor', () => {
    const client = fc.record(
      {
        tokenEndpoint: fc.oneof(fc.constant('https://auth.example/token'), fc.webUrl(), anyValue),
        clientId: fc.oneof(fc.constant('id'), anyValue),
        clientSecret: fc.option(fc.oneof(fc.constant('secret'), anyValue), { nil: undefined }),
        authMethod: fc.option(fc.constantFrom('client_secret_basic', 'client_secret_post', 'none', 'bogus'), { nil: undefined }),
        revocationEndpoint: fc.option(fc.oneof(fc.webUrl(), anyValue), { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const options = fc.record(
      {
        client: fc.oneof(client, anyValue),
        tokenInfo: fc.option(fc.oneof(tokenInfoLike, anyValue), { nil: undefined }),
        tokenStore: fc.option(anyValue, { nil: undefined }),
        key: fc.option(anyValue, { nil: undefined }),
        expiredBufferMS: fc.option(fc.oneof(fc.double(), anyValue), { nil: undefined }),
        refreshBufferMS: fc.option(fc.oneof(fc.double(), anyValue), { nil: undefined }),
        retry: fc.option(fc.oneof(fc.record({ maxAttempts: anyValue, timeoutMS: anyValue }, { requiredKeys: [] }), anyValue), {
          nil: undefined,
        }),
        now: fc.option(anyValue, { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const codes = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(options, anyValue), (o) => {
        codes.add(typedOrOk(() => new PersistentSession(o as never)));
      }),
      { numRuns: 2_000 },
    );
    expect([...codes].some((c) => c.startsWith('ERR_'))).to.equal(true);
  });

  it('UserSession, forgeRemoteExchanger, oauthTokenExchanger, SystemTokenCache and KeyvTokenStore constructors', () => {
    const exchanger = { exchange: async () => ({ accessToken: 'x', accessTokenTTLMS: 1, acquiredAtMS: 1 }), describe: () => 'test' };
    const userOptions = fc.record(
      {
        exchanger: fc.oneof(fc.constant(exchanger), anyValue),
        tokenStore: fc.option(anyValue, { nil: undefined }),
        namespace: fc.option(fc.oneof(fc.string(), anyValue), { nil: undefined }),
        refreshBufferSeconds: fc.option(fc.oneof(fc.double(), anyValue), { nil: undefined }),
        refreshBufferMS: fc.option(fc.oneof(fc.double(), anyValue), { nil: undefined }),
        rateLimit: fc.option(
          fc.oneof(fc.record({ perMinute: fc.oneof(fc.integer(), fc.double(), anyValue) }, { requiredKeys: [] }), anyValue),
          { nil: undefined },
        ),
        now: fc.option(anyValue, { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const forgeOptions = fc.record(
      {
        systemToken: fc.oneof(fc.string(), anyValue),
        contextAri: fc.oneof(fc.constant('ari:cloud:jira::site/abc'), fc.string(), anyValue),
        gatewayUrl: fc.option(fc.oneof(fc.webUrl(), anyValue), { nil: undefined }),
        installationId: fc.option(anyValue, { nil: undefined }),
        retry: fc.option(anyValue, { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const oauthOptions = fc.record(
      {
        subjectToken: fc.option(fc.oneof(fc.string(), anyValue), { nil: undefined }),
        session: fc.option(anyValue, { nil: undefined }),
        client: fc.oneof(fc.constant({ tokenEndpoint: 'https://auth.example/token', clientId: 'id', clientSecret: 's' }), anyValue),
        scope: fc.option(fc.oneof(fc.string(), fc.array(fc.string()), anyValue), { nil: undefined }),
        requestedSubjectParameter: fc.option(anyValue, { nil: undefined }),
      },
      { requiredKeys: [] },
    );
    const codes = new Set<string>();
    fc.assert(
      fc.property(fc.oneof(userOptions, anyValue), (o) => {
        codes.add(typedOrOk(() => new UserSession(o as never)));
      }),
      { numRuns: 1_000 },
    );
    fc.assert(
      fc.property(fc.oneof(forgeOptions, anyValue), (o) => {
        codes.add(typedOrOk(() => forgeRemoteExchanger(o as never)));
      }),
      { numRuns: 1_000 },
    );
    fc.assert(
      fc.property(fc.oneof(oauthOptions, anyValue), (o) => {
        codes.add(typedOrOk(() => oauthTokenExchanger(o as never)));
      }),
      { numRuns: 1_000 },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.record({ tokenStore: anyValue, now: anyValue, namespace: anyValue }, { requiredKeys: [] }), anyValue),
        (o) => {
          codes.add(typedOrOk(() => new SystemTokenCache(o as never)));
        },
      ),
      { numRuns: 1_000 },
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(undefined), fc.string(), anyValue),
        fc.oneof(
          fc.record({ namespace: anyValue, encryptionKey: anyValue, operationTimeoutMS: anyValue }, { requiredKeys: [] }),
          fc.constant(undefined),
        ),
        (uri, o) => {
          // Only shapes that cannot open a network connection: no redis:// or postgres:// with real hosts.
          if (typeof uri === 'string' && /^(redis|rediss|postgres|postgresql|sqlite):/i.test(uri)) return;
          codes.add(typedOrOk(() => new KeyvTokenStore(uri as never, o as never)));
        },
      ),
      { numRuns: 1_000 },
    );
    expect(codes.has('ok')).to.equal(true);
    expect(codes.has('ERR_INVALID_ARG_VALUE')).to.equal(true);
  });

  it('token response parsing', () => {
    const body = fc.oneof(
      anyValue,
      fc.record(
        {
          access_token: fc.oneof(fc.string(), anyValue),
          refresh_token: fc.option(fc.oneof(fc.string(), anyValue), { nil: undefined }),
          expires_in: fc.option(fc.oneof(fc.integer(), fc.double(), fc.string(), anyValue), { nil: undefined }),
          token_type: fc.option(anyValue, { nil: undefined }),
          scope: fc.option(anyValue, { nil: undefined }),
        },
        { requiredKeys: [] },
      ),
    );
    const codes = new Set<string>();
    fc.assert(
      fc.property(body, (b) => {
        codes.add(typedOrOk(() => parseTokenResponse({ status: 200, headers: {}, body: b, serverDateMS: undefined }, 'Token refresh')));
      }),
      { numRuns: 2_000 },
    );
    expect(codes.has('ERR_TOKEN_REQUEST')).to.equal(true);
  });

  it('store records: any raw value reads as a TokenInfo or as absent, never as garbage', async () => {
    const keyv = new Keyv();
    const warnings: string[] = [];
    const store = new KeyvTokenStore(keyv, { onWarning: (w) => warnings.push(w.code) });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.json(),
          anyValue.filter((v) => typeof v !== 'symbol' && typeof v !== 'function'),
        ),
        async (raw) => {
          await keyv.set('k', raw as never).catch(() => {});
          const got = await store.read('k');
          if (got !== undefined) {
            expect(got.accessToken).to.be.a('string').and.not.equal('');
            expect(got.accessTokenTTLMS).to.be.greaterThan(0);
          }
        },
      ),
      { numRuns: 1_000 },
    );
    expect(warnings.length).to.be.greaterThan(0);
  });

  describe('end to end through the emulator', () => {
    let emu: Emulator;
    before(async () => {
      emu = await startEmulator();
    });
    after(async () => {
      await emu.close();
    });

    it('any JSON answer to a refresh gives a token string or a typed error, never a hang', async function () {
      this.timeout(60_000);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.json(), fc.record({ access_token: fc.string(), expires_in: anyValue }, { requiredKeys: [] })),
          fc.constantFrom(200, 400, 401, 403, 500),
          async (json, status) => {
            const issued = emu.issueTokens();
            emu.expireAccessToken(issued.accessToken);
            const session = new PersistentSession({
              tokenInfo: { accessToken: issued.accessToken, refreshToken: issued.refreshToken, accessTokenTTLMS: 1000, acquiredAtMS: 1 },
              client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' },
              retry: { maxAttempts: 1, timeoutMS: 2_000 },
            });
            let body: unknown;
            try {
              body = JSON.parse(json as string);
            } catch {
              body = json;
            }
            emu.inject('token', { status, body });
            try {
              const t = await session.getAccessToken();
              expect(t).to.be.a('string').and.not.equal('');
            } catch (err) {
              expect(err).to.be.instanceOf(SessionError);
              if (status === 200) expect(err).to.be.instanceOf(TokenRequestError);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
