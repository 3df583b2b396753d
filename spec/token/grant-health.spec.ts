import { inspect } from 'node:util';
import { expect } from 'chai';
import { InvalidTokenInfoError } from '../../lib/errors.js';
import { grantHealthOf } from '../../lib/token/grant-health.js';
import { redactTokenInfo, toStorable, validateTokenInfo, type TokenInfo } from '../../lib/token/token-info.js';
import { expectNoSecrets, recordSecret } from '../support/secrets.js';

const AT = 'at_grant_spec_access_0123456789';
const RT = 'rt_grant_spec_refresh_0123456789';
const base: TokenInfo = { accessToken: AT, refreshToken: RT, accessTokenTTLMS: 3_600_000, acquiredAtMS: 1_700_000_000_000 };
const grant = {
  failures: 2,
  lastErrorCode: 'ERR_TOKEN_REQUEST',
  lastRefreshedAtMS: 1_700_000_000_000,
  expiresAtMS: 1_800_000_000_000,
  dead: { reason: 'invalid_grant' as const, atMS: 1_700_000_500_000 },
  clientId: 'crm-sync.example',
};

/** The InvalidTokenInfoError a value raises. */
function rejection(value: unknown): InvalidTokenInfoError {
  try {
    validateTokenInfo(value);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidTokenInfoError);
    return err as InvalidTokenInfoError;
  }
  throw new Error('expected validateTokenInfo to throw');
}

describe('TokenInfo.grant (GrantHealth)', () => {
  before(() => recordSecret(AT, RT));

  it('is optional: a record without it validates as before, and gets none', () => {
    const info = validateTokenInfo(base);
    expect({ ...info }).to.deep.equal(base);
    expect('grant' in info).to.equal(false);
  });

  it('validates and copies every field; unknown fields inside it are dropped, and nothing is shared', () => {
    const input = { ...base, grant: { ...structuredClone(grant), futureField: 1 } };
    const info = validateTokenInfo(input);
    expect(info.grant).to.deep.equal(grant);
    input.grant.dead.atMS = 5;
    expect(info.grant!.dead!.atMS).to.equal(grant.dead.atMS);
    expect(validateTokenInfo({ ...base, grant: {} }).grant).to.deep.equal({});
    const stored = toStorable(info);
    expect(stored.grant).to.deep.equal(grant);
    expect(stored.grant === info.grant, 'a copy').to.equal(false);
    expect(JSON.parse(JSON.stringify(stored))).to.deep.equal({ ...base, grant });
  });

  it('rejects each bad field with ERR_INVALID_TOKEN_INFO naming it, never quoting a string value', () => {
    const cases: Array<[unknown, string]> = [
      [[], 'grant'],
      ['fine', 'grant'],
      [{ failures: -1 }, 'grant.failures'],
      [{ failures: 1.5 }, 'grant.failures'],
      [{ failures: '1' }, 'grant.failures'],
      [{ lastErrorCode: '' }, 'grant.lastErrorCode'],
      [{ lastErrorCode: `Bearer ${AT}` }, 'grant.lastErrorCode'],
      [{ lastErrorCode: RT.repeat(3) }, 'grant.lastErrorCode'],
      [{ lastRefreshedAtMS: 0 }, 'grant.lastRefreshedAtMS'],
      [{ lastRefreshedAtMS: Number.NaN }, 'grant.lastRefreshedAtMS'],
      [{ dead: true }, 'grant.dead'],
      [{ dead: { reason: 'expired', atMS: 1 } }, 'grant.dead.reason'],
      [{ dead: { reason: 'revoked' } }, 'grant.dead.atMS'],
      [{ expiresAtMS: Infinity }, 'grant.expiresAtMS'],
      [{ clientId: '' }, 'grant.clientId'],
      [{ clientId: 7 }, 'grant.clientId'],
      [{ clientId: 'app\nX-Injected: 1' }, 'grant.clientId'],
      [{ clientId: 'x'.repeat(2049) }, 'grant.clientId'],
    ];
    for (const [value, field] of cases) {
      const err = rejection({ ...base, grant: value });
      expect(err.code, field).to.equal('ERR_INVALID_TOKEN_INFO');
      expect(err.field, JSON.stringify(value)).to.equal(field);
      expect(err.message).to.include(`\`${field}\``);
      expect(err.message).not.to.include('"fine"').and.not.include('expired"');
      expectNoSecrets(err);
    }
  });

  it('is kept by the redacted, printed and serialised forms (it holds no secret)', () => {
    const info = validateTokenInfo({ ...base, grant });
    expect(redactTokenInfo(info).grant).to.deep.equal(grant);
    expect(JSON.parse(JSON.stringify(info)).grant).to.deep.equal(grant);
    const printed = inspect(info, { depth: 5 });
    expect(printed).to.include('ERR_TOKEN_REQUEST').and.include('invalid_grant');
    expectNoSecrets(printed);
  });

  it('reads as healthy when absent; lastRefreshedAtMS defaults to acquiredAtMS for a record with a refresh token', () => {
    expect(grantHealthOf(base)).to.deep.equal({ failures: 0, lastRefreshedAtMS: base.acquiredAtMS });
    const userToken: TokenInfo = { accessToken: AT, accessTokenTTLMS: 1, acquiredAtMS: 7 };
    expect(grantHealthOf(userToken)).to.deep.equal({ failures: 0 });
    expect(grantHealthOf({ ...base, grant })).to.deep.equal(grant);
    expect(grantHealthOf({ ...base, grant: { lastErrorCode: 'invalid_grant' } })).to.deep.equal({
      failures: 0,
      lastErrorCode: 'invalid_grant',
      lastRefreshedAtMS: base.acquiredAtMS,
    });
  });
});
