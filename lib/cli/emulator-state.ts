/**
 * Keeping the emulator's memory across demo runs, so that a restarted worker's persisted tokens
 * are still known to the (restarted) server, as they would be to a real one: the demo saves
 * `Emulator.exportState()` to a file after a run and hands it back with `startEmulator({ state })`.
 *
 * The snapshot passes through here as `unknown`: this module only writes it to disk and reads it
 * back, and `startEmulator` checks its shape when it restores it.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Emulator, EmulatorOptions } from '../emulator/index.js';

/** The part of the emulator that snapshots its state. */
interface Stateful {
  exportState(): unknown;
}

/** Whether this emulator can snapshot its state. */
export function supportsState(emulator: Emulator): emulator is Emulator & Stateful {
  return typeof (emulator as Partial<Stateful>).exportState === 'function';
}

/** The emulator options with a saved state to restore (ignored by an emulator without the API). */
export function withState(options: EmulatorOptions, state: unknown): EmulatorOptions {
  return state === undefined ? options : ({ ...options, state } as EmulatorOptions);
}

/**
 * Reads a saved state.
 * @returns the state, or undefined when there is no file or it is unreadable (a fresh emulator then)
 */
export function readState(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Saves the emulator's state (it holds tokens: written with mode 0600, atomically).
 * @returns whether it was saved (false when the emulator has no state API)
 */
export function saveState(emulator: Emulator, file: string): boolean {
  if (!supportsState(emulator)) return false;
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(emulator.exportState()), { mode: 0o600 });
  renameSync(tmp, file);
  return true;
}
