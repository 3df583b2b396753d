import { expect } from 'chai';
import { TokenRequestError } from '../../lib/errors.js';
import { rotatedRefreshTokenOf } from '../../lib/oauth/rotated-tokens.js';
import { parseTokenResponse } from '../../lib/oauth/token-response.js';
import { recordSecret } from '../support/secrets.js';

const AT = 'at_unit-access-token-1';
const RT = 'rt_unit-refresh-token-2';
const SENT = 'rt_unit-refresh-token-sent';
recordSecret(AT, RT, SENT);

function parse(body: unknown, sent?: string) {
  return parseTokenResponse({ status: 200, headers: {}, body, serverDateMS: undefined }, 'Token refresh', sent);
}

function refusal(body: unknown, sent?: string): TokenRequestError {
  try {
    parse(body, sent);
  } catch (err) {
    expect(err).to.be.instanceOf(TokenRequestError);
    expect((err as TokenRequestError).code).to.equal('ERR_TOKEN_REQUEST');
    return err as TokenRequestError;
  }
  throw new Error('expected a malformed answer');
}

describe('parseTokenResponse', () => {
  it('reads expires_in in seconds to the millisecond: integers, fractions, numeric strings with a fraction', () => {
    for (const [expiresIn, ms] of [
      [3600, 3_600_000],
      ['3600', 3_600_000],
      ['3600.0', 3_600_000],
      ['0.25', 250],
      [1.001, 1001],
      [1799.9995, 1_800_000],
      [0.0001, 1],
      [null, undefined],
      [undefined, undefined],
    ] as const) {
      expect(parse({ access_token: AT, expires_in: expiresIn }).expiresInMS, String(expiresIn)).to.equal(ms);
    }
  });

  it('refuses an expires_in that is not a positive number', () => {
    for (const expiresIn of [0, -5, '-5', 'abc', '3600,0', '1e3', '', {}, [], true, Number.NaN, Number.POSITIVE_INFINITY, 1.8e305]) {
      expect(refusal({ access_token: AT, expires_in: expiresIn }).message, String(expiresIn)).to.include('`expires_in`');
    }
  });

  it('a malformed refresh answer with a new refresh token carries it for the session, kept off the error', () => {
    for (const body of [
      { access_token: AT, refresh_token: RT, expires_in: 0 },
      { access_token: ' x', refresh_token: RT, expires_in: 60 },
      { refresh_token: RT },
      { access_token: AT, refresh_token: RT, token_type: 7 },
    ]) {
      const err = refusal(body, SENT);
      expect(rotatedRefreshTokenOf(err), JSON.stringify(Object.keys(body))).to.equal(RT);
      expect(Object.values(err)).to.not.include(RT);
    }
  });

  it('carries nothing when the refresh token did not change, is unusable, or the request was no refresh', () => {
    expect(rotatedRefreshTokenOf(refusal({ access_token: AT, refresh_token: SENT, expires_in: 0 }, SENT))).to.equal(undefined);
    expect(rotatedRefreshTokenOf(refusal({ access_token: AT, refresh_token: 'has space', expires_in: 60 }, SENT))).to.equal(undefined);
    expect(rotatedRefreshTokenOf(refusal({ access_token: AT, expires_in: 0 }, SENT))).to.equal(undefined);
    expect(rotatedRefreshTokenOf(refusal({ access_token: AT, refresh_token: RT, expires_in: 0 }))).to.equal(undefined);
  });
});
