// Each error class carries the code exported under its own name, and a comparison with an exported
// code narrows `err.code` (the type-level half of this is checked by the typecheck of this file).
import { expect } from 'chai';
import * as root from '../lib/index.js';
import {
  ERR_EXPIRED_TOKENS,
  ERR_IMPERSONATION,
  ERR_INVALID_ARG_VALUE,
  ERR_INVALID_TOKEN_INFO,
  ERR_INVALID_TOKEN_STORE,
  ERR_INVALID_INVOCATION_TOKEN,
  ERR_NO_SYSTEM_TOKEN,
  ERR_SYSTEM_TOKEN_EXPIRED,
  ERR_SYSTEM_TOKEN_MALFORMED,
  ERR_TOKEN_REQUEST,
  InvocationTokenError,
  ERR_TOKEN_STORE,
  ExpiredTokensError,
  ImpersonationError,
  InvalidArgumentError,
  InvalidTokenInfoError,
  InvalidTokenStoreError,
  SessionError,
  SystemTokenExpiredError,
  TokenRequestError,
  TokenStoreError,
  type SessionErrorCode,
} from '../lib/index.js';

/** Every code, exhaustively: adding a code without a constant, or a constant outside the union, fails to compile. */
function label(code: SessionErrorCode): string {
  switch (code) {
    case ERR_INVALID_TOKEN_INFO:
      return 'token info';
    case ERR_INVALID_TOKEN_STORE:
      return 'token store';
    case ERR_INVALID_ARG_VALUE:
      return 'argument';
    case ERR_TOKEN_STORE:
      return 'store';
    case ERR_EXPIRED_TOKENS:
      return 'expired';
    case ERR_TOKEN_REQUEST:
      return 'request';
    case ERR_IMPERSONATION:
      return 'impersonation';
    case ERR_SYSTEM_TOKEN_EXPIRED:
      return 'system token expired';
    case ERR_NO_SYSTEM_TOKEN:
      return 'no system token';
    case ERR_SYSTEM_TOKEN_MALFORMED:
      return 'system token malformed';
    case ERR_INVALID_INVOCATION_TOKEN:
      return 'invocation token';
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

describe('error codes', () => {
  it("each class's code equals its exported constant", () => {
    const cases: Array<[SessionError, string]> = [
      [new InvalidTokenInfoError('accessToken', 'bad'), ERR_INVALID_TOKEN_INFO],
      [new InvalidTokenStoreError('bad'), ERR_INVALID_TOKEN_STORE],
      [new InvalidArgumentError('expiredBufferMS', 'bad'), ERR_INVALID_ARG_VALUE],
      [new TokenStoreError('down'), ERR_TOKEN_STORE],
      [new ExpiredTokensError('refused'), ERR_EXPIRED_TOKENS],
      [new TokenRequestError('failed'), ERR_TOKEN_REQUEST],
      [new ImpersonationError('refused'), ERR_IMPERSONATION],
      [new SystemTokenExpiredError(ERR_SYSTEM_TOKEN_EXPIRED, 'expired'), ERR_SYSTEM_TOKEN_EXPIRED],
      [new SystemTokenExpiredError(ERR_NO_SYSTEM_TOKEN, 'none'), ERR_NO_SYSTEM_TOKEN],
      [new SystemTokenExpiredError(ERR_SYSTEM_TOKEN_MALFORMED, 'damaged'), ERR_SYSTEM_TOKEN_MALFORMED],
      [new InvocationTokenError('bad', { reason: 'malformed' }), ERR_INVALID_INVOCATION_TOKEN],
    ];
    for (const [err, code] of cases) {
      expect(err.code, err.name).to.equal(code);
      expect(err).to.be.instanceOf(SessionError);
    }
    expect(new Set(cases.map(([, code]) => code)).size, 'eleven distinct codes').to.equal(11);
  });

  it('each constant is its own name, and the root exports exactly these codes', () => {
    const exported = Object.entries(root).filter(([name]) => name.startsWith('ERR_'));
    expect(exported.map(([name]) => name).sort()).to.deep.equal([
      'ERR_EXPIRED_TOKENS',
      'ERR_IMPERSONATION',
      'ERR_INVALID_ARG_VALUE',
      'ERR_INVALID_INVOCATION_TOKEN',
      'ERR_INVALID_TOKEN_INFO',
      'ERR_INVALID_TOKEN_STORE',
      'ERR_NO_SYSTEM_TOKEN',
      'ERR_SYSTEM_TOKEN_EXPIRED',
      'ERR_SYSTEM_TOKEN_MALFORMED',
      'ERR_TOKEN_REQUEST',
      'ERR_TOKEN_STORE',
    ]);
    for (const [name, value] of exported) expect(value, name).to.equal(name);
  });

  it('a comparison with a constant narrows the code', () => {
    const err: SessionError = new ExpiredTokensError('refused', { status: 400, error: 'invalid_grant' });
    if (err.code === ERR_EXPIRED_TOKENS) {
      const narrowed: 'ERR_EXPIRED_TOKENS' = err.code;
      expect(narrowed).to.equal('ERR_EXPIRED_TOKENS');
    } else {
      expect.fail(`expected ERR_EXPIRED_TOKENS, got ${err.code}`);
    }
    expect(label(err.code)).to.equal('expired');
    expect(label(new SystemTokenExpiredError(ERR_NO_SYSTEM_TOKEN, 'none').code)).to.equal('no system token');
  });
});
