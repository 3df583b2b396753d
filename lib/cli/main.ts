#!/usr/bin/env node
/**
 * Entry point of the `persistent-session` command (`bin`). Runs without a build too:
 * `node --import tsx lib/cli/main.ts --help`.
 *
 * @module
 */
import { run } from './program.js';

const code = await run(process.argv);
process.exitCode = code;
// Every command closes what it opened; this only guards against a stray handle keeping the
// process alive after the work is done.
setTimeout(() => process.exit(code), 2_000).unref();
