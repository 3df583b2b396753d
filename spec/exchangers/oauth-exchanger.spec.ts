import { expect } from 'chai';
import { request } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import { InvalidArgumentError, TokenRequestError } from '../../lib/errors.js';
import {
  DEFAULT_REQUESTED_SUBJECT_PARAMETER,
  oauthTokenExchanger,
  type OAuthTokenExchangerOptions,
} from '../../lib/exchangers/oauth-exchanger.js';
import { UserSession } from '../../lib/session/user-session.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { expectNoSecrets, recordSecret, rejection } from '../support/secrets.js';
import { FAST_RETRY, accounts } from '../session/user-session/support.js';

describe('oauthTokenExchanger', () => {
  let emu: Emulator;
  afterEach(async () => {
    await emu?.close();
  });

  const client = () => ({ tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' });
  function exchanger(options: Partial<OAuthTokenExchangerOptions> = {}) {
    const { tokenInfo } = seed(emu);
    return oauthTokenExchanger({ session: sessionFor(emu, { tokenInfo }), client: client(), retry: FAST_RETRY, ...options });
  }
  async function whoAmI(token: string): Promise<{ sub: string; clientId: string }> {
    const res = await request(emu.resourceUrl, { headers: { authorization: `Bearer ${token}` } });
    return (await res.body.json()) as { sub: string; clientId: string };
  }

  it("exchanges the app session's token for one that acts as the account (RFC 8693 + requested_subject)", async () => {
    emu = await emulator();
    const { tokenInfo } = seed(emu);
    const app = sessionFor(emu, { tokenInfo });
    const ex = oauthTokenExchanger({ session: app, client: client() });
    const info = await ex.exchange('user-42');
    recordSecret(info.accessToken);
    const req = emu.lastRequest('token')!;
    expect(req.body).to.include({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: tokenInfo.accessToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      requested_subject: 'user-42',
    });
    expect(req.headers.authorization).to.match(/^Basic /);
    expect(info).to.include({ accessTokenTTLMS: 3_600_000, tokenType: 'Bearer' });
    expect(info.refreshToken).to.equal(undefined);
    expect(await whoAmI(info.accessToken)).to.include({ sub: 'user-42', clientId: 'test-client' });
    expect(ex.describe()).to.match(
      new RegExp(`^oauth:test-client@${emu.tokenEndpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}#[0-9a-f]{12}$`),
    );
    // What the minted token can do is part of the identity: another scope is another namespace.
    const narrower = oauthTokenExchanger({
      subjectToken: 'x-subject-token',
      client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' },
      scope: 'read',
    });
    const wider = oauthTokenExchanger({
      subjectToken: 'x-subject-token',
      client: { tokenEndpoint: emu.tokenEndpoint, clientId: 'test-client', clientSecret: 'test-secret' },
      scope: 'write',
    });
    expect(narrower.describe()).to.not.equal(wider.describe());
    expect(DEFAULT_REQUESTED_SUBJECT_PARAMETER).to.equal('requested_subject');
  });

  it('names the account parameter as configured, authenticates with client_secret_post, and takes a subjectToken function', async () => {
    emu = await emulator();
    const { tokenInfo } = seed(emu);
    const ex = oauthTokenExchanger({
      subjectToken: async () => tokenInfo.accessToken,
      client: { ...client(), authMethod: 'client_secret_post' },
      requestedSubjectParameter: 'act_as',
      scope: ['read'],
    });
    const info = await ex.exchange('user-7');
    recordSecret(info.accessToken);
    const req = emu.lastRequest('token')!;
    expect(req.body).to.include({ act_as: 'user-7', client_id: 'test-client', client_secret: 'test-secret', scope: 'read' });
    expect(req.body).to.not.have.property('requested_subject');
    expect(req.headers.authorization).to.equal(undefined);
    expect(info.scope).to.equal('read');
  });

  it('drives a UserSession: 50 concurrent calls over 5 users make 5 exchanges', async () => {
    emu = await emulator();
    const users = new UserSession({ exchanger: exchanger() });
    const ids = accounts(5, 'user');
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => users.getAccessToken(ids[i % 5]!)));
    recordSecret(...tokens);
    expect(emu.counts.exchange).to.equal(5);
    expect((await whoAmI(tokens[3]!)).sub).to.equal('user-3');
    expect(users.namespace).to.match(/^oauth:test-client@http:\/\/127\.0\.0\.1:\d+\/oauth\/token#[0-9a-f]{12}$/);
  });

  it('a refusal by the server is a TokenRequestError with the OAuth error, and shows no token', async () => {
    emu = await emulator({ users: ['alice'] });
    const ex = exchanger();
    const err = await rejection(ex.exchange('mallory'));
    expect(err).to.be.instanceOf(TokenRequestError).and.include({ status: 400, error: 'invalid_request' });
    expect(err.message).to.include('requested_subject is not a known account');
    expectNoSecrets([err, ex]);
  });

  it('validates its options, naming the field', async () => {
    emu = await emulator();
    const { tokenInfo } = seed(emu);
    const session = sessionFor(emu, { tokenInfo });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ client: client() }, 'subjectToken'],
      [{ session, subjectToken: 'subject-token-1', client: client() }, 'session'],
      [{ session: {}, client: client() }, 'session.getAccessToken'],
      [{ subjectToken: '', client: client() }, 'subjectToken'],
      [{ session }, 'client'],
      [{ session, client: { ...client(), tokenEndpoint: 'not a url' } }, 'client.tokenEndpoint'],
      [{ session, client: { ...client(), clientSecret: undefined } }, 'client.clientSecret'],
      [{ session, client: { ...client(), authMethod: 'private_key_jwt' } }, 'client.authMethod'],
      [{ session, client: client(), requestedSubjectParameter: '' }, 'requestedSubjectParameter'],
      [{ session, client: client(), scope: ['a b'] }, 'scope'],
      [{ session, client: client(), tokenEndpoint: 'ftp://x' }, 'tokenEndpoint'],
      [{ session, client: client(), subject: 'x' }, 'options.subject'],
    ];
    for (const [options, field] of cases) {
      expect(() => oauthTokenExchanger(options as never), field)
        .to.throw(InvalidArgumentError)
        .with.property('field', field);
    }
    expect(await rejection(exchanger().exchange(''))).to.include({ field: 'accountId' });
  });
});
