/**
 * The grant-health part of `persistent-session tokens list|show`: failed refreshes, the last error,
 * when the grant was last refreshed, whether it is dead, and its deadline. Health holds no secret.
 *
 * @module
 */
import { grantHealthOf } from '../token/grant-health.js';
import type { TokenInfo } from '../token/token-info.js';
import type { CliContext } from './context.js';
import { formatRelative } from './format.js';

/** The health of a record's grant as the CLI shows it (times in ISO 8601). */
export interface GrantRow {
  /** Consecutive failed refreshes (0 when the record says nothing). */
  failures: number;
  /** Code of the last failure. */
  lastErrorCode?: string;
  /** When the grant was last refreshed successfully (for a record without health: when its tokens were acquired). */
  lastRefreshedAt?: string;
  /** Set when the server refused the grant for good. */
  dead?: { reason: string; at: string };
  /** The grant's absolute deadline, when the server reported one. */
  expiresAt?: string;
}

/** An ISO time, or undefined when Date cannot represent it. */
function iso(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : undefined;
}

/** Builds the health part of a record's row. */
export function grantRow(info: TokenInfo): GrantRow {
  const h = grantHealthOf(info);
  const row: GrantRow = { failures: h.failures };
  if (h.lastErrorCode !== undefined) row.lastErrorCode = h.lastErrorCode;
  const refreshed = iso(h.lastRefreshedAtMS);
  if (refreshed !== undefined) row.lastRefreshedAt = refreshed;
  const deadAt = iso(h.dead?.atMS);
  if (h.dead !== undefined) row.dead = { reason: h.dead.reason, at: deadAt ?? 'unknown' };
  const expires = iso(h.expiresAtMS);
  if (expires !== undefined) row.expiresAt = expires;
  return row;
}

/** The grant's state in one cell: `dead: <reason>`, `ends in …`/`ended … ago`, `ok`, or `-` without grant. */
function grantState(ctx: CliContext, g: GrantRow | undefined, refreshable: boolean, now: number): string {
  if (g?.dead !== undefined) return ctx.out.red(`dead: ${g.dead.reason}`);
  if (g === undefined || !refreshable) return '-';
  if (g.expiresAt !== undefined) {
    const at = Date.parse(g.expiresAt);
    const text = at > now ? `ends ${formatRelative(at, now)}` : `ended ${formatRelative(at, now)}`;
    return at > now ? text : ctx.out.red(text);
  }
  return ctx.out.green('ok');
}

/** The header cells of the health columns of `tokens list`. */
export const GRANT_HEADER = ['FAILURES', 'LAST ERROR', 'REFRESHED', 'GRANT'];

/** The health cells of one `tokens list` row. */
export function grantCells(ctx: CliContext, g: GrantRow | undefined, refreshable: boolean, now: number): string[] {
  if (g === undefined) return ['-', '-', '-', '-'];
  const failures = g.failures > 0 ? ctx.out.yellow(String(g.failures)) : '0';
  const refreshed = g.lastRefreshedAt === undefined ? '-' : formatRelative(Date.parse(g.lastRefreshedAt), now);
  return [failures, g.lastErrorCode ?? '-', refreshed, grantState(ctx, g, refreshable, now)];
}

/** The health lines of `tokens show`. */
export function grantLines(ctx: CliContext, g: GrantRow | undefined, refreshable: boolean, now: number): string[][] {
  if (g === undefined) return [];
  const lines: string[][] = [
    ['grant', grantState(ctx, g, refreshable, now)],
    ['failures', String(g.failures)],
  ];
  if (g.lastErrorCode !== undefined) lines.push(['last error', g.lastErrorCode]);
  if (g.lastRefreshedAt !== undefined)
    lines.push(['last refreshed', `${g.lastRefreshedAt} (${formatRelative(Date.parse(g.lastRefreshedAt), now)})`]);
  if (g.dead !== undefined) lines.push(['dead since', `${g.dead.at} (${g.dead.reason})`]);
  if (g.expiresAt !== undefined) lines.push(['grant deadline', `${g.expiresAt} (${formatRelative(Date.parse(g.expiresAt), now)})`]);
  return lines;
}
