/**
 * The SessionPool's cache of access tokens: what a grant costs in memory once its session has been
 * dropped. One small entry per grant (the settled promise callers get, and until when it may be
 * served), least recently used first, bounded.
 *
 * @module
 */
import { fingerprint } from '../redact.js';
import { freshUntilMS } from '../token/token-info.js';
import type { PersistentSession } from './persistent-session.js';

/** @internal One cached grant: a fresh access token, as the settled promise every caller gets. */
export class CachedToken {
  constructor(
    readonly token: Promise<string>,
    readonly freshUntilMS: number,
  ) {}
}

/** @internal A bounded LRU of {@link CachedToken}s by store key. */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The fresh token of `key` at `nowMS`, moved to the most recently used end; undefined when absent or stale. */
  fresh(key: string, nowMS: number): Promise<string> | undefined {
    const entries = this.#entries;
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    entries.delete(key);
    if (nowMS >= entry.freshUntilMS) return undefined;
    entries.set(key, entry);
    return entry.token;
  }

  /**
   * Caches `token` as `session` holds it now, if it is the token the session holds (a refresh may
   * have replaced it meanwhile), until `bufferMS` before it expires.
   */
  remember(session: PersistentSession, token: string, bufferMS: number): void {
    const info = (session.toJSON() as { tokenInfo?: { accessToken: string; acquiredAtMS: number; accessTokenTTLMS: number } }).tokenInfo;
    if (info === undefined || info.accessToken !== fingerprint(token)) return;
    const entries = this.#entries;
    entries.delete(session.key);
    entries.set(session.key, new CachedToken(Promise.resolve(token), freshUntilMS(info, bufferMS)));
    if (entries.size > this.max) entries.delete(entries.keys().next().value!);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
