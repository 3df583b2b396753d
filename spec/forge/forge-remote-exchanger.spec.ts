import { inspect } from 'node:util';
import { expect } from 'chai';
import sinon from 'sinon';
import { MockAgent } from 'undici';
import { ImpersonationError, InvalidArgumentError, SystemTokenExpiredError, TokenRequestError } from '../../lib/errors.js';
import {
  DEFAULT_FORGE_GATEWAY_URL,
  OFFLINE_USER_AUTH_TOKEN_MUTATION,
  forgeRemoteExchanger,
} from '../../lib/forge/forge-remote-exchanger.js';
import { settle, useFakeClock, waitFor } from '../support/clock.js';
import { expectNoSecrets, recordSecret, rejection } from '../support/secrets.js';
import { FAST_RETRY, SITE, startForge, type Forge } from '../session/user-session/support.js';

const INSTALLATION_ARI = 'ari:cloud:ecosystem::installation/5b6c2f1e-0000-4000-8000-000000000001';

describe('forgeRemoteExchanger', () => {
  let forge: Forge;
  afterEach(async () => {
    sinon.restore();
    await forge?.emu.close();
  });

  async function mint(exchanger = forge.exchanger(), accountId = 'alice') {
    const info = await exchanger.exchange(accountId);
    recordSecret(info.accessToken);
    return info;
  }

  describe('the documented wire format', () => {
    it('POSTs the mutation with the system token, and reads ttl as seconds (errors null or [])', async () => {
      forge = await startForge({ forge: { userTokenTTLSeconds: 900 } });
      const before = Date.now();
      const first = await mint();
      const req = forge.emu.lastRequest('graphql')!;
      expect(req).to.include({ method: 'POST', path: '/graphql', status: 200 });
      expect(req.headers).to.include({
        authorization: `Bearer ${forge.systemToken}`,
        'content-type': 'application/json',
        accept: 'application/json',
      });
      expect(req.body).to.deep.equal({
        query: OFFLINE_USER_AUTH_TOKEN_MUTATION,
        variables: { input: { contextIds: [SITE], userId: 'alice' } },
      });
      expect(OFFLINE_USER_AUTH_TOKEN_MUTATION).to.equal(
        'mutation forge_remote_offlineUserAuthToken($input: OfflineUserAuthTokenInput!) { offlineUserAuthToken(input: $input) { success ' +
          'errors { message } authToken { token ttl } } }',
      );
      expect(first).to.include({ accessTokenTTLMS: 900_000, tokenType: 'Bearer' });
      expect(first.acquiredAtMS).to.be.within(before, Date.now());
      expect(forge.emu.forge.userTokenState(first.accessToken)).to.equal('active');
      const second = await mint(); // the emulator answers errors: [] this time (null the first)
      expect(second.accessToken).to.not.equal(first.accessToken);
      expect(forge.emu.counts.mint).to.equal(2);
    });

    it('sends to https://api.atlassian.com/graphql by default, and describes itself by context', async () => {
      const agent = new MockAgent();
      agent.disableNetConnect();
      agent
        .get('https://api.atlassian.com')
        .intercept({ path: '/graphql', method: 'POST' })
        .reply(200, {
          data: { offlineUserAuthToken: { success: true, errors: null, authToken: { token: 'ut_from_the_mock_gateway', ttl: 60 } } },
        });
      const exchanger = forgeRemoteExchanger({ systemToken: 'opaque-system-token', contextAri: SITE, dispatcher: agent });
      expect(DEFAULT_FORGE_GATEWAY_URL).to.equal('https://api.atlassian.com/graphql');
      expect((await exchanger.exchange('alice')).accessTokenTTLMS).to.equal(60_000);
      expect(exchanger.describe()).to.equal(`forge:api.atlassian.com:${SITE}`);
      await agent.close();
    });

    it('describes itself by its full identity: gateway, installation and context', () => {
      const a = forgeRemoteExchanger({ systemToken: 'opaque-system-token', contextAri: SITE, installationId: 'app-a' });
      const b = forgeRemoteExchanger({ systemToken: 'opaque-system-token', contextAri: SITE, installationId: 'app-b' });
      const fromSource = forgeRemoteExchanger({
        systemToken: Object.assign(async () => 'x', { installationId: 'app-c' }),
        contextAri: SITE,
      });
      const otherGateway = forgeRemoteExchanger({
        systemToken: 'opaque-system-token',
        contextAri: SITE,
        installationId: 'app-a',
        gatewayUrl: 'https://gw.example/graphql',
      });
      expect(a.describe()).to.equal(`forge:api.atlassian.com:app-a:${SITE}`);
      expect(new Set([a.describe(), b.describe(), fromSource.describe(), otherGateway.describe()]).size).to.equal(4);
      expect(fromSource.describe()).to.contain('app-c');
    });
  });

  describe('refusals and failures', () => {
    it('success: false rejects with ImpersonationError carrying the server messages and the usual causes', async () => {
      forge = await startForge({ users: ['alice'] });
      const err = (await rejection(mint(undefined, 'mallory'))) as ImpersonationError;
      expect(err).to.be.instanceOf(ImpersonationError);
      expect(err).to.include({ code: 'ERR_IMPERSONATION', accountId: 'mallory' });
      expect(err.messages).to.deep.equal([`Could not load permissions for app user in the provided contextIds of [${SITE}]`]);
      for (const hint of [
        err.messages[0]!,
        'ari:cloud:jira::site/{cloudId}',
        'ari:cloud:ecosystem::installation/',
        'allowImpersonation: true',
        'forge deploy',
        'forge install --upgrade',
      ]) {
        expect(err.message).to.include(hint);
      }
    });

    it('says so when contextAri is an installation ARI', async () => {
      forge = await startForge();
      const err = await rejection(mint(forge.exchanger({ contextAri: INSTALLATION_ARI })));
      expect(err).to.be.instanceOf(ImpersonationError);
      expect(err.message).to.include('`contextAri` is an installation ARI, which is not a context');
    });

    it('GraphQL errors at the top level and malformed answers are TokenRequestError', async () => {
      forge = await startForge();
      forge.emu.inject('graphql', { status: 200, body: { errors: [{ message: 'Cannot query field "offlineUserAuthToken"' }] } });
      let err = await rejection(mint());
      expect(err).to.be.instanceOf(TokenRequestError);
      expect(err.message).to.include('Cannot query field');
      forge.emu.inject('graphql', { status: 400, body: { errors: [{ message: 'Variable "$input" was not provided' }] } });
      err = await rejection(mint());
      expect(err).to.include({ code: 'ERR_TOKEN_REQUEST', status: 400 });
      expect(err.message).to.include('Variable "$input" was not provided');
      const bad = [
        { data: null },
        { data: { offlineUserAuthToken: { success: 'yes' } } },
        { data: { offlineUserAuthToken: { success: true, errors: [], authToken: null } } },
        { data: { offlineUserAuthToken: { success: true, errors: [], authToken: { token: '', ttl: 60 } } } },
        { data: { offlineUserAuthToken: { success: true, errors: [], authToken: { token: 'ut_ok_token_value', ttl: '60' } } } },
      ];
      for (const body of bad) {
        forge.emu.inject('graphql', { status: 200, body });
        expect(await rejection(mint()))
          .to.be.instanceOf(TokenRequestError)
          .and.have.property('message')
          .that.includes('malformed answer');
      }
      forge.emu.inject('graphql', { malformed: true, times: 4 });
      expect(await rejection(mint())).to.include({ code: 'ERR_TOKEN_REQUEST', transient: true });
      expect(forge.emu.counts.graphql).to.equal(2 + bad.length + 4);
    });

    it('a system token the gateway refuses (401) is SystemTokenExpiredError, not an expired user token', async () => {
      forge = await startForge();
      forge.emu.forge.expireSystemToken(forge.systemToken);
      const err = await rejection(mint());
      expect(err).to.be.instanceOf(SystemTokenExpiredError).and.include({ code: 'ERR_SYSTEM_TOKEN_EXPIRED' });
      expect(err.message).to.include('refused the app system token (HTTP 401)').and.include('scheduled trigger (hourly)');
      expect((err.cause as { status?: number }).status).to.equal(401);
      expect(forge.emu.counts.graphql).to.equal(1);
    });

    it('retries 429 after Retry-After and 5xx with backoff', async () => {
      const clock = useFakeClock();
      forge = await startForge();
      forge.emu.inject('graphql', { status: 429, retryAfter: 2 }, { status: 503 });
      const p = settle(mint(forge.exchanger({ retry: { baseDelayMS: 100, maxDelayMS: 100 } })));
      await waitFor(() => forge.emu.counts.graphql === 1, 'first attempt');
      await clock.tickAsync(1_999);
      expect(forge.emu.counts.graphql).to.equal(1);
      await clock.tickAsync(1);
      await waitFor(() => forge.emu.counts.graphql === 2, 'retry after Retry-After');
      await clock.tickAsync(100);
      await waitFor(p.done, 'third attempt');
      expect((await p.result).ok).to.equal(true);
      expect(forge.emu.requests('graphql').map((r) => r.status)).to.deep.equal([429, 503, 200]);
    });
  });

  describe('the system token', () => {
    it('rejects before any request when it is missing, empty or past its JWT exp; an opaque string is sent as is', async () => {
      forge = await startForge();
      const cases: Array<[Parameters<typeof forge.exchanger>[0], string]> = [
        [{ systemToken: () => '' }, 'ERR_NO_SYSTEM_TOKEN'],
        [{ systemToken: (() => undefined) as never }, 'ERR_NO_SYSTEM_TOKEN'],
        [
          {
            systemToken: async () => {
              throw new Error('vault unreachable');
            },
          },
          'ERR_NO_SYSTEM_TOKEN',
        ],
        [
          {
            systemToken: async () => {
              throw new SystemTokenExpiredError('ERR_SYSTEM_TOKEN_EXPIRED', 'from the cache');
            },
          },
          'ERR_SYSTEM_TOKEN_EXPIRED',
        ],
        [{ now: () => Date.now() + 2 * 3_600_000 }, 'ERR_SYSTEM_TOKEN_EXPIRED'],
        [{ systemToken: async () => forge.systemToken, now: () => Date.now() + 2 * 3_600_000 }, 'ERR_SYSTEM_TOKEN_EXPIRED'],
      ];
      for (const [options, code] of cases) {
        const err = await rejection(mint(forge.exchanger(options)));
        expect(err, code).to.be.instanceOf(SystemTokenExpiredError).and.include({ code });
        expectNoSecrets(err, [forge.systemToken]);
      }
      expect(forge.emu.counts.graphql).to.equal(0);
      const opaque = await rejection(mint(forge.exchanger({ systemToken: 'an-opaque-system-token' })));
      expect(opaque).to.include({ code: 'ERR_SYSTEM_TOKEN_EXPIRED' }); // sent, and refused by the gateway
      expect(forge.emu.lastRequest('graphql')!.headers.authorization).to.equal('Bearer an-opaque-system-token');
    });

    it('accepts a function (called per mint) and never shows the token in errors or output', async () => {
      forge = await startForge({ users: ['alice'] });
      const source = sinon.spy(async () => forge.systemToken);
      const exchanger = forge.exchanger({ systemToken: source });
      await mint(exchanger);
      await mint(exchanger);
      expect(source.callCount).to.equal(2);
      const err = await rejection(mint(exchanger, 'mallory'));
      for (const value of [err, exchanger, forge.exchanger(), inspect(exchanger), JSON.stringify(exchanger)])
        expectNoSecrets(value, [forge.systemToken]);
    });
  });

  it('validates its options at construction, naming the field', async () => {
    forge = await startForge();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ contextAri: SITE }, 'systemToken'],
      [{ systemToken: '', contextAri: SITE }, 'systemToken'],
      [{ systemToken: 'tok-12345678' }, 'contextAri'],
      [{ systemToken: 'tok-12345678', contextAri: 'site-1' }, 'contextAri'],
      [{ systemToken: 'tok-12345678', contextAri: SITE, gatewayUrl: 'ftp://gateway' }, 'gatewayUrl'],
      [{ systemToken: 'tok-12345678', contextAri: SITE, retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
      [{ systemToken: 'tok-12345678', contextAri: SITE, dispatcher: {} }, 'dispatcher'],
      [{ systemToken: 'tok-12345678', contextAri: SITE, now: 'now' }, 'now'],
      [{ systemToken: 'tok-12345678', contextAri: SITE, gateway: 'x' }, 'options.gateway'],
    ];
    for (const [options, field] of cases) {
      expect(() => forgeRemoteExchanger(options as never), field)
        .to.throw(InvalidArgumentError)
        .with.property('field', field);
    }
    const err = await rejection(forge.exchanger().exchange(''));
    expect(err).to.be.instanceOf(InvalidArgumentError).and.include({ field: 'accountId' });
    expect(FAST_RETRY.timeoutMS).to.be.greaterThan(0);
  });
});
