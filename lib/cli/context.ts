/**
 * What every command of the CLI writes to and reads from, so that the commands never touch
 * `process` directly (and can be driven in-process).
 *
 * @module
 */
import { createInterface } from 'node:readline';
import { styleFor, type OutStream, type Style } from './format.js';

/** Where answers to questions come from: a terminal, or not (then nobody is asked anything). */
export type InStream = NodeJS.ReadableStream & { isTTY?: boolean };

/** The streams, environment and clock of one CLI run. */
export interface CliContext {
  /** Where results go. */
  stdout: OutStream;
  /** Where progress, hints and errors go. */
  stderr: OutStream;
  /** Standard input; absent or not a TTY means there is nobody to ask. */
  stdin?: InStream;
  /** Colours for stdout. */
  out: Style;
  /** Colours for stderr. */
  err: Style;
  /** The environment (`env:VAR` secrets, NO_COLOR). */
  env: NodeJS.ProcessEnv;
  /** The clock. */
  now: () => number;
  /** Registers a handler for SIGINT/SIGTERM; returns a function that removes it. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
}

/** The context of the real process. */
export function processContext(): CliContext {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    out: styleFor(process.stdout),
    err: styleFor(process.stderr),
    env: process.env,
    now: Date.now,
    onSignal(handler) {
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
      for (const s of signals) process.on(s, handler);
      return () => {
        for (const s of signals) process.off(s, handler);
      };
    },
  };
}

/** Writes one line to a stream. */
export function println(stream: OutStream, text = ''): void {
  stream.write(`${text}\n`);
}

/**
 * Asks a yes/no question on a terminal (the prompt on stderr, the answer from stdin).
 * @returns true for `y` or `yes` (any case); false for anything else, an empty line or end of input
 */
export async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (ctx.stdin === undefined) return false;
  ctx.stderr.write(`${question} [y/N] `);
  const line = await new Promise<string | undefined>((resolve) => {
    const rl = createInterface({ input: ctx.stdin!, terminal: false });
    let answered = false;
    rl.once('line', (text) => {
      answered = true;
      rl.close();
      resolve(text);
    });
    rl.once('close', () => {
      if (!answered) resolve(undefined);
    });
  });
  if (line === undefined) ctx.stderr.write('\n');
  return /^\s*y(es)?\s*$/i.test(line ?? '');
}
