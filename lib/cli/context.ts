/**
 * What every command of the CLI writes to and reads from, so that the commands never touch
 * `process` directly (and can be driven in-process).
 *
 * @module
 */
import { styleFor, type OutStream, type Style } from './format.js';

/** The streams, environment and clock of one CLI run. */
export interface CliContext {
  /** Where results go. */
  stdout: OutStream;
  /** Where progress, hints and errors go. */
  stderr: OutStream;
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
    out: styleFor(process.stdout),
    err: styleFor(process.stderr),
    env: process.env,
    now: Date.now,
    onSignal(handler) {
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
      for (const s of signals) process.on(s, handler);
      return () => { for (const s of signals) process.off(s, handler); };
    },
  };
}

/** Writes one line to a stream. */
export function println(stream: OutStream, text = ''): void {
  stream.write(`${text}\n`);
}
