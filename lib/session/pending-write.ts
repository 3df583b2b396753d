/**
 * Tokens a {@link PersistentSession} obtained but could not write to its store (an outage), kept
 * until a write succeeds.
 *
 * @module
 */
import type { TokenInfo } from '../token/token-info.js';

/** How often a session retries writing tokens that a store outage kept in memory. */
export const PERSIST_RETRY_INTERVAL_MS = 1_000;

/** @internal Unpersisted tokens and when to try writing them again. */
export class PendingWrite {
  #tokens: TokenInfo | undefined;
  #retryAtMS = -Infinity;

  /** The tokens waiting to be written, if any. While there are some, the store is not the truth: they are newer. */
  get tokens(): TokenInfo | undefined {
    return this.#tokens;
  }

  /** The waiting tokens, if it is time to try writing them again (`nowMS` past the retry time). */
  due(nowMS: number): TokenInfo | undefined {
    return nowMS >= this.#retryAtMS ? this.#tokens : undefined;
  }

  /** Keeps `tokens` for a later write (at the retry time set last, if any). */
  hold(tokens: TokenInfo): void {
    this.#tokens = tokens;
  }

  /** A write failed again: wait {@link PERSIST_RETRY_INTERVAL_MS} before the next try. */
  retryLater(nowMS: number): void {
    this.#retryAtMS = nowMS + PERSIST_RETRY_INTERVAL_MS;
  }

  /** Nothing waits any more (written, or dropped with the tokens). */
  done(): void {
    this.#tokens = undefined;
  }
}
