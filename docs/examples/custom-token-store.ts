// A TokenStore over your own database (docs/custom-token-store.md), and a session that uses it.
import { randomUUID } from 'node:crypto';
import {
  PersistentSession, TokenStoreError, authorizedFetch, validateTokenInfo, type LockOptions, type TokenInfo, type TokenStore,
} from '../../lib/index.js';

class DbTokenStore implements TokenStore {
  async read(key: string): Promise<TokenInfo | undefined> {
    let raw: string | null;
    try {
      raw = await db.get('tokens', key);
    } catch (err) {
      // An outage is an error, never a miss: a miss would make every worker refresh at once.
      throw new TokenStoreError(`Reading "${key}" failed`, { cause: err, key });
    }
    if (raw === null) return undefined;
    try {
      return validateTokenInfo(JSON.parse(raw));
    } catch {
      return undefined; // a corrupt record is absent: the session re-authorizes or re-mints
    }
  }

  async write(key: string, tokenInfo: TokenInfo): Promise<void> {
    // Spread into a plain object: a validated TokenInfo serialises redacted on purpose.
    const value = JSON.stringify({ ...tokenInfo });
    await db.put('tokens', key, value).catch((err: unknown) => {
      throw new TokenStoreError(`Writing "${key}" failed`, { cause: err, key });
    });
  }

  async clear(key: string): Promise<void> {
    await db.delete('tokens', key).catch((err: unknown) => {
      throw new TokenStoreError(`Clearing "${key}" failed`, { cause: err, key });
    });
  }

  async keys(prefix = ''): Promise<string[]> {
    return db.keys('tokens', prefix);
  }

  async withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const ttlMS = options.ttlMS ?? 30_000;
    const deadline = Date.now() + (options.waitMS ?? ttlMS + 5_000);
    const owner = randomUUID();
    while (!(await db.tryLease(`lock:${key}`, owner, ttlMS))) {
      if (Date.now() > deadline) throw new TokenStoreError(`Timed out waiting for the lock on "${key}"`, { key });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      return await fn();
    } finally {
      await db.releaseLease(`lock:${key}`, owner);
    }
  }
}

/** Stands in for your database client here: rows in a Map, and leases that expire. */
const db = {
  rows: new Map<string, string>(),
  leases: new Map<string, { owner: string; untilMS: number }>(),
  writes: 0,
  async get(table: string, key: string): Promise<string | null> {
    return this.rows.get(`${table}/${key}`) ?? null;
  },
  async put(table: string, key: string, value: string): Promise<void> {
    this.rows.set(`${table}/${key}`, value);
    this.writes++;
  },
  async delete(table: string, key: string): Promise<void> {
    this.rows.delete(`${table}/${key}`);
  },
  async keys(table: string, prefix: string): Promise<string[]> {
    return [...this.rows.keys()].filter((k) => k.startsWith(`${table}/${prefix}`)).map((k) => k.slice(table.length + 1));
  },
  async tryLease(name: string, owner: string, ttlMS: number): Promise<boolean> {
    const lease = this.leases.get(name);
    if (lease !== undefined && lease.owner !== owner && lease.untilMS > Date.now()) return false;
    this.leases.set(name, { owner, untilMS: Date.now() + ttlMS });
    return true;
  },
  async releaseLease(name: string, owner: string): Promise<void> {
    if (this.leases.get(name)?.owner === owner) this.leases.delete(name);
  },
};

const session = new PersistentSession({
  tokenStore: new DbTokenStore(),
  client: {
    tokenEndpoint: process.env.TOKEN_ENDPOINT ?? 'https://auth.example.com/oauth/token',
    clientId: process.env.CLIENT_ID ?? 'my-app',
    clientSecret: process.env.CLIENT_SECRET!,
  },
  // The grant your OAuth callback got (see the 3LO guide), here from the environment.
  tokenInfo: validateTokenInfo({
    accessToken: process.env.ACCESS_TOKEN ?? '',
    refreshToken: process.env.REFRESH_TOKEN ?? '',
    accessTokenTTLMS: Number(process.env.EXPIRES_IN ?? 3600) * 1000,
    acquiredAtMS: Date.now(),
  }),
});

const res = await authorizedFetch(session, process.env.API_URL ?? 'https://api.example.com/items');
console.log(`${res.status}; the database holds ${[...db.rows.keys()].join(', ')} after ${db.writes} write(s)`);
