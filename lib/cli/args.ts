/**
 * Parsers of flag values. Each one throws a {@link UsageError} whose message names the flag and
 * quotes what it got, e.g. `--users must be a positive integer, got "abc"`.
 *
 * @module
 */
import { UsageError } from './exit.js';

/** Quotes a user-supplied value for an error message (shortened; it could be a secret pasted by mistake). */
export function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 12)}…(${value.length} characters)` : value);
}

/** A commander argument parser for a flag. */
export type FlagParser<T> = (value: string) => T;

/**
 * An integer in a range.
 * @param flag - the flag, e.g. `--users`
 * @param min - smallest accepted value
 * @param max - largest accepted value
 */
export function integerFlag(flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): FlagParser<number> {
  return (value) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
      throw new UsageError(`${flag} must be ${what}, got ${quote(value)}`);
    }
    if (n > max) throw new UsageError(`${flag} must be at most ${max}, got ${quote(value)}`);
    return n;
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration: `20s`, `1m30s`, `500ms`, `2h`, or a bare number of seconds.
 * @returns milliseconds, or `undefined` when the text is not a duration
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1_000);
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) return undefined;
  let total = 0;
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
  return Math.round(total);
}

/**
 * A positive duration flag (`20s`, `1m30s`, `500ms`, or seconds).
 * @param flag - the flag, e.g. `--duration`
 * @param minMS - the shortest accepted duration
 */
export function durationFlag(flag: string, minMS = 1): FlagParser<number> {
  return (value) => {
    const ms = parseDuration(value);
    if (ms === undefined || ms < minMS) {
      throw new UsageError(
        `${flag} must be a duration such as 20s, 1m30s or 500ms${minMS > 1 ? ` (at least ${minMS} ms)` : ''}, got ${quote(value)}`,
      );
    }
    return ms;
  };
}

const STORE_SCHEMES = ['sqlite', 'redis', 'rediss', 'postgres', 'postgresql'];

/**
 * A token store URI: `sqlite://path`, `redis://host:port`, `postgresql://…`.
 * @param flag - the flag, e.g. `--store`
 */
export function storeFlag(flag: string): FlagParser<string> {
  return (value) => {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
    if (scheme === undefined || !STORE_SCHEMES.includes(scheme)) {
      throw new UsageError(
        `${flag} must be a store URI such as sqlite://./tokens.sqlite, redis://localhost:6379 or postgresql://localhost/db, got ` +
          `${quote(value)}`,
      );
    }
    if (scheme === 'sqlite' && value.length <= 'sqlite://'.length)
      throw new UsageError(`${flag} needs a file path after sqlite://, got ${quote(value)}`);
    return value;
  };
}

/**
 * An absolute http(s) URL.
 * @param flag - the flag, e.g. `--gateway`
 */
export function urlFlag(flag: string): FlagParser<string> {
  return (value) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new UsageError(`${flag} must be an absolute http(s) URL, got ${quote(value)}`);
    }
    return value;
  };
}

/**
 * A non-empty string.
 * @param flag - the flag, e.g. `--account`
 */
export function textFlag(flag: string): FlagParser<string> {
  return (value) => {
    if (value.trim().length === 0) throw new UsageError(`${flag} must not be empty`);
    return value;
  };
}

/**
 * Resolves a secret given as `env:VAR` (read from the environment, so it stays out of the shell
 * history and `ps`) or literally.
 * @param flag - the flag, e.g. `--system-token`
 * @param value - `env:VAR` or the secret
 * @param env - the environment
 */
export function resolveSecret(flag: string, value: string, env: NodeJS.ProcessEnv = process.env): string {
  const ref = /^env:(.*)$/.exec(value);
  if (ref === null) {
    if (value.trim().length === 0) throw new UsageError(`${flag} must not be empty`);
    return value;
  }
  const name = ref[1]!;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`${flag} must be a token or env:VARIABLE, got env:${quote(name)}`);
  const secret = env[name];
  if (secret === undefined || secret.trim().length === 0)
    throw new UsageError(`${flag} names the environment variable ${name}, which is not set or empty`);
  return secret.trim();
}
