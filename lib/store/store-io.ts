/**
 * The one boundary between sessions and any TokenStore, shipped or hand-written: records read back
 * are validated (a bad one reads as absent, with a warning) and every failure of the store becomes
 * a redacted TokenStoreError (lib/errors.ts), whose message never quotes a record.
 *
 * @module
 */
import { TokenStoreError } from '../errors.js';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import type { TokenStore } from './token-store.js';

function translate(err: unknown, what: string, key: string): TokenStoreError {
  if (err instanceof TokenStoreError) return err;
  return new TokenStoreError(`Token store ${what} failed for key "${key}": ${err instanceof Error ? err.name : typeof err}`, {
    cause: err,
    key,
  });
}

/**
 * @internal Reads and validates a record. A record that is not a valid TokenInfo reads as absent,
 * with a process warning (code `PERSISTENT_SESSION_INVALID_RECORD`); it never reaches a caller.
 */
export async function readTokens(store: TokenStore, key: string): Promise<TokenInfo | undefined> {
  let raw: unknown;
  try {
    raw = await store.read(key);
  } catch (err) {
    throw translate(err, 'read', key);
  }
  if (raw === undefined || raw === null) return undefined;
  try {
    return validateTokenInfo(raw);
  } catch (err) {
    process.emitWarning(
      `Token store record "${key}" is not a valid TokenInfo (${err instanceof Error ? err.message : 'invalid'}); treating it as absent`,
      { code: 'PERSISTENT_SESSION_INVALID_RECORD' },
    );
    return undefined;
  }
}

/** @internal Writes a record; failures become TokenStoreError. */
export async function writeTokens(store: TokenStore, key: string, info: TokenInfo): Promise<void> {
  try {
    await store.write(key, info);
  } catch (err) {
    throw translate(err, 'write', key);
  }
}

/**
 * @internal Writes a record if the stored one holds `expected.refreshToken` (TokenStore.writeIf, which
 * the store must have); failures become TokenStoreError.
 * @returns true when it wrote, false when the caller lost the race
 */
export async function writeTokensIf(
  store: TokenStore & Required<Pick<TokenStore, 'writeIf'>>,
  key: string,
  info: TokenInfo,
  expected: { refreshToken: string | undefined },
): Promise<boolean> {
  let wrote: unknown;
  try {
    wrote = await store.writeIf(key, info, expected);
  } catch (err) {
    throw translate(err, 'conditional write', key);
  }
  if (typeof wrote !== 'boolean') {
    throw new TokenStoreError(`Token store conditional write for key "${key}" resolved neither true nor false`, { key });
  }
  return wrote;
}

/** @internal Clears a record; failures become TokenStoreError. */
export async function clearTokens(store: TokenStore, key: string): Promise<void> {
  try {
    await store.clear(key);
  } catch (err) {
    throw translate(err, 'clear', key);
  }
}
