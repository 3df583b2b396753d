/**
 * Keeping the emulator's memory across demo runs, so that a restarted worker's persisted tokens
 * are still known to the (restarted) server, as they would be to a real one.
 *
 * The emulator has no state import/export yet. The demo uses it when it appears, detected at run
 * time, in this shape (proposed):
 *
 * ```ts
 * interface Emulator { exportState(): EmulatorState }        // JSON-serialisable snapshot
 * interface EmulatorOptions { state?: EmulatorState }        // startEmulator({ state }) restores it
 * ```
 *
 * TODO(emulator): once `Emulator.exportState()` and `EmulatorOptions.state` exist, drop the
 * feature detection below and type these through the emulator's own types.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Emulator, EmulatorOptions } from '../emulator/index.js';

/** What an emulator that can snapshot its state has (proposed API). */
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
