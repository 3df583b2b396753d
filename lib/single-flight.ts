/**
 * Single flight: concurrent callers asking for the same key share one in-flight promise.
 * State lives on the owning instance, keyed by the full identity, and is cleared in `finally`
 * (STYLE 6).
 *
 * @module
 */

/** @internal */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();
  /** How many callers joined a flight that was already running. */
  joins = 0;

  /** Runs `fn` for `key`, or joins the run already in flight. */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) {
      this.joins++;
      return running;
    }
    const p = (async () => {
      try {
        return await fn();
      } finally {
        this.#inFlight.delete(key);
      }
    })();
    this.#inFlight.set(key, p);
    return p;
  }

  /** The flight running for `key`, if any (without joining it). */
  current(key: string): Promise<T> | undefined {
    return this.#inFlight.get(key);
  }

  /** Whether a flight is running for `key`. */
  has(key: string): boolean {
    return this.#inFlight.has(key);
  }

  /** Number of flights running. */
  get size(): number {
    return this.#inFlight.size;
  }
}
