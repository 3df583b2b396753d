// Guide: implementing a TokenStore (docs/custom-token-store.md).
// #region store
import { randomUUID } from 'node:crypto';
import {
  PersistentSession, TokenStoreError, validateTokenInfo, type LockOptions, type TokenInfo, type TokenStore,
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
// #endregion store

// #region use
const session = new PersistentSession({
  tokenStore: new DbTokenStore(),
  client: { tokenEndpoint: 'https://auth.example.com/oauth/token', clientId: 'my-app', clientSecret: process.env.CLIENT_SECRET! },
});
// #endregion use
console.log(session.key);

// #region contract-tests
import { describe, it } from 'node:test';
import { tokenStoreContract } from '../../lib/testing/index.js';

// Every store the factory makes must reach the same data (one database), as in production.
tokenStoreContract('DbTokenStore', () => new DbTokenStore(), { describe, it }, { lock: true });
// #endregion contract-tests

// What the example takes as given (for the type-check only).
/** Your database client. */
interface Db {
  get(table: string, key: string): Promise<string | null>;
  put(table: string, key: string, value: string): Promise<void>;
  delete(table: string, key: string): Promise<void>;
  keys(table: string, prefix: string): Promise<string[]>;
  tryLease(name: string, owner: string, ttlMS: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
}
declare const db: Db;
