/**
 * The rate limit of user-token mints: a p-queue that never lets more than `perMinute` requests
 * reach the server in any sliding 60 s window.
 *
 * p-queue's fixed window (`intervalCap` per `interval`) allows twice the budget across a window
 * edge, and even its `strict` sliding window counts task *starts*, while a gateway counts request
 * *arrivals*, which come later by a varying latency: a task started exactly one window after
 * another may arrive less than one window after it. Here a task keeps its slot until a full window
 * after it *finished*; its request arrived before that, so every arrival is at least one window
 * after the arrival whose slot it took, whatever the latency.
 *
 * @module
 */
import PQueue, { TimeoutError, type QueueAddOptions } from 'p-queue';
import { InvalidArgumentError } from '../errors.js';
import { checkNumber } from '../util/validate.js';

/** Length of the rate-limit window: the Forge mint limit is per minute. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * How often a {@link UserSession} queues a mint up again after the exchanger's own retries ran out
 * on 429s (the gateway's budget is tighter than the session's, e.g. other processes share it).
 */
export const MAX_RATE_LIMIT_REQUEUES = 10;

/** What a task is handed: p-queue's options, plus a way to give the slot back. */
export interface RateLimitTaskOptions {
  /** The abort signal given to `add`, if any. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Gives the slot back as soon as the task settles instead of a window later: call it when the
   * task sent no request (it found a token in a store, or failed before sending). Absent on a
   * plain p-queue.
   */
  readonly release?: () => void;
}

/** Options of {@link RateLimitQueue}. */
export interface RateLimitQueueOptions {
  /**
   * Length of the sliding window in ms.
   * @default RATE_LIMIT_WINDOW_MS
   */
  windowMS?: number;
}

const UNSENT = new WeakSet<object>();

/** @internal Notes that `err` was thrown before any request was sent (so it cost no rate-limit budget). */
export function markUnsent<E>(err: E): E {
  if (err !== null && typeof err === 'object') UNSENT.add(err);
  return err;
}

/** @internal Whether `err` was thrown before any request was sent. */
export function isUnsent(err: unknown): boolean {
  return err !== null && typeof err === 'object' && UNSENT.has(err);
}

/**
 * @internal Gives a rate-limit slot back (see {@link RateLimitTaskOptions.release}); a no-op for
 * the options of a plain p-queue.
 */
export function releaseSlot(taskOptions: unknown): void {
  (taskOptions as RateLimitTaskOptions | undefined)?.release?.();
}

/**
 * A p-queue in which each task occupies one of `perMinute` slots from its start until one window
 * after it settles, so that at most `perMinute` requests arrive at the server in any window of that
 * length. `add()` resolves as soon as the task settles; only the slot is held. Consequently
 * `pending` counts held slots too, and `onIdle()` resolves one window after the last task.
 *
 * A held slot costs one unref'd timer and nothing else: the task, its closure and its result are
 * let go when it settles (while every slot is held the queue pauses itself; `isPaused` reports
 * only your own `pause()`). The budget is fixed: setting `concurrency` throws.
 *
 * @example
 * ```ts
 * const queue = new RateLimitQueue(1000);
 * // share it: every UserSession of the app draws from the same budget
 * const a = new UserSession({ exchanger: exchangerA, queue });
 * const b = new UserSession({ exchanger: exchangerB, queue });
 * ```
 */
export class RateLimitQueue extends PQueue {
  /** The budget per window. */
  readonly perMinute: number;
  /** The window length in ms. */
  readonly windowMS: number;
  /** Slots whose task has settled and whose window has not passed yet. */
  #held = 0;
  /** Whether the user paused the queue (it also pauses itself while every slot is held). */
  #userPaused = false;
  /** Callers of onIdle()/onPendingZero() waiting for the last held slot. */
  #heldWaiters: Array<() => void> = [];
  /** Keeps the process alive while queued tasks wait only for held slots (hold timers are unref'd). */
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly #releaseOne = (): void => {
    this.#held--;
    this.#resize();
    if (this.#held === 0) {
      const waiters = this.#heldWaiters;
      this.#heldWaiters = [];
      for (const wake of waiters) wake();
      // p-queue's 'pendingZero' was held back while slots were (see emit); its 'idle' came from #resize.
      if (super.pending === 0) super.emit('pendingZero');
    }
    this.#syncKeepAlive();
  };

  /**
   * @param perMinute - requests allowed per window; a positive integer
   * @param options - `windowMS`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` naming `perMinute` or `windowMS`
   */
  constructor(perMinute: number, options: RateLimitQueueOptions = {}) {
    const budget = checkNumber(perMinute, 'perMinute', { min: 1, integer: true });
    super({ concurrency: budget });
    this.perMinute = budget;
    this.windowMS = checkNumber(options.windowMS ?? RATE_LIMIT_WINDOW_MS, 'windowMS', { min: 1 });
  }

  /** Running tasks plus held slots. */
  override get pending(): number {
    return super.pending + this.#held;
  }

  /** Slots held after their task settled (each frees one window after). */
  get held(): number {
    return this.#held;
  }

  /** Whether tasks wait because every slot is taken (running or held). */
  override get isSaturated(): boolean {
    // `>=`: while a settling task is counted as held, p-queue still counts it as running.
    return this.size > 0 && (this.#held >= this.perMinute || super.pending >= super.concurrency || this.isRateLimited);
  }

  /** How many tasks may run at once now: the budget less the held slots. */
  override get concurrency(): number {
    return super.concurrency;
  }

  /** @throws {@link InvalidArgumentError} always (after construction): the budget is `perMinute`. */
  override set concurrency(value: number) {
    // p-queue's own constructor sets it, before this class's fields exist.
    if (!(#held in this)) {
      super.concurrency = value;
      return;
    }
    throw new InvalidArgumentError(
      'concurrency',
      'The concurrency of a RateLimitQueue follows its budget (perMinute less the held slots) and cannot be set',
    );
  }

  /** Whether {@link RateLimitQueue.pause} was called (and not undone by `start()`). */
  override get isPaused(): boolean {
    return this.#userPaused;
  }

  /** Stops starting tasks until `start()`. */
  override pause(): void {
    this.#userPaused = true;
    super.pause();
    this.#syncKeepAlive();
  }

  /** Starts (again) after `pause()`; tasks run as slots free. */
  override start(): this {
    this.#userPaused = false;
    if (this.#held < this.perMinute) super.start();
    this.#syncKeepAlive();
    return this;
  }

  /** Drops every queued task (running tasks and held slots stay). */
  override clear(): void {
    super.clear();
    this.#syncKeepAlive();
  }

  /** p-queue's events, except that `pendingZero` and `idle` wait for the held slots too. */
  override emit(...args: Parameters<PQueue['emit']>): boolean {
    if ((args[0] === 'idle' || args[0] === 'pendingZero') && #held in this && this.#held > 0) return false;
    return super.emit(...args);
  }

  /** Resolves when no task is queued or running and every held slot has freed. */
  override async onIdle(): Promise<void> {
    for (;;) {
      await super.onIdle();
      if (this.#held === 0) return;
      await this.#heldSlotsFreed();
    }
  }

  /** Resolves when no task is running and every held slot has freed (queued tasks aside). */
  override async onPendingZero(): Promise<void> {
    for (;;) {
      await super.onPendingZero();
      if (this.#held === 0) return;
      await this.#heldSlotsFreed();
    }
  }

  /**
   * Runs `task` when a slot is free; the slot stays taken until `windowMS` after the task settles,
   * unless the task calls `release()` (it sent no request).
   *
   * `signal` and `timeout` reject `add()` at once, as in p-queue; but a task that has started keeps
   * its slot until it really settles (its request may still reach the server), and is handed the
   * signal so that it can stop.
   *
   * @param task - the work, typically one request to the rate-limited server
   * @param options - p-queue options (`priority`, `signal`, `timeout`, …)
   * @returns the task's result, as soon as it settles
   * @throws whatever the task throws, the abort reason when `options.signal` aborts, or p-queue's
   *   `TimeoutError` when the task runs longer than `timeout`
   */
  override add<T>(task: (options: RateLimitTaskOptions) => PromiseLike<T> | T, options?: Partial<QueueAddOptions>): Promise<T> {
    if (typeof task !== 'function') return Promise.reject(new TypeError(`Expected \`task\` to be a function, got ${typeof task}`));
    const given = options ?? {};
    const { signal, timeout: _timeout, ...rest } = given;
    // As in p-queue: the queue's `timeout` unless the options name one (even `undefined`).
    const timeout = 'timeout' in given ? given.timeout : this.timeout;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
      return Promise.reject(new TypeError(`Expected \`timeout\` to be a positive finite number, got \`${timeout}\` (${typeof timeout})`));
    }
    let started = false;
    let early: ((reason: unknown) => void) | undefined;
    // p-queue sees only a signal that aborts while the task waits, and no timeout: once it runs, the
    // slot is the task's until it settles.
    const waiting = signal === undefined ? undefined : new AbortController();
    const onAbort = (): void => {
      if (started) {
        early?.(signal!.reason);
        return;
      }
      waiting!.abort(signal!.reason); // p-queue drops the waiting task (synchronously)
      this.#syncKeepAlive();
    };
    // Rejects add() early, as p-queue would (with its 'error' event); p-queue's 'completed' or 'error'
    // for the task still follows when it really settles.
    const outer =
      signal === undefined && timeout === undefined
        ? undefined
        : new Promise<T>((_resolve, reject) => {
            early = (reason) => {
              early = undefined;
              this.emit('error', reason);
              reject(reason);
            };
          });
    if (signal !== undefined) {
      if (signal.aborted) waiting!.abort(signal.reason);
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    const inner = super.add(
      async (taskOptions: RateLimitTaskOptions) => {
        started = true;
        let held = true;
        const timer =
          timeout === undefined
            ? undefined
            : setTimeout(() => {
                early?.(new TimeoutError(`Task timed out after ${timeout}ms; its rate-limit slot stays taken until it settles`));
              }, timeout);
        try {
          return await task({
            ...taskOptions,
            ...(signal === undefined ? {} : { signal }),
            release: () => {
              held = false;
            },
          });
        } finally {
          clearTimeout(timer);
          // Before p-queue counts the task as done, so that its slot never looks free in between.
          if (held) this.#hold();
        }
      },
      { ...rest, timeout: undefined, ...(waiting === undefined ? {} : { signal: waiting.signal }) },
    ) as Promise<T>;
    this.#syncKeepAlive();
    if (outer === undefined) return inner;
    const settled = inner.finally(() => signal?.removeEventListener('abort', onAbort));
    return Promise.race([settled, outer]);
  }

  /** Resolves when the last held slot frees; keeps the process alive meanwhile (someone awaits it). */
  #heldSlotsFreed(): Promise<void> {
    const freed = new Promise<void>((resolve) => {
      this.#heldWaiters.push(resolve);
    });
    this.#syncKeepAlive();
    return freed;
  }

  #hold(): void {
    this.#held++;
    // The timer first: nothing below (p-queue's listeners run inside #resize) may leave a slot held for good.
    const timer = setTimeout(this.#releaseOne, this.windowMS);
    // A held slot must not keep the process alive (see #syncKeepAlive for queued work).
    (timer as { unref?: () => void }).unref?.();
    this.#resize();
    this.#syncKeepAlive();
  }

  /** Matches p-queue's concurrency to the free budget; pauses while every slot is held. */
  #resize(): void {
    const free = this.perMinute - this.#held;
    if (free <= 0) {
      super.pause();
      return;
    }
    super.concurrency = free;
    if (!this.#userPaused) super.start();
  }

  #syncKeepAlive(): void {
    // Only while every slot is held can queued tasks wait with nothing running (running + held <= perMinute);
    // and onIdle()/onPendingZero() callers wait on held slots alone.
    const waitingOnHolds = (this.size > 0 && this.#held >= this.perMinute && !this.#userPaused) || this.#heldWaiters.length > 0;
    if (waitingOnHolds && this.#keepAlive === undefined) {
      this.#keepAlive = setInterval(() => {}, this.windowMS);
    } else if (!waitingOnHolds && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}

/**
 * Builds the queue a {@link UserSession} uses when given `rateLimit: { perMinute }`: at most
 * `perMinute` mints reach the gateway in any sliding 60 s window. Pass one queue to every
 * UserSession of the same app so that they share the app's budget.
 *
 * @param perMinute - the budget; Forge allows 1,000 mints a minute per app
 * @returns a {@link RateLimitQueue}
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` when `perMinute` is not a positive integer
 * @example
 * ```ts
 * const queue = createRateLimitQueue(1000);
 * const session = new UserSession({ exchanger, queue });
 * ```
 */
export function createRateLimitQueue(perMinute: number): RateLimitQueue {
  return new RateLimitQueue(perMinute);
}
