/**
 * The conditional write of KeyvTokenStore (`writeIf`): write new tokens only if the record still
 * holds the refresh token the caller used, so that of several processes that refreshed with one
 * refresh token (inside a server's reuse grace window, or after a lock lease lapsed) exactly one
 * stores its result.
 *
 * Records may be encrypted, so the backend cannot look at the refresh token itself. Instead the
 * record is read and judged here, after decryption, and the new record is stored with an atomic
 * compare-and-set on the whole stored value just read (lib/store/backends/driver.ts): if anyone wrote
 * the key in between, the stored value differs (an encrypted record never repeats, its IV is random),
 * the compare-and-set fails, and the record is read and judged again. Nothing derived from the token
 * is stored beside it, records written before `writeIf` existed need no migration, and rotating the
 * encryption key changes nothing.
 *
 * A record that already holds the tokens being written (same refresh and access token) counts as
 * written: a caller whose earlier attempt timed out after its compare-and-set had gone through can
 * retry with the same `expected` and learn that its tokens are the stored ones, not that it lost.
 *
 * @module
 */
import { InvalidArgumentError, TokenStoreError, describeValue } from '../errors.js';
import type { TokenInfo } from '../token/token-info.js';

/**
 * How often a conditional write reads and compares again after its compare-and-set found the record
 * changed, with the refresh token still the expected one (writes of grant health by other processes).
 */
export const WRITE_IF_MAX_ATTEMPTS = 20;

/** @internal The operations of one store that a conditional write uses, bound to one key. */
export interface ConditionalWriteIO {
  /** The stored value as the Keyv adapter holds it (undefined when absent). */
  rawGet(): Promise<unknown>;
  /** Keyv's `{ value, expires }` of a stored value; rejects (SyntaxError) when it is not JSON. */
  deserialize(raw: unknown): Promise<unknown>;
  /** Keyv's stored form of `{ value, expires }`. */
  serialize(data: { value: string; expires: number | undefined }): Promise<unknown>;
  /** The tokens of a record's value, or undefined when it reads as absent (with a warning, as `read`). */
  decode(value: unknown): TokenInfo | undefined;
  /** Called for a stored value that is not JSON (it reads as absent). */
  corrupt(): void;
  /** Atomic compare-and-set of the stored value. */
  compareAndSet(expected: unknown, value: unknown, ttl: number | undefined): Promise<boolean>;
  /** The current time, for record expiry (the backend's TTLs run on the real clock, as Keyv's do). */
  now(): number;
}

/**
 * @internal Checks the `expected` argument of `writeIf`: `{ refreshToken: string | undefined }`.
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` naming `expected.refreshToken` (never quoting it)
 */
export function checkExpected(expected: unknown): string | undefined {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) {
    throw new InvalidArgumentError('expected', `Expected \`expected\` to be an object { refreshToken }, got ${describeValue(expected)}`);
  }
  const { refreshToken } = expected as { refreshToken?: unknown };
  if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken.length === 0)) {
    const got = typeof refreshToken === 'string' ? 'an empty string' : describeValue(refreshToken);
    throw new InvalidArgumentError(
      'expected.refreshToken',
      `Expected \`expected.refreshToken\` to be a non-empty string or undefined, got ${got}`,
    );
  }
  return refreshToken;
}

/**
 * @internal What `read` would return for a stored value: undefined when absent, expired, or unreadable.
 */
async function judge(io: ConditionalWriteIO, raw: unknown): Promise<TokenInfo | undefined> {
  if (raw === undefined || raw === null) return undefined;
  let data: unknown;
  try {
    data = await io.deserialize(raw);
  } catch {
    io.corrupt();
    return undefined;
  }
  if (data === undefined || data === null) return undefined;
  const { value, expires } = data as { value?: unknown; expires?: unknown };
  // Keyv's own rule for an expired record (Keyv.get): it reads as absent.
  if (typeof expires === 'number' && io.now() > expires) return undefined;
  if (value === undefined || value === null) return undefined;
  return io.decode(value);
}

/** Whether a stored record already holds the tokens a caller writes (a retry of a write that went through). */
function holds(current: TokenInfo, want: Pick<TokenInfo, 'accessToken' | 'refreshToken'>): boolean {
  return current.refreshToken === want.refreshToken && current.accessToken === want.accessToken;
}

/**
 * @internal Writes `value` (an encoded record) if the record read now holds `expected` as its refresh
 * token; see the module comment.
 * @param io - the store's operations for the key
 * @param value - the encoded record to store
 * @param want - the tokens `value` encodes: a record already holding them counts as written
 * @param ttl - its Keyv TTL, as `write` computes it
 * @param expected - the refresh token the stored record must hold (undefined: none, or no record)
 * @param key - named in errors
 * @returns true when it wrote or the record already holds `want`'s tokens, false when it holds another refresh token
 * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the record keeps changing under it
 */
export async function conditionalWrite(
  io: ConditionalWriteIO,
  value: string,
  want: Pick<TokenInfo, 'accessToken' | 'refreshToken'>,
  ttl: number | undefined,
  expected: string | undefined,
  key: string,
): Promise<boolean> {
  for (let attempt = 0; attempt < WRITE_IF_MAX_ATTEMPTS; attempt++) {
    const raw = await io.rawGet();
    const current = await judge(io, raw);
    if (current?.refreshToken !== expected) return current !== undefined && holds(current, want);
    const stored = await io.serialize({ value, expires: ttl === undefined ? undefined : io.now() + ttl });
    if (await io.compareAndSet(raw === null ? undefined : raw, stored, ttl)) return true;
  }
  throw new TokenStoreError(
    `Token store conditional write gave up for key "${key}": the record changed ${WRITE_IF_MAX_ATTEMPTS} times while it was compared`,
    { key },
  );
}
