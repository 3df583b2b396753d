/**
 * Encryption at rest for store records: AES-256-GCM from node:crypto, with key rotation (the first
 * key encrypts, every key decrypts) and the store key bound as associated data, so that a record
 * copied under another key does not decrypt.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';

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

interface PreparedKey { key: Buffer; kid: string }

function toKeyBuffer(key: unknown, field: string): Buffer {
  let buf: Buffer | undefined;
  if (key instanceof Uint8Array) buf = Buffer.from(key);
  else if (typeof key === 'string') {
    buf = /^[0-9a-fA-F]{64}$/.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'base64');
  }
  if (buf === undefined || buf.length !== 32) {
    throw new InvalidArgumentError(field, `Expected \`${field}\` to be 32 bytes (a Buffer, 64 hex digits or base64), got ${buf === undefined ? typeof key : `${buf.length} bytes`}`);
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
    return { v: 1, enc: 'aes-256-gcm', kid, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
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
