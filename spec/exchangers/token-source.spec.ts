import { expect } from 'chai';
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { SystemTokenExpiredError } from '../../lib/errors.js';
import { jwtExpiresAtMS, requireJwt, resolveTokenSource, unverifiedClaims } from '../../lib/exchangers/token-source.js';
import { expectNoSecrets, recordSecret, rejection } from '../support/secrets.js';
import { startForge, type Forge } from '../session/user-session/support.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const jwt = (claims: unknown, header: unknown = { alg: 'HS256', typ: 'JWT' }) => `${b64(header)}.${b64(claims)}.c2lnbmF0dXJl`;

/** jose's reading of the same token: the claims, or undefined where it throws. */
function joseClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

describe('token-source: reading a JWT without a JOSE library', () => {
  it("decodes the claims of a compact JWS, and nothing else, as jose's decodeJwt does", () => {
    const cases = [
      jwt({ exp: 1_900_000_000, sub: 'app' }),
      jwt({ sub: 'no-exp' }),
      jwt({ exp: '1900000000' }),
      jwt([1, 2]),
      jwt('null'),
      jwt('"a string"'),
      `${b64({ alg: 'none' })}.not json at all.sig`,
      `${b64({ alg: 'none' })}.${b64('{"exp":1')}.sig`,
      `${jwt({ exp: 1 })}.extra.parts`, // five parts: a JWE
      'a.b',
      'notajwt',
      '..',
      'eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9', // the signature part cut off
    ];
    for (const token of cases) expect(unverifiedClaims(token), token).to.deep.equal(joseClaims(token));
    expect(jwtExpiresAtMS(jwt({ exp: 1_900_000_000 }))).to.equal(1_900_000_000_000);
    expect(jwtExpiresAtMS(jwt({ exp: 'soon' }))).to.equal(undefined);
    expect(jwtExpiresAtMS('notajwt')).to.equal(null);
  });

  it('never reads claims jose would not, and agrees with it on tokens over the base64url alphabet', () => {
    // Stricter than jose where the JWS spec is: no whitespace and no padding inside a part.
    const jwsAlphabet = /^[A-Za-z0-9_.-]*$/;
    const real = jwt({ exp: 1_900_000_000, iss: 'forge', context: { installation: 'x' } });
    const damaged = fc
      .tuple(fc.nat({ max: real.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 }))
      .map(([at, drop, insert]) => real.slice(0, at) + insert + real.slice(at + drop));
    const tokens = fc.oneof(damaged, fc.string({ maxLength: 60 }), fc.stringMatching(/^[A-Za-z0-9_.=-]{0,40}$/));
    fc.assert(
      fc.property(tokens, (token) => {
        const ours = unverifiedClaims(token);
        if (ours !== undefined || jwsAlphabet.test(token)) expect(ours, token).to.deep.equal(joseClaims(token));
      }),
      { numRuns: 3_000 },
    );
    expect(unverifiedClaims(real.replace('.eyJ', '.ey J')), 'whitespace').to.equal(undefined);
    expect(unverifiedClaims(`${real.split('.')[0]}.${b64({ exp: 1 })}==.sig`), 'padding').to.equal(undefined);
  });
});

describe('token-source: a malformed app token', () => {
  let forge: Forge | undefined;
  afterEach(async () => {
    await forge?.emu.close();
    forge = undefined;
  });

  it('requireJwt refuses a string that is not a JWT with ERR_SYSTEM_TOKEN_MALFORMED, without quoting it', () => {
    recordSecret('notajwt-but-a-secret-value');
    let err: unknown;
    try {
      requireJwt('notajwt-but-a-secret-value', '--system-token');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SystemTokenExpiredError).and.include({ code: 'ERR_SYSTEM_TOKEN_MALFORMED' });
    expect((err as Error).message).to.match(/^The app token in `--system-token` is not a well-formed JWT .*got 1 part, 26 characters/);
    expectNoSecrets(err, ['notajwt-but-a-secret-value']);
    expect(() => requireJwt(jwt({ exp: 1 }), '--system-token')).to.not.throw();
  });

  it('an exchanger rejects a damaged JWT unsent (ERR_SYSTEM_TOKEN_MALFORMED, not EXPIRED); an opaque token is still sent', async () => {
    forge = await startForge();
    const cut = forge.systemToken.slice(0, forge.systemToken.lastIndexOf('.') - 5); // truncated while copying
    recordSecret(cut);
    const err = await rejection(forge.exchanger({ systemToken: cut }).exchange('alice'));
    expect(err).to.be.instanceOf(SystemTokenExpiredError).and.include({ code: 'ERR_SYSTEM_TOKEN_MALFORMED' });
    expect((err as Error).message).to.include('so no request was sent');
    expectNoSecrets(err, [cut, forge.systemToken]);
    expect(forge.emu.counts.graphql).to.equal(0);

    expect(resolveTokenSource('an-opaque-token', Date.now, 'systemToken')).to.equal('an-opaque-token');
    const expired = await rejection(forge.exchanger({ systemToken: 'an-opaque-token' }).exchange('alice'));
    expect(expired).to.include({ code: 'ERR_SYSTEM_TOKEN_EXPIRED' }); // sent, and refused by the gateway
    expect(forge.emu.counts.graphql).to.equal(1);
  });
});
