import sinon from 'sinon';

/** Start of fake time in tests: not 0, where p-queue's rate limiting misbehaves. */
export const FAKE_NOW = 1_700_000_000_000;

/**
 * Fake timers that keep undici and p-queue working: nextTick, queueMicrotask and setImmediate stay
 * real (faking them hangs undici and stalls p-queue); drive time with `await clock.tickAsync(ms)`.
 */
export function useFakeClock(now = FAKE_NOW): sinon.SinonFakeTimers {
  return sinon.useFakeTimers({
    now,
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    shouldClearNativeTimers: true,
  });
}

/** Settles a promise without letting a rejection go unhandled while the clock is driven. */
export function settle<T>(p: Promise<T>): { done: () => boolean; result: Promise<{ ok: true; value: T } | { ok: false; error: unknown }> } {
  let finished = false;
  const result = p.then(
    (value) => {
      finished = true;
      return { ok: true as const, value };
    },
    (error: unknown) => {
      finished = true;
      return { ok: false as const, error };
    },
  );
  return { done: () => finished, result };
}

/** Lets real I/O (loopback sockets) progress for about `ms` of real time while fake timers stand still. */
export async function realPause(ms = 2): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < ms)
    await new Promise<void>((r) => {
      setImmediate(r);
    });
}

/** Waits (in real time, bounded) until `cond` holds; for events that travel over real sockets. */
export async function waitFor(cond: () => boolean, what = 'condition', limitMS = 5_000): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > limitMS) throw new Error(`waitFor: ${what} did not happen within ${limitMS} ms`);
    await new Promise<void>((r) => {
      setImmediate(r);
    });
  }
}

/**
 * Advances fake time in steps, letting real I/O run between steps, until `until` holds or
 * `totalMS` has passed. Returns the fake time at which `until` first held.
 */
export async function advanceUntil(
  clock: { tickAsync(ms: number): Promise<number> },
  until: () => boolean,
  totalMS: number,
  stepMS = 50,
): Promise<number | undefined> {
  for (let t = 0; t <= totalMS; t += stepMS) {
    await realPause();
    if (until()) return Date.now();
    await clock.tickAsync(stepMS);
  }
  return until() ? Date.now() : undefined;
}
