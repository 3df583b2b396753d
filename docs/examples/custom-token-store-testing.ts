// The "Testing your store" block of docs/custom-token-store.md, type-checked; DbTokenStore stands
// for the reader's own store class.
import type { TokenStore } from '../../lib/index.js';

declare const DbTokenStore: new () => TokenStore;

import { describe, it } from 'node:test';
import { tokenStoreContract } from '../../lib/testing/index.js';

// Every store the factory makes must reach the same data (one database), as in production.
tokenStoreContract('DbTokenStore', () => new DbTokenStore(), { describe, it }, { lock: true });
