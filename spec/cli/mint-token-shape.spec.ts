import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { recordSecret } from '../support/secrets.js';
import { runCli } from './support.js';

const CONTEXT = 'ari:cloud:jira::site/0b6f6a52-1111-4222-8333-444455556666';

describe('persistent-session CLI: mint with a malformed system token', () => {
  let emulator: Emulator;
  beforeEach(async () => {
    emulator = await startEmulator();
  });
  afterEach(() => emulator.close());

  const mint = (token: string) =>
    runCli(
      ['mint', '--account', 'alice', '--context', CONTEXT, '--system-token', 'env:SPEC_SYSTEM_TOKEN', '--gateway', emulator.graphqlUrl],
      { SPEC_SYSTEM_TOKEN: token },
    );

  it('a non-JWT is ERR_SYSTEM_TOKEN_MALFORMED, sent nowhere; an expired JWT is still ERR_SYSTEM_TOKEN_EXPIRED', async () => {
    const valid = emulator.forge.issueSystemToken({ contextAri: CONTEXT, users: ['alice'] });
    const expired = emulator.forge.issueSystemToken({ contextAri: CONTEXT, users: ['alice'] });
    const cut = valid.slice(0, valid.indexOf('.') + 10); // pasted half
    recordSecret(valid, expired, cut, 'notajwt');
    const [notJwt, half] = await Promise.all([mint('notajwt'), mint(cut)]);
    for (const r of [notJwt, half]) {
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^error \[ERR_SYSTEM_TOKEN_MALFORMED\]: The app token in `--system-token` is not a well-formed JWT/);
      expect(r.stderr).to.not.include('expired').and.not.include('revoked');
    }
    expect(notJwt.stderr).to.include('got 1 part, 7 characters');
    expect(emulator.counts.graphql, 'nothing was sent').to.equal(0);

    emulator.forge.expireSystemToken(expired);
    const stale = await mint(expired);
    expect(stale.code).to.equal(1);
    expect(stale.stderr).to.match(/^error \[ERR_SYSTEM_TOKEN_EXPIRED\]/);
  });
});
