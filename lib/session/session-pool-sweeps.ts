/**
 * The order of a pool's sweeps: one runs at a time; a call with the same options as the last one
 * asked for joins it, any other waits for the sweeps before it and then runs.
 *
 * @module
 */
import { ExpiredTokensError, InvalidArgumentError, SessionError, TokenStoreError } from '../errors.js';
import type { TokenStore } from '../store/token-store.js';
import type { PersistentSession } from './persistent-session.js';
import type { SweepProgress, SweepResult } from './session-pool-options.js';

/** @internal The checked options of one sweep. */
export interface SweepArgs {
  olderThanMS: number;
  prefix: string;
  signal: AbortSignal | undefined;
}

interface Entry {
  args: SweepArgs;
  /** What the callers get (rejects at once when the signal aborts while the sweep waits its turn). */
  result: Promise<SweepResult>;
  /** Settles when the sweep has really ended (or never started). */
  ended: Promise<void>;
}

const same = (a: SweepArgs, b: SweepArgs): boolean => a.olderThanMS === b.olderThanMS && a.prefix === b.prefix && a.signal === b.signal;

/** @internal Runs sweeps one after the other. */
export class SweepLine {
  #last: Entry | undefined;

  /** Whether no sweep runs or waits. */
  get idle(): boolean {
    return this.#last === undefined;
  }

  /** Settles once every sweep asked for so far has ended. */
  ended(): Promise<void> {
    return this.#last?.ended ?? Promise.resolve();
  }

  /**
   * `run(args)` once the sweeps before it have ended; the promise of the last call when its options
   * are the same (same `olderThanMS`, `prefix` and signal object).
   */
  add(args: SweepArgs, run: (args: SweepArgs) => Promise<SweepResult>): Promise<SweepResult> {
    const last = this.#last;
    if (last !== undefined && same(last.args, args)) return last.result;
    const { signal } = args;
    // Already aborted and would have to wait: it never starts.
    if (last !== undefined && signal?.aborted === true) return Promise.reject(signal.reason);
    let stopWaiting = (): void => undefined;
    const start = (): Promise<SweepResult> => {
      stopWaiting();
      if (signal?.aborted === true) return Promise.reject(signal.reason);
      return run(args);
    };
    const job = last === undefined ? start() : last.ended.then(start);
    // While it waits its turn, its own signal rejects it at once (it will then not start at all);
    // once it runs, the sweep itself answers the signal.
    const result =
      signal === undefined || last === undefined
        ? job
        : new Promise<SweepResult>((resolve, reject) => {
            const onAbort = (): void => {
              reject(signal.reason);
            };
            stopWaiting = () => {
              signal.removeEventListener('abort', onAbort);
            };
            signal.addEventListener('abort', onAbort, { once: true });
            job.then(resolve, reject);
          });
    const entry: Entry = {
      args,
      result,
      ended: job
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          if (this.#last === entry) this.#last = undefined;
        }),
    };
    this.#last = entry;
    return result;
  }
}

/** @internal What a sweep needs from its pool. */
export interface SweepHost {
  store: TokenStore;
  concurrency: number;
  now: () => number;
  /** Aborts when the pool closes. */
  closing: AbortSignal;
  /** The session to work on `key` with; `done()` once the sweep is through with it. */
  lend(key: string): { session: PersistentSession; done: () => void };
  progress(progress: SweepProgress): void;
}

/** The keys from a random place on, wrapping around: processes sweeping together mostly take different grants. */
function rotated(keys: string[]): string[] {
  const at = Math.floor(Math.random() * keys.length);
  return [...keys.slice(at), ...keys.slice(0, at)];
}

/**
 * @internal One sweep over the store's keys. An abort (the signal's or the pool's) starts no further
 * grant; the stop signal is not passed on, so a refresh once started runs to its end (its tokens
 * written, or kept by its session) and the sweep waits for it.
 */
export async function sweepKeys(host: SweepHost, { olderThanMS, prefix, signal }: SweepArgs): Promise<SweepResult> {
  const { store, concurrency, now } = host;
  if (typeof store.keys !== 'function') {
    throw new InvalidArgumentError('tokenStore', "sweep() lists the store's keys, and this tokenStore has no keys() method");
  }
  const started = now();
  const stop = signal === undefined ? host.closing : AbortSignal.any([signal, host.closing]);
  const keys = rotated(
    await store.keys(prefix).catch((err: unknown) => {
      if (err instanceof SessionError) throw err;
      throw new TokenStoreError(`Listing the store's keys failed: ${err instanceof Error ? err.name : typeof err}`, { cause: err });
    }),
  );
  const progress = { done: 0, total: keys.length, refreshed: 0, skipped: 0, dead: 0, failed: 0 };
  const deadKeys: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!stop.aborted && next < keys.length) {
      const key = keys[next++]!;
      const { session, done } = host.lend(key);
      try {
        if (await session.refreshIfOlderThan(olderThanMS)) progress.refreshed++;
        else progress.skipped++;
      } catch (err) {
        if (err instanceof ExpiredTokensError) {
          progress.dead++;
          deadKeys.push(key);
        } else {
          progress.failed++;
        }
      } finally {
        done();
      }
      progress.done++;
      host.progress({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return { ...progress, durationMS: now() - started, deadKeys: deadKeys.sort(), aborted: stop.aborted };
}
