import { inspect } from 'node:util';
import { expect } from 'chai';

/**
 * The suite-wide secret scan: tests record every token they see and every error or output they
 * produce; a root hook scans all outputs for all tokens at the end (and `expectNoSecrets` checks
 * one output at once).
 */
const secrets = new Set<string>();
const outputs: string[] = [];
/** Objects rendered only at the end (errors are published before their subclass fields are set). */
const later: unknown[] = [];
const LATER_CAP = 20_000;

/** Keeps an object (an error, an event) to render and scan at the end of the run. */
export function recordLater(value: unknown): void {
  if (later.length < LATER_CAP) later.push(value);
}

/** Remembers tokens that must never appear in any output. */
export function recordSecret(...tokens: Array<string | undefined>): void {
  for (const t of tokens) if (typeof t === 'string' && t.length >= 8) secrets.add(t);
}

/** Every text form of a value that could reach a log: message, stack, cause chain, inspect, JSON. */
export function renderings(value: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  let v: unknown = value;
  while (v !== undefined && v !== null && !seen.has(v)) {
    seen.add(v);
    if (v instanceof Error) out.push(v.message, v.stack ?? '');
    out.push(inspect(v, { depth: 10 }), inspect(v, { depth: 10, showHidden: false }));
    try {
      out.push(JSON.stringify(v) ?? '');
    } catch {
      /* circular */
    }
    out.push(String(v));
    v = v instanceof Error ? v.cause : undefined;
  }
  return out;
}

/** Records an output (error, object or text) for the final scan. */
export function recordOutput(value: unknown): void {
  outputs.push(...renderings(value));
}

/** Asserts that no recorded token appears in `value`'s renderings (and records them). */
export function expectNoSecrets(value: unknown, extraTokens: string[] = []): void {
  const texts = renderings(value);
  outputs.push(...texts);
  for (const token of [...secrets, ...extraTokens]) {
    for (const text of texts) {
      expect(text.includes(token), `a token leaked into: ${text.slice(0, 200)}`).to.equal(false);
    }
  }
}

/** The scan run at the end of the suite. */
export function scanAll(): { outputs: number; secrets: number; leaks: string[] } {
  for (const value of later.splice(0)) outputs.push(...renderings(value));
  const leaks: string[] = [];
  for (const text of new Set(outputs)) {
    for (const token of secrets) if (text.includes(token)) leaks.push(text.slice(0, 200));
  }
  return { outputs: outputs.length, secrets: secrets.size, leaks };
}

/** Awaits a promise that must reject; records and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    const value = await p;
    expect.fail(`expected a rejection, got ${inspect(value)}`);
  } catch (err) {
    if (err instanceof Error && err.name === 'AssertionError') throw err;
    recordOutput(err);
    return err as Error;
  }
  throw new Error('unreachable');
}
