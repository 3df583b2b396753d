import { expect } from 'chai';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { SystemTokenCache } from '../../../lib/forge/system-token-cache.js';
import { recordSecret, rejection } from '../../support/secrets.js';

/** An unsigned JWT expiring `inMS` from `nowMS` (the cache reads `exp`, never verifies). */
function jwt(nowMS: number, inMS: number, tag: string): string {
  const seg = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const token = `${seg({ alg: 'HS256', typ: 'JWT' })}.${seg({ exp: Math.floor((nowMS + inMS) / 1000), tag })}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
  recordSecret(token);
  return token;
}

// Overlapping invocations keep the later-expiring token, and a token that claims to live longer
// than a Forge system token can is refused.
describe('SystemTokenCache: overlapping remember() calls and implausible expiries', () => {
  it('keeps the later-expiring token when two invocations overlap, whichever finishes last', async () => {
    const now = Date.now();
    for (const order of ['newer-first', 'older-first'] as const) {
      const cache = new SystemTokenCache();
      const newer = jwt(now, 2 * 3_600_000, `newer-${order}`);
      const older = jwt(now, 10 * 60_000, `older-${order}`);
      const calls =
        order === 'newer-first'
          ? [cache.remember('inst', newer), cache.remember('inst', older)]
          : [cache.remember('inst', older), cache.remember('inst', newer)];
      await Promise.all(calls);
      expect((await cache.get('inst')).token, order).to.equal(newer);
    }
  });

  it('refuses a token whose exp is further away than a Forge system token can live (4 h)', async () => {
    const cache = new SystemTokenCache();
    const pinned = jwt(Date.now(), 1000 * 3_600_000, 'exp-in-the-far-future');
    const err = await rejection(cache.remember('inst', pinned));
    expect(err).to.be.instanceOf(InvalidArgumentError);
    expect(err).to.have.property('field', 'token');
    // A real token is still accepted afterwards.
    const real = jwt(Date.now(), 3_600_000, 'real');
    expect(await cache.remember('inst', real)).to.equal(true);
    expect(cache.source('inst').installationId).to.equal('inst');
  });
});
