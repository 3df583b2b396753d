/**
 * Cancellation of one caller's wait: an abort rejects that caller at once, while the refresh or mint
 * it was waiting on goes on for every other caller sharing it.
 *
 * @module
 */
import { InvalidArgumentError, describeValue } from '../errors.js';

/** @internal Validates an `AbortSignal` option (anything with `aborted` and `addEventListener`). */
export function checkSignal(value: unknown, field: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const s = value as Partial<AbortSignal> | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an AbortSignal, got ${describeValue(value)}`);
  }
  return value as AbortSignal;
}

/**
 * @internal What `start()` resolves to, unless `signal` aborts first: then `signal.reason`, at once.
 * Nothing is started if the signal has already aborted. The work itself is never cancelled (others
 * may share it); its outcome, if it comes after the abort, is dropped.
 */
export function abortable<T>(signal: AbortSignal | undefined, start: () => Promise<T>): Promise<T> {
  if (signal === undefined) return start();
  if (signal.aborted) return Promise.reject(signal.reason);
  const work = start();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
