/**
 * The backends a connection URI can name: one line per backend, mapping its URI schemes to the file
 * of its driver. A driver's file is imported on the first operation of a store that uses it (see
 * lib/store/lazy-adapter.ts), never when the library is imported.
 *
 * @module
 */
import type { BackendDriver } from './driver.js';

/** @internal One backend: its kind (as `KeyvTokenStore.backend` reports it), name, URI schemes and driver. */
export interface DriverEntry {
  /** Stable kind, e.g. `sqlite`. */
  readonly kind: string;
  /** Name used in messages, e.g. `SQLite`. */
  readonly label: string;
  /** URI schemes (lower case, without `:`) that select it. */
  readonly schemes: readonly string[];
  /** Imports the driver's file. */
  load(): Promise<{ driver: BackendDriver }>;
}

/** @internal Every backend. Adding one: a driver file, its lock under ../locks/, its spec, and one line here. */
export const DRIVERS = [
  { kind: 'sqlite', label: 'SQLite', schemes: ['sqlite'], load: () => import('./sqlite.js') },
  { kind: 'redis', label: 'Redis', schemes: ['redis', 'rediss'], load: () => import('./redis.js') },
  { kind: 'postgres', label: 'Postgres', schemes: ['postgresql', 'postgres'], load: () => import('./postgres.js') },
] as const satisfies readonly DriverEntry[];

/** @internal The kinds of {@link DRIVERS}. */
export type DriverKind = (typeof DRIVERS)[number]['kind'];

/**
 * @internal The backend for a URI scheme.
 * @param scheme - lower-case scheme without `:`
 * @returns the entry, or undefined when no backend uses that scheme
 */
export function driverFor(scheme: string): (typeof DRIVERS)[number] | undefined {
  return DRIVERS.find((d) => (d.schemes as readonly string[]).includes(scheme));
}

/** @internal Every supported scheme as `scheme://`, for messages. */
export function supportedSchemes(): string {
  return DRIVERS.flatMap((d) => d.schemes.map((s) => `${s}://`)).join(', ');
}
