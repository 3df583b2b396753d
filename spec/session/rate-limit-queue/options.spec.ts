// `rateLimit` is checked like every other option: an unknown key (`{ perminute: 10 }`) is refused,
// naming it, rather than leaving the default budget in place without a word.
import { expect } from 'chai';
import type { RateLimitQueue } from '../../../lib/session/rate-limit-queue.js';
import { UserSession } from '../../../lib/session/user-session.js';

const exchanger = {
  exchange: async () => {
    throw new Error('not called');
  },
  describe: () => 'ns',
};

describe('UserSession: rateLimit option', () => {
  it('refuses unknown keys and a perMinute that is not a positive integer, naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ perminute: 10 }, 'rateLimit.perminute'],
      [{ perMinute: 10, burst: 5 }, 'rateLimit.burst'],
      [{}, 'rateLimit.perMinute'],
      [{ perMinute: 0 }, 'rateLimit.perMinute'],
      [{ perMinute: -5 }, 'rateLimit.perMinute'],
      [{ perMinute: 1.5 }, 'rateLimit.perMinute'],
      [{ perMinute: '10' }, 'rateLimit.perMinute'],
      [{ perMinute: Number.POSITIVE_INFINITY }, 'rateLimit.perMinute'],
      [null, 'rateLimit'],
    ];
    for (const [rateLimit, field] of cases) {
      let caught: unknown;
      try {
        new UserSession({ exchanger, rateLimit: rateLimit as never });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(rateLimit)).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(caught, JSON.stringify(rateLimit)).to.have.property('field', field);
      expect((caught as Error).message).to.include(`\`${field}\``);
    }
  });

  it('accepts a positive integer, and uses the default budget when rateLimit is not given', () => {
    expect((new UserSession({ exchanger, rateLimit: { perMinute: 10 } }).queue as RateLimitQueue).perMinute).to.equal(10);
    expect((new UserSession({ exchanger }).queue as RateLimitQueue).perMinute).to.equal(1000);
  });
});
