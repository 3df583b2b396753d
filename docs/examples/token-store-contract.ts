// Guide: the TokenStore contract as the custom-store guide shows it (docs/custom-token-store.md).
// It restates lib/store/token-store.ts; the assignment below fails to compile if the two drift apart.
import type { LockOptions, TokenInfo, TokenStore as LibraryTokenStore } from '../../lib/index.js';

// #region contract
interface TokenStore {
  read(key: string): Promise<TokenInfo | undefined>;
  write(key: string, tokenInfo: TokenInfo): Promise<void>;
  clear(key: string): Promise<void>;
  withLock?<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  keys?(prefix?: string): Promise<string[]>;
}
// #endregion contract

export const sameAsTheLibrary: [TokenStore, LibraryTokenStore] = [{} as LibraryTokenStore, {} as TokenStore];
