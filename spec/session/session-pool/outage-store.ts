import { TokenStoreError } from '../../../lib/errors.js';
import type { KeyvTokenStore } from '../../../lib/store/keyv-token-store.js';
import type { TokenStore } from '../../../lib/store/token-store.js';

/** A real store behind a switch: `down` makes its writes fail like a backend outage; `hold` makes them wait. */
export interface OutageStore {
  store: TokenStore;
  down: boolean;
  /** While set, every write waits for this promise first. */
  hold: Promise<void> | undefined;
  /** Writes attempted so far (failed ones included). */
  writes: number;
  /** Writes refused so far. */
  refused: number;
}

export function outageStore(inner: KeyvTokenStore): OutageStore {
  const state: OutageStore = {
    down: false,
    hold: undefined,
    writes: 0,
    refused: 0,
    store: {
      read: (k) => inner.read(k),
      clear: (k) => inner.clear(k),
      keys: (prefix) => inner.keys(prefix),
      ...(inner.withLock === undefined ? {} : { withLock: inner.withLock }),
      write: async (k, v) => {
        await gate(k);
        return inner.write(k, v);
      },
      writeIf: async (k, v, expected) => {
        await gate(k);
        return inner.writeIf!(k, v, expected);
      },
    },
  };
  async function gate(key: string): Promise<void> {
    state.writes++;
    await state.hold;
    if (state.down) {
      state.refused++;
      throw new TokenStoreError('backend down', { key });
    }
  }
  return state;
}
