/**
 * The store a session or cache uses when it is given none: a Map private to that one object. It
 * has no lock and no other writer, so nothing is shared with other sessions or processes.
 *
 * @module
 */
import type { TokenInfo } from '../token/token-info.js';
import type { TokenStore } from './token-store.js';

/** @internal A TokenStore over a private Map (the default of a session given no `tokenStore`). */
export class MemoryStore implements TokenStore {
  readonly #map = new Map<string, TokenInfo>();

  async read(key: string): Promise<TokenInfo | undefined> {
    return this.#map.get(key);
  }

  async write(key: string, info: TokenInfo): Promise<void> {
    this.#map.set(key, info);
  }

  // Atomic by construction: the comparison and the write happen in one synchronous step.
  async writeIf(key: string, info: TokenInfo, expected: { refreshToken: string | undefined }): Promise<boolean> {
    const current = this.#map.get(key);
    if (current?.refreshToken !== expected.refreshToken) {
      // A retry of a write that went through finds its own tokens: written, not lost.
      return current !== undefined && current.refreshToken === info.refreshToken && current.accessToken === info.accessToken;
    }
    this.#map.set(key, info);
    return true;
  }

  async clear(key: string): Promise<void> {
    this.#map.delete(key);
  }
}
