/**
 * Encryption at rest for store records: AES-256-GCM from node:crypto, with key rotation (the first
 * key encrypts, every key decrypts) and the store key bound as associated data, so that a record
 * copied under another key does not decrypt.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { expiresAtMS, toStorable, validateTokenInfo, type TokenInfo } from '../token/token-info.js';

/** A 32-byte key: a Buffer/Uint8Array, or a string in base64 or hex (64 hex digits). */
export type EncryptionKey = Uint8Array | string;

/** An encrypted record as it is written to the backend. */
export interface EncryptedEnvelope {
  /** Envelope version. */
  v: 1;
  /** Algorithm. */
  enc: 'aes-256-gcm';
  /** Key id: the first 8 hex digits of the key's SHA-256, so the right key is tried first. */
  kid: string;
  /** 12-byte IV, base64. */
  iv: string;
  /** 16-byte GCM tag, base64. */
  tag: string;
  /** Ciphertext, base64. */
  data: string;
}

interface PreparedKey {
  key: Buffer;
  kid: string;
}

function toKeyBuffer(key: unknown, field: string): Buffer {
  let buf: Buffer | undefined;
  if (key instanceof Uint8Array) buf = Buffer.from(key);
  else if (typeof key === 'string') {
    buf = /^[0-9a-fA-F]{64}$/.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'base64');
  }
  if (buf === undefined || buf.length !== 32) {
    throw new InvalidArgumentError(
      field,
      `Expected \`${field}\` to be 32 bytes (a Buffer, 64 hex digits or base64), got ` +
        `${buf === undefined ? typeof key : `${buf.length} bytes`}`,
    );
  }
  return buf;
}

/** Encrypts and decrypts record strings with a ring of keys. */
export class RecordCipher {
  readonly #keys: PreparedKey[];

  /**
   * @param keys - one key, or a list whose first entry encrypts and all of which decrypt
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` when a key is not 32 bytes
   */
  constructor(keys: EncryptionKey | readonly EncryptionKey[]) {
    const list = Array.isArray(keys) ? keys : [keys];
    if (list.length === 0) throw new InvalidArgumentError('encryptionKey', 'Expected `encryptionKey` to hold at least one key');
    this.#keys = list.map((k, i) => {
      const key = toKeyBuffer(k, Array.isArray(keys) ? `encryptionKey[${i}]` : 'encryptionKey');
      return { key, kid: createHash('sha256').update(key).digest('hex').slice(0, 8) };
    });
  }

  /** Encrypts `plaintext`, binding it to `aad` (the store key). */
  encrypt(plaintext: string, aad: string): EncryptedEnvelope {
    const { key, kid } = this.#keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      v: 1,
      enc: 'aes-256-gcm',
      kid,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  /**
   * Decrypts an envelope; `undefined` when no key opens it (wrong key, tampered data, other store key).
   */
  decrypt(envelope: EncryptedEnvelope, aad: string): string | undefined {
    const ordered = [...this.#keys].sort((a, b) => Number(b.kid === envelope.kid) - Number(a.kid === envelope.kid));
    for (const { key } of ordered) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(envelope.iv, 'base64'));
        decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        // try the next key
      }
    }
    return undefined;
  }
}

/** A record as it is written without encryption. */
export interface PlainEnvelope {
  /** Envelope version. */
  v: 1;
  /** The TokenInfo, with its real token values. */
  tokenInfo: unknown;
}

/** @internal What {@link decodeRecord} found: the tokens, or why the record counts as absent. */
export type DecodedRecord = { tokenInfo: TokenInfo } | { problem: 'CORRUPT_RECORD' | 'UNDECRYPTABLE_RECORD'; reason: string };

/**
 * @internal Serialises a TokenInfo for the backend: a plain envelope, or an encrypted one bound to `key`.
 * @param tokenInfo - the tokens (validated here)
 * @param key - the store key, used as associated data
 * @param cipher - encrypts when given
 * @returns the string to store
 * @throws {@link InvalidTokenInfoError} `ERR_INVALID_TOKEN_INFO` for an invalid TokenInfo
 */
export function encodeRecord(tokenInfo: TokenInfo, key: string, cipher: RecordCipher | undefined): string {
  const info = toStorable(validateTokenInfo(tokenInfo));
  return cipher === undefined
    ? JSON.stringify({ v: 1, tokenInfo: info } satisfies PlainEnvelope)
    : JSON.stringify(cipher.encrypt(JSON.stringify(info), key));
}

/**
 * @internal Reads a stored record back. Never throws: anything unusable is reported as a problem, so
 * that the store can treat the record as absent and warn. Reasons never quote the record.
 * @param raw - the value the backend returned (a string, or an already parsed envelope)
 * @param key - the store key the record was read under
 * @param cipher - decrypts when given
 * @returns the tokens or the problem
 */
export function decodeRecord(raw: unknown, key: string, cipher: RecordCipher | undefined): DecodedRecord {
  let envelope: unknown = raw;
  if (typeof raw === 'string') {
    try {
      envelope = JSON.parse(raw);
    } catch {
      return { problem: 'CORRUPT_RECORD', reason: 'is not valid JSON' };
    }
  }
  const e = envelope as Partial<PlainEnvelope & EncryptedEnvelope> | null;
  if (e === null || typeof e !== 'object' || e.v !== 1) return { problem: 'CORRUPT_RECORD', reason: 'has an unknown format' };
  // A plaintext record decodes here even when a cipher is given: KeyvTokenStore refuses it beforehand
  // unless `allowPlaintextRecords` is set (migration), and prune() judges it by its expiry.
  let tokenInfo: unknown = e.tokenInfo;
  if (e.enc !== undefined) {
    if (cipher === undefined) return { problem: 'UNDECRYPTABLE_RECORD', reason: 'is encrypted but no encryptionKey is configured' };
    const plain =
      e.enc === 'aes-256-gcm' && typeof e.iv === 'string' && typeof e.tag === 'string' && typeof e.data === 'string'
        ? cipher.decrypt(e as EncryptedEnvelope, key)
        : undefined;
    if (plain === undefined) return { problem: 'UNDECRYPTABLE_RECORD', reason: 'could not be decrypted (wrong key or tampered data)' };
    try {
      tokenInfo = JSON.parse(plain);
    } catch {
      tokenInfo = undefined;
    }
  }
  try {
    return { tokenInfo: validateTokenInfo(tokenInfo) };
  } catch (err) {
    return { problem: 'CORRUPT_RECORD', reason: `is not a valid TokenInfo (${err instanceof Error ? err.message : 'invalid'})` };
  }
}

/**
 * How long a record whose token cannot be renewed (no refresh token) stays in the backend after its
 * token's lifetime has run out. Within it, another process still finds the expired record and can say
 * when it expired (a system token, see lib/forge/system-token-cache.ts); after it, the backend forgets
 * the record, so that the tokens of users who stopped coming back do not pile up.
 */
export const EXPIRED_RECORD_GRACE_MS = 60 * 60_000;

/**
 * @internal The Keyv TTL for a record: none when the tokens can be refreshed (the refresh token is the
 * only grant the session holds), else the token's lifetime plus {@link EXPIRED_RECORD_GRACE_MS}. The
 * lifetime is counted from the write rather than from `acquiredAtMS`: sessions may run on a clock of
 * their own (the `now` option), while the TTL runs on the backend's; a token never outlives
 * `accessTokenTTLMS` from its acquisition, which precedes the write.
 * @param tokenInfo - the tokens being written
 * @returns milliseconds, or undefined for no expiry
 */
export function recordTTL(tokenInfo: TokenInfo): number | undefined {
  if (tokenInfo.refreshToken !== undefined && tokenInfo.refreshToken !== '') return undefined;
  return tokenInfo.accessTokenTTLMS + EXPIRED_RECORD_GRACE_MS;
}

/**
 * @internal Whether a stored record can never be used again: corrupt (not JSON, unknown format, not a
 * TokenInfo), past the TTL Keyv recorded in it, or holding an expired token without a refresh token.
 * Records that cannot be decrypted with the given keys are kept: another key may open them.
 * @param data - the record as Keyv deserialised it (`{ value, expires }`), or undefined when it is not JSON
 * @param key - the store key (associated data of encrypted records)
 * @param cipher - the store's keys, when it has any
 * @param nowMS - the current time
 * @returns true when the record may be deleted
 */
export function isDeadRecord(data: unknown, key: string, cipher: RecordCipher | undefined, nowMS: number): boolean {
  if (data === null || typeof data !== 'object') return true;
  const { value, expires } = data as { value?: unknown; expires?: unknown };
  if (typeof expires === 'number' && expires <= nowMS) return true;
  const record = decodeRecord(value, key, cipher);
  if ('tokenInfo' in record) return recordTTL(record.tokenInfo) !== undefined && expiresAtMS(record.tokenInfo) <= nowMS;
  return record.problem === 'CORRUPT_RECORD';
}
