/**
 * The implementation of `persistent-session tokens list|show|clear|prune` (loaded only when a
 * subcommand runs).
 *
 * @module
 */
import type { KeyvTokenStore, StoreWarning } from '../store/keyv-token-store.js';
import { fingerprint } from '../redact.js';
import { expiresAtMS, type TokenInfo } from '../token/token-info.js';
import { confirm, println, type CliContext } from './context.js';
import { CliFailure, UsageError } from './exit.js';
import { formatExpiry, formatRelative, renderTable } from './format.js';
import { openStore } from './store.js';
import { GRANT_HEADER, grantCells, grantLines, grantRow, type GrantRow } from './tokens-health.js';

/** Options shared by the `tokens` subcommands. */
export interface StoreFlags {
  store: string;
  namespace?: string;
  encryptionKey?: string;
  json?: boolean;
}

/** One record as the CLI shows it: fingerprints, never tokens. */
export interface TokenRow {
  /** The store key. */
  key: string;
  /** `valid`, `expired`, or `unreadable` (corrupt, or encrypted with another key). */
  status: 'valid' | 'expired' | 'unreadable';
  /** Fingerprint of the access token. */
  accessToken?: string;
  /** Fingerprint of the refresh token, when there is one. */
  refreshToken?: string;
  /** When the tokens were acquired (ISO 8601). */
  acquiredAt?: string;
  /** When the access token expires (ISO 8601). */
  expiresAt?: string;
  /** Milliseconds until expiry (negative once expired). */
  expiresInMS?: number;
  /** Lifetime of the access token in ms. */
  accessTokenTTLMS?: number;
  /** Granted scope. */
  scope?: string;
  /** Token type. */
  tokenType?: string;
  /** Why the record is unreadable. */
  warning?: string;
  /** The health of the grant (absent for unreadable records). */
  grant?: GrantRow;
}

/** Builds the redacted row of a record. */
export function tokenRow(key: string, info: TokenInfo | undefined, nowMS: number, warning?: StoreWarning): TokenRow {
  if (info === undefined) return { key, status: 'unreadable', ...(warning === undefined ? {} : { warning: warning.message }) };
  const expires = expiresAtMS(info);
  // Finite but beyond what Date can represent (year 275760): show the row as unreadable, not crash.
  if (!Number.isFinite(new Date(expires).getTime()) || !Number.isFinite(new Date(info.acquiredAtMS).getTime())) {
    return { key, status: 'unreadable', warning: 'its times are out of range' };
  }
  const row: TokenRow = {
    key,
    status: expires > nowMS ? 'valid' : 'expired',
    accessToken: fingerprint(info.accessToken),
    acquiredAt: new Date(info.acquiredAtMS).toISOString(),
    expiresAt: new Date(expires).toISOString(),
    expiresInMS: expires - nowMS,
    accessTokenTTLMS: info.accessTokenTTLMS,
  };
  if (info.refreshToken !== undefined) row.refreshToken = fingerprint(info.refreshToken);
  if (info.scope !== undefined) row.scope = info.scope;
  if (info.tokenType !== undefined) row.tokenType = info.tokenType;
  row.grant = grantRow(info);
  return row;
}

async function withStore<T>(
  ctx: CliContext,
  flags: StoreFlags,
  fn: (store: KeyvTokenStore, warnings: StoreWarning[]) => Promise<T>,
): Promise<T> {
  const { store, warnings } = openStore(flags.store, {
    mustExist: true,
    env: ctx.env,
    ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
    ...(flags.encryptionKey === undefined ? {} : { encryptionKey: flags.encryptionKey }),
  });
  try {
    return await fn(store, warnings);
  } finally {
    await store.close().catch(() => {});
  }
}

async function readRows(store: KeyvTokenStore, warnings: StoreWarning[], keys: string[], nowMS: number): Promise<TokenRow[]> {
  const rows: TokenRow[] = [];
  for (const key of keys) {
    const info = await store.read(key);
    rows.push(
      tokenRow(
        key,
        info,
        nowMS,
        warnings.find((w) => w.key === key),
      ),
    );
  }
  return rows;
}

function statusText(ctx: CliContext, row: TokenRow): string {
  if (row.status === 'unreadable') return ctx.out.yellow('unreadable');
  const text = formatExpiry(Date.parse(row.expiresAt!), ctx.now());
  return row.status === 'valid' ? ctx.out.green(text) : ctx.out.red(text);
}

/** `tokens list`. */
export async function list(ctx: CliContext, flags: StoreFlags): Promise<number> {
  return withStore(ctx, flags, async (store, warnings) => {
    const now = ctx.now();
    const rows = await readRows(store, warnings, await store.keys(), now);
    if (flags.json === true) {
      println(
        ctx.stdout,
        JSON.stringify({ store: flags.store, namespace: flags.namespace, now: new Date(now).toISOString(), tokens: rows }, null, 2),
      );
      return 0;
    }
    const where = `${flags.store} (namespace ${flags.namespace})`;
    if (rows.length === 0) {
      println(ctx.stdout, `no tokens in ${where}`);
      return 0;
    }
    println(ctx.stdout, `${rows.length} key${rows.length === 1 ? '' : 's'} in ${where}`);
    println(
      ctx.stdout,
      renderTable(
        rows.map((r) => [
          r.key,
          r.accessToken ?? '-',
          r.refreshToken ?? '-',
          statusText(ctx, r),
          r.scope ?? '',
          ...grantCells(ctx, r.grant, r.refreshToken !== undefined, now),
        ]),
        { header: ['KEY', 'ACCESS TOKEN', 'REFRESH TOKEN', 'EXPIRES', 'SCOPE', ...GRANT_HEADER].map((h) => ctx.out.bold(h)) },
      ),
    );
    const unreadable = rows.filter((r) => r.status === 'unreadable');
    if (unreadable.length > 0) {
      println(
        ctx.stderr,
        ctx.err.yellow(`${unreadable.length} record(s) could not be read (corrupt, or encrypted with another key; try --encryption-key)`),
      );
    }
    return 0;
  });
}

/** `tokens show <key>`; a missing key is a failure (exit 1). */
export async function show(ctx: CliContext, key: string, flags: StoreFlags): Promise<number> {
  return withStore(ctx, flags, async (store, warnings) => {
    const now = ctx.now();
    const [row] = await readRows(store, warnings, [key], now);
    if (row!.status === 'unreadable' && row!.warning === undefined) {
      throw new CliFailure(
        `no tokens under key "${key}" in ${flags.store} (namespace ${flags.namespace}); run \`persistent-session tokens list\` to see ` +
          `the keys`,
      );
    }
    if (flags.json === true) {
      println(ctx.stdout, JSON.stringify(row, null, 2));
      return 0;
    }
    const r = row!;
    const lines: string[][] = [
      ['key', r.key],
      ['status', statusText(ctx, r)],
    ];
    if (r.status === 'unreadable') lines.push(['problem', r.warning ?? 'unreadable']);
    else {
      lines.push(['access token', r.accessToken!], ['refresh token', r.refreshToken ?? '(none)']);
      lines.push(['acquired', `${r.acquiredAt} (${formatRelative(Date.parse(r.acquiredAt!), now)})`]);
      lines.push(['expires', `${r.expiresAt} (${formatExpiry(Date.parse(r.expiresAt!), now)})`]);
      lines.push(['lifetime', `${Math.round(r.accessTokenTTLMS! / 1000)} s`]);
      if (r.scope !== undefined) lines.push(['scope', r.scope]);
      if (r.tokenType !== undefined) lines.push(['token type', r.tokenType]);
      lines.push(...grantLines(ctx, r.grant, r.refreshToken !== undefined, now));
    }
    println(ctx.stdout, renderTable(lines.map(([k, v]) => [ctx.out.bold(k!), v!])));
    return 0;
  });
}

/** The flags of `tokens clear`. */
export interface ClearFlags extends StoreFlags {
  all?: boolean;
  yes?: boolean;
}

/**
 * `tokens clear <key>` or `tokens clear --all`. `--all` asks first on a terminal, and needs `--yes`
 * when there is nobody to ask (a script, a pipe, CI).
 */
export async function clear(ctx: CliContext, key: string | undefined, flags: ClearFlags): Promise<number> {
  if (key === undefined && flags.all !== true) throw new UsageError('tokens clear needs a <key> or --all');
  if (key !== undefined && flags.all === true) throw new UsageError('tokens clear takes a <key> or --all, not both');
  const ask = flags.all === true && flags.yes !== true;
  if (ask && ctx.stdin?.isTTY !== true) {
    throw new UsageError('tokens clear --all removes every key of the namespace; stdin is not a terminal to confirm on, so pass --yes');
  }
  return withStore(ctx, flags, async (store) => {
    const keys = key === undefined ? await store.keys() : [key];
    const where = `${flags.store} (namespace ${flags.namespace})`;
    const question = `Clear all ${keys.length} key${keys.length === 1 ? '' : 's'} from ${where}? This cannot be undone.`;
    if (ask && keys.length > 0 && !(await confirm(ctx, question))) {
      throw new CliFailure('not confirmed; nothing was cleared');
    }
    let cleared = 0;
    for (const k of keys) {
      const present = key === undefined || (await store.keys()).includes(k);
      await store.clear(k);
      if (present) cleared++;
    }
    if (flags.json === true) {
      println(ctx.stdout, JSON.stringify({ store: flags.store, namespace: flags.namespace, cleared }));
    } else if (key !== undefined && cleared === 0) {
      println(ctx.stdout, `no tokens under key "${key}"; nothing to clear`);
    } else {
      println(ctx.stdout, `cleared ${cleared} key${cleared === 1 ? '' : 's'} from ${where}`);
    }
    return 0;
  });
}

/** A store that can remove the records that can never be used again (KeyvTokenStore's `prune`). */
interface PrunableStore {
  /** Removes expired records without a refresh token, and unreadable ones; resolves with how many. */
  prune(): Promise<number>;
}

function isPrunable(store: object): store is PrunableStore {
  return typeof (store as Partial<PrunableStore>).prune === 'function';
}

/** `tokens prune`: removes the records that can never be used again. */
export async function prune(ctx: CliContext, flags: StoreFlags): Promise<number> {
  return withStore(ctx, flags, async (store) => {
    if (!isPrunable(store)) throw new CliFailure('this version of the token store cannot prune');
    const removed = await store.prune();
    if (flags.json === true) {
      println(ctx.stdout, JSON.stringify({ store: flags.store, namespace: flags.namespace, removed }));
    } else {
      println(
        ctx.stdout,
        `removed ${removed} record${removed === 1 ? '' : 's'} that can never be used again ` +
          `(expired without a refresh token, or unreadable) from ${flags.store} (namespace ${flags.namespace})`,
      );
    }
    return 0;
  });
}
