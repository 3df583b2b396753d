/**
 * The sessions a pool holds in memory: least recently used first, bounded, and never dropping one
 * that holds tokens a store outage kept from being written.
 *
 * @module
 */
import { TokenStoreError } from '../errors.js';
import type { PersistentSession } from './persistent-session.js';

/**
 * @internal The live sessions of a pool. Beyond `max` the least recently used are dropped, except those
 * with {@link PersistentSession.hasUnwrittenTokens}: with rotating refresh tokens the store then holds
 * one the server has retired, so dropping the session would lose the grant. They stay beyond the bound,
 * a flush is tried at each overflow, and once it has written their tokens they go.
 */
export class LiveSessions {
  /** Least recently used first (a Map keeps insertion order). */
  readonly #map = new Map<string, PersistentSession>();
  /** Sessions kept beyond the bound whose flush is under way. */
  readonly #flushing = new Set<PersistentSession>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The session of `key`, as is. */
  peek(key: string): PersistentSession | undefined {
    return this.#map.get(key);
  }

  /** The session of `key`, made the most recently used. */
  touch(key: string): PersistentSession | undefined {
    const session = this.#map.get(key);
    if (session !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, session);
    }
    return session;
  }

  /** Adds `session` as the most recently used and keeps the bound. */
  add(key: string, session: PersistentSession): void {
    this.#map.set(key, session);
    this.#trim(key);
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  /** Drops the least recently used beyond the bound, but never `keep` nor one with unwritten tokens. */
  #trim(keep?: string): void {
    const map = this.#map;
    for (const [key, session] of map) {
      if (map.size <= this.#max) return;
      if (key === keep) continue;
      if (!session.hasUnwrittenTokens) map.delete(key);
      else this.#flushLater(session);
    }
  }

  /** One flush at a time per session; once written, the session may go. */
  #flushLater(session: PersistentSession): void {
    if (this.#flushing.has(session)) return;
    this.#flushing.add(session);
    void session.flush().then(
      () => {
        this.#flushing.delete(session);
        this.#trim();
      },
      () => {
        this.#flushing.delete(session);
      },
    );
  }

  /**
   * Writes every session's unwritten tokens and drops the sessions; those whose tokens the store
   * still refused stay.
   *
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when some could not be written (`cause`: the first store error)
   */
  async flushAll(): Promise<void> {
    const failures: unknown[] = [];
    await Promise.all(
      [...this.#map].map(async ([key, session]) => {
        try {
          await session.flush();
          if (this.#map.get(key) === session && !session.hasUnwrittenTokens) this.#map.delete(key);
        } catch (err) {
          failures.push(err);
        }
      }),
    );
    if (failures.length > 0) {
      throw new TokenStoreError(
        `The tokens of ${failures.length} session(s) could not be written; they stay in memory until close() succeeds`,
        { cause: failures[0] },
      );
    }
  }
}
