/**
 * Exit codes of the `persistent-session` command, and the error that carries a usage mistake.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success (and, for `demo`, zero unrecovered errors) |
 * | 1 | runtime failure: a server refused, a store failed, a key was not found, `demo` saw errors |
 * | 2 | usage error: an unknown command or flag, a missing or malformed value |
 *
 * @module
 */

/** Success. */
export const EXIT_OK = 0;
/** A runtime failure (network, server refusal, store outage, not found, demo errors). */
export const EXIT_FAILURE = 1;
/** Bad input: unknown command or flag, missing or malformed value. */
export const EXIT_USAGE = 2;

/** A mistake in the command line; its message names the flag. Exits with {@link EXIT_USAGE}. */
export class UsageError extends Error {
  /** Always {@link EXIT_USAGE}. */
  readonly exitCode = EXIT_USAGE;

  /** @param message - e.g. `--users must be a positive integer, got "abc"` */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A runtime failure with a message meant for the user as is. Exits with {@link EXIT_FAILURE}. */
export class CliFailure extends Error {
  /** Always {@link EXIT_FAILURE}. */
  readonly exitCode = EXIT_FAILURE;

  /** @param message - what failed and, when known, what to do */
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}
