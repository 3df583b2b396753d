/**
 * The order of a pool's sweeps: one runs at a time; a call with the same options as the last one
 * asked for joins it, any other waits for the sweeps before it and then runs.
 *
 * @module
 */
import type { SweepResult } from './session-pool-options.js';

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
    let stopWaiting = (): void => undefined;
    const start = (): Promise<SweepResult> => {
      stopWaiting();
      if (signal?.aborted === true) return Promise.reject(signal.reason);
      return run(args);
    };
    const job = last === undefined ? start() : last.ended.then(start);
    // While it waits its turn, its own signal rejects it at once (it will then not start at all);
    // once it runs, the sweep itself answers the signal.
    const result = signal === undefined || last === undefined ? job : new Promise<SweepResult>((resolve, reject) => {
      const onAbort = (): void => { reject(signal.reason); };
      stopWaiting = () => { signal.removeEventListener('abort', onAbort); };
      signal.addEventListener('abort', onAbort, { once: true });
      job.then(resolve, reject);
    });
    const entry: Entry = {
      args,
      result,
      ended: job.then(() => undefined, () => undefined).then(() => {
        if (this.#last === entry) this.#last = undefined;
      }),
    };
    this.#last = entry;
    return result;
  }
}
