import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { expect } from 'chai';
import {
  ExpiredTokensError,
  ImpersonationError,
  InvalidArgumentError,
  InvalidTokenInfoError,
  InvalidTokenStoreError,
  SessionError,
  SystemTokenExpiredError,
  TokenRequestError,
  TokenStoreError,
} from '../lib/errors.js';
import { fingerprint, redactText, registerSecret } from '../lib/redact.js';
import { redactTokenInfo, validateTokenInfo } from '../lib/token/token-info.js';
import { expectNoSecrets, recordSecret } from './support/secrets.js';

/** A token-like secret, recorded for the suite-wide scan. */
function secret(prefix = 'tok_'): string {
  const s = `${prefix}${randomBytes(18).toString('base64url')}`;
  recordSecret(s);
  return s;
}

/** A syntactically valid JWT (unsigned is fine: only its shape matters). */
function jwt(): string {
  const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const t =
    `${seg({ alg: 'HS256', typ: 'JWT' })}.` +
    `${seg({ sub: 'user', exp: 2_000_000_000, n: randomBytes(6).toString('hex') })}.` +
    `${randomBytes(32).toString('base64url')}`;
  recordSecret(t);
  return t;
}

describe('redaction', () => {
  describe('fingerprint', () => {
    it('is short, stable, and different per token', () => {
      const a = secret();
      expect(fingerprint(a)).to.match(/^sha256:[0-9a-f]{8}$/);
      expect(fingerprint(a)).to.equal(fingerprint(a));
      expect(fingerprint(a)).to.not.include(a.slice(4, 12));
      const many = Array.from({ length: 1000 }, () => fingerprint(randomBytes(24).toString('base64url')));
      expect(new Set(many).size).to.equal(1000);
    });

    it('is <none> for an absent or empty token', () => {
      for (const v of ['', undefined, null]) expect(fingerprint(v)).to.equal('<none>');
    });
  });

  describe('redactText', () => {
    it('removes Bearer and Basic credentials', () => {
      const at = secret('at_');
      const basic = Buffer.from(`client:${secret('cs_')}`).toString('base64');
      recordSecret(basic);
      const out = redactText(`GET / HTTP/1.1\r\nAuthorization: Bearer ${at}\r\nProxy-Authorization: Basic ${basic}\r\n`);
      expect(out).to.include('Authorization: Bearer [redacted]');
      expect(out).to.include('Proxy-Authorization: Basic [redacted]');
      expectNoSecrets(out);
    });

    it('removes form-encoded tokens and keeps the other fields', () => {
      const rt = secret('rt_');
      const out = redactText(`grant_type=refresh_token&refresh_token=${rt}&client_id=abc`);
      expect(out).to.equal('grant_type=refresh_token&refresh_token=[redacted]&client_id=abc');
    });

    it('removes JSON token fields', () => {
      const at = secret('at_');
      const rt = secret('rt_');
      const out = redactText(JSON.stringify({ access_token: at, refresh_token: rt, token_type: 'Bearer', expires_in: 3600 }));
      expect(JSON.parse(out)).to.deep.equal({
        access_token: '[redacted]',
        refresh_token: '[redacted]',
        token_type: 'Bearer',
        expires_in: 3600,
      });
    });

    it('removes token fields in util.inspect form (single quotes)', () => {
      const at = secret('at_');
      const out = redactText(inspect({ accessToken: at, refresh_token: secret('rt_'), scope: 'read' }));
      expect(out).to.include("scope: 'read'");
      expect(out).to.include('accessToken: "[redacted]"');
      expectNoSecrets(out);
    });

    it('removes JWTs wherever they appear', () => {
      const t = jwt();
      const out = redactText(`system token ${t} was refused`);
      expect(out).to.equal('system token [redacted-jwt] was refused');
    });

    it('removes registered secrets in any context, and leaves short or ordinary text alone', () => {
      const s = secret('opaque');
      registerSecret(s);
      const out = redactText(`upstream said: unknown credential ${s}!`);
      expect(out).to.equal(`upstream said: unknown credential [redacted ${fingerprint(s)}]!`);
      registerSecret('short');
      expect(redactText('a short word and nothing secret')).to.equal('a short word and nothing secret');
    });
  });

  describe('TokenInfo', () => {
    it('prints and serialises with fingerprints, and keeps the real values as fields', () => {
      const at = secret('at_');
      const rt = secret('rt_');
      const info = validateTokenInfo({
        accessToken: at,
        refreshToken: rt,
        accessTokenTTLMS: 3_600_000,
        acquiredAtMS: 1_700_000_000_000,
        scope: 'read',
      });
      for (const text of [inspect(info), inspect({ nested: { info } }, { depth: 5 }), JSON.stringify(info), JSON.stringify({ info })]) {
        expect(text).to.include(fingerprint(at));
        expectNoSecrets(text);
      }
      expect(JSON.parse(JSON.stringify(info))).to.deep.equal(redactTokenInfo(info));
      expect({ ...info }.accessToken).to.equal(at);
      expect(info.refreshToken).to.equal(rt);
    });
  });

  describe('errors', () => {
    /** One instance of every error class, each given tokens in its message, cause and response. */
    function everyError(): SessionError[] {
      const reg = secret('reg_');
      registerSecret(reg);
      const bearer = secret('at_');
      const form = secret('rt_');
      const t = jwt();
      const message = `failed for ${reg} with Authorization: Bearer ${bearer} and refresh_token=${form}`;
      const cause = Object.assign(new Error(`socket said ${reg} / ${t}`), { code: 'ECONNRESET' });
      const response = { access_token: bearer, refresh_token: form };
      return [
        new SessionError('ERR_TOKEN_STORE', message, { cause }),
        new InvalidTokenInfoError('accessToken', message, { cause }),
        new InvalidTokenStoreError(message, { cause }),
        new InvalidArgumentError('field', message, { cause }),
        new TokenStoreError(message, { cause, key: 'k' }),
        new ExpiredTokensError(message, { status: 400, error: 'invalid_grant', errorDescription: `grant ${reg} is dead`, response, cause }),
        new TokenRequestError(message, {
          status: 500,
          error: 'server_error',
          errorDescription: `echo ${reg}`,
          response,
          cause,
          transient: true,
        }),
        new ImpersonationError(message, { messages: [`user ${reg} refused`, `token ${t}`], accountId: 'acc', cause }),
        new SystemTokenExpiredError('ERR_SYSTEM_TOKEN_EXPIRED', message, { installationId: 'inst', cause }),
      ];
    }

    it('every class prints redacted under util.inspect and JSON.stringify, cause chain included', () => {
      const errors = everyError();
      expect(new Set(errors.map((e) => e.constructor.name)).size).to.equal(9);
      for (const err of errors) {
        expect(err.message).to.include('[redacted');
        expect(inspect(err, { depth: 10 })).to.include(err.code);
        expect(JSON.parse(JSON.stringify(err))).to.include({ name: err.name, code: err.code });
        expectNoSecrets(err);
        expectNoSecrets(inspect(err, { depth: 10, showHidden: true }));
        expectNoSecrets(inspect({ wrapped: err }, { depth: 10 }));
      }
    });

    it('keeps the response non-enumerable, out of JSON and inspect, and as a copy whose tokens are fingerprints', () => {
      for (const err of everyError().filter((e) => e instanceof TokenRequestError || e instanceof ExpiredTokensError)) {
        const response = (err as TokenRequestError).response as Record<string, unknown>;
        expect(Object.keys(err)).to.not.include('response');
        expect(JSON.stringify(err)).to.not.include('access_token');
        expect(inspect(err)).to.not.include('access_token');
        expect(Object.keys(response)).to.deep.equal(['access_token', 'refresh_token']);
        for (const value of Object.values(response)) expect(value).to.match(/^\[redacted sha256:[0-9a-f]{8}\]$/);
        expectNoSecrets(response);
        expectNoSecrets(inspect(err, { showHidden: true, depth: 10 }));
      }
    });

    it('redacts a response at any depth, fingerprints every secret-named field, and keeps the rest', () => {
      const at = secret('at_');
      const rt = secret('rt_');
      const t = jwt();
      const body = {
        access_token: at,
        refresh_token: rt,
        id_token: t,
        expires_in: 0,
        token_type: 'Bearer',
        nested: [{ authToken: secret('ft_'), note: `echo ${t}` }, { client_secret: { value: secret('cs_') } }],
      };
      const err = new TokenRequestError('malformed', { status: 200, response: body });
      const response = err.response as typeof body;
      expect(response).to.not.equal(body);
      expect(body.access_token).to.equal(at);
      expect(response.access_token).to.equal(`[redacted ${fingerprint(at)}]`);
      expect(response.refresh_token).to.equal(`[redacted ${fingerprint(rt)}]`);
      expect(response.id_token).to.equal(`[redacted ${fingerprint(t)}]`);
      expect(response).to.include({ expires_in: 0, token_type: 'Bearer' });
      expect(response.nested[0]!.note).to.equal('echo [redacted-jwt]');
      expect((response.nested[1]!.client_secret as { value: string }).value).to.match(/^\[redacted sha256:/);
      expectNoSecrets(response);
      // Idempotent: an error built from another error's response keeps the same fingerprints.
      expect(new TokenRequestError('again', { response }).response).to.deep.equal(response);
    });
  });
});
