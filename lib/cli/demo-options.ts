/**
 * The demo's flags and defaults, shared by the command's declaration (demo.ts) and the code it
 * loads when it runs (demo-run.ts), so that neither imports the other.
 *
 * @module
 */

/** The `--store` default of the demo: the embedded SQLite file. */
export const DEFAULT_DEMO_STORE = 'sqlite://./.persistent-session/demo.sqlite';

/** The parsed flags of `demo`. */
export interface DemoFlags {
  users: number;
  duration: number;
  store: string;
  seed?: boolean;
  concurrency: number;
  accessTtl: number;
  userTtl: number;
  faults: boolean;
  emulatorState?: string;
  json?: boolean;
}
