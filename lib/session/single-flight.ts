/**
 * Single flight: concurrent callers asking for the same key share one in-flight promise.
 * State lives on the owning instance (never in a module-level map shared by unrelated sessions),
 * keyed by the full identity, and each entry goes as soon as its flight settles, so that a
 * failure is never served to later callers.
 *
 * @module
 */

/** @internal */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();
  /** How many callers joined a flight that was already running. */
  joins = 0;

  /**
   * Runs `fn` for `key`, or joins the run already in flight. (So `fn` must not await a run of its
   * own key: it would wait for itself.)
   */
  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) {
      this.joins++;
      return running;
    }
    // Registered before `fn` runs, so that a call for the same key made synchronously from inside
    // `fn` joins this flight instead of starting a second one.
    let settle!: { resolve: (value: T) => void; reject: (reason: unknown) => void };
    const flight = new Promise<T>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.#inFlight.set(key, flight);
    const end = (): void => {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    };
    let work: Promise<T>;
    try {
      work = Promise.resolve(fn());
    } catch (err) {
      work = Promise.reject(err);
    }
    // The entry goes before the callers resume, as a `finally` would.
    work.then(
      (value) => {
        end();
        settle.resolve(value);
      },
      (err: unknown) => {
        end();
        settle.reject(err);
      },
    );
    return flight;
  }

  /** The flight running for `key`, if any (without joining it). */
  current(key: string): Promise<T> | undefined {
    return this.#inFlight.get(key);
  }

  /** Resolves once every flight running now has settled (whatever their outcome); never rejects. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()]);
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
