import type { TokenStore } from '../../lib/store/token-store.js';
import type { TokenInfo } from '../../lib/token/token-info.js';

/**
 * The canonical hand-written store (docs/examples/custom-token-store.ts without the database): raw JSON
 * strings in a Map, returned as parsed, unchecked, and kept forever (no TTL).
 */
export function jsonStore(): TokenStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    async read(key) {
      const v = map.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as TokenInfo);
    },
    async write(key, info) {
      map.set(key, JSON.stringify({ ...info }));
    }, // spread: a TokenInfo's toJSON redacts (docs/custom-token-store.md)
    async clear(key) {
      map.delete(key);
    },
  };
}
