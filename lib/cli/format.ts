/**
 * Output helpers of the command: colour (only on a TTY, never with NO_COLOR), durations, relative
 * times and plain-text tables.
 *
 * @module
 */

/** A writable stream as far as the command needs one. */
export interface OutStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Colour functions; each is the identity when colour is off. */
export interface Style {
  /** Whether colour is on. */
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/**
 * Whether to colour a stream: it must be a TTY, and `NO_COLOR` must be unset or empty
 * (https://no-color.org).
 */
export function colorEnabled(stream: OutStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const noColor = env.NO_COLOR;
  if (noColor !== undefined && noColor !== '') return false;
  return stream.isTTY === true;
}

/** The colour functions for a stream. */
export function styleFor(stream: OutStream, env: NodeJS.ProcessEnv = process.env): Style {
  const enabled = colorEnabled(stream, env);
  const wrap = (open: number, close: number) => (text: string) => (enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { enabled, bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes this strips
const ANSI = /\u001b\[[0-9;]*m/g;

/** The printed width of a string (ANSI colour codes excluded). */
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/**
 * A duration for people: at most two units, e.g. `4m 12s`, `3h`, `2d 5h`, `850ms`.
 * @param ms - a duration (its absolute value is used)
 */
export function formatDuration(ms: number): string {
  let rest = Math.abs(Math.round(ms));
  if (rest < 1_000) return `${rest}ms`;
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (parts.length === 2) break;
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) {
      if (n > 0) parts.push(`${n}${unit}`);
      else break;
      rest -= n * size;
    }
  }
  return parts.join(' ');
}

/**
 * When a token expires, relative to now: `in 4m 12s`, or `expired 3h ago`.
 * @param expiresAtMS - expiry, epoch ms
 * @param nowMS - the current time
 */
export function formatExpiry(expiresAtMS: number, nowMS: number): string {
  const delta = expiresAtMS - nowMS;
  return delta > 0 ? `in ${formatDuration(delta)}` : `expired ${formatDuration(-delta)} ago`;
}

/**
 * A time relative to now: `in 5s` or `2m ago`.
 * @param atMS - the time, epoch ms
 * @param nowMS - the current time
 */
export function formatRelative(atMS: number, nowMS: number): string {
  const delta = atMS - nowMS;
  return delta > 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

/** Column alignment of {@link renderTable}. */
export type Align = 'left' | 'right';

/**
 * A plain-text table: columns padded to their widest cell, two spaces apart; with a header, a
 * rule of dashes under it.
 * @param rows - the cells, row by row
 * @param options - a header row and per-column alignment
 * @returns the lines, joined with `\n` (no trailing newline)
 */
export function renderTable(rows: string[][], options: { header?: string[]; align?: Align[]; indent?: string } = {}): string {
  const all = options.header === undefined ? rows : [options.header, ...rows];
  const widths: number[] = [];
  for (const row of all)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  const line = (row: string[]) =>
    (options.indent ?? '') +
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - visibleLength(cell));
        if (i === row.length - 1 && options.align?.[i] !== 'right') return cell;
        return options.align?.[i] === 'right' ? pad + cell : cell + pad;
      })
      .join('  ');
  const out = [];
  if (options.header !== undefined) {
    out.push(line(options.header));
    out.push((options.indent ?? '') + widths.map((w) => '-'.repeat(w)).join('  '));
  }
  for (const row of rows) out.push(line(row));
  return out.join('\n');
}

/** A number with thousands separators (`12,345`). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
