/**
 * The validation helpers every constructor uses, so that bad options fail at construction with a
 * message naming the field.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { InvalidArgumentError, describeValue } from '../errors.js';

/** @internal */
export function checkObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an object, got ${describeValue(value)}`);
  }
}

/** @internal */
export function checkNumber(value: unknown, field: string, { min = -Infinity, integer = false } = {}): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    const what = `a finite ${integer ? 'integer' : 'number'}${min === -Infinity ? '' : ` >= ${min}`}`;
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be ${what}, got ${describeValue(value)}`);
  }
  return value;
}

/** @internal */
export function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** @internal Absolute http(s) URL. */
export function checkUrl(value: unknown, field: string): string {
  const s = checkString(value, field);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an absolute URL, got ${describeValue(s)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an http(s) URL, got protocol "${url.protocol}"`);
  }
  return s;
}

/** @internal */
export function checkFunction<T>(value: unknown, field: string): T {
  if (typeof value !== 'function') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be a function, got ${describeValue(value)}`);
  }
  return value as T;
}

/** @internal */
export function checkDispatcher(value: unknown, field = 'dispatcher'): Dispatcher | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || typeof (value as { dispatch?: unknown }).dispatch !== 'function') {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be an undici Dispatcher, got ${describeValue(value)}`);
  }
  return value as Dispatcher;
}

/** @internal Rejects option names the constructor does not know (catches typos such as `expiredBufferMs`). */
export function checkKnownKeys(value: Record<string, unknown>, known: readonly string[], field: string): void {
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) {
      throw new InvalidArgumentError(
        `${field}.${k}`,
        `Unknown option \`${field}.${k}\`; expected one of ${known.map((x) => `\`${x}\``).join(', ')}`,
      );
    }
  }
}

/**
 * @internal The option given under `name` or under its older alias `alias` (both is an error, as
 * they could disagree), with the name it was given under, for messages.
 */
export function aliased(options: Record<string, unknown>, name: string, alias: string): { value: unknown; field: string } {
  if (options[name] !== undefined && options[alias] !== undefined) {
    throw new InvalidArgumentError(alias, `Give either \`${name}\` or \`${alias}\` (its older name), not both`);
  }
  return options[alias] === undefined ? { value: options[name], field: name } : { value: options[alias], field: alias };
}
