import { expect } from 'chai';
import { UserSession } from '../../../lib/session/user-session.js';
import type { TokenExchanger } from '../../../lib/exchangers/token-exchanger.js';
import { recordSecret } from '../../support/secrets.js';

// Forced mints and getAccessToken keep separate flights: no account id, not even one that ends
// like an internal key (`'alice\u0000mint'`), joins another account's forced mint.
describe('UserSession: a forced mint is never shared with another account', () => {
  it('getAccessToken for an id that ends like a forced-mint key gets its own token', async () => {
    let n = 0;
    const exchanger: TokenExchanger = {
      describe: () => 'test:forced-mint',
      exchange: async (accountId) => {
        await new Promise((r) => {
          setImmediate(r);
        });
        const accessToken = `tok-${Buffer.from(accountId).toString('hex')}-${++n}`;
        recordSecret(accessToken);
        return { accessToken, accessTokenTTLMS: 3_600_000, acquiredAtMS: Date.now() };
      },
    };
    const users = new UserSession({ exchanger: exchanger });
    const [forced, other] = await Promise.all([users.exchangeToken('alice'), users.getAccessToken('alice\u0000mint')]);
    expect(forced.accessToken).to.match(new RegExp(`^tok-${Buffer.from('alice').toString('hex')}-`));
    expect(other).to.match(new RegExp(`^tok-${Buffer.from('alice\u0000mint').toString('hex')}-`));
    expect(n).to.equal(2);
  });
});
