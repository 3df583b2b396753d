/**
 * The options of KeyvTokenStore, their defaults and their validation.
 *
 * @module
 */
import { InvalidArgumentError, describeValue } from '../errors.js';
import { checkFunction, checkKnownKeys, checkString } from '../util/validate.js';
import type { EncryptionKey } from './record-codec.js';

/** The namespace KeyvTokenStore uses when none is given. */
export const DEFAULT_STORE_NAMESPACE = 'persistent-session';
/** How long one backend operation may take before it fails with TokenStoreError. */
export const DEFAULT_STORE_OPERATION_TIMEOUT_MS = 10_000;

/** A problem the store recovered from by treating a record as absent. */
export interface StoreWarning {
  /**
   * Stable code: `CORRUPT_RECORD` (unparseable or wrong shape), `UNDECRYPTABLE_RECORD` (wrong key,
   * tampered) or `UNENCRYPTED_RECORD` (plaintext in a store with an `encryptionKey`, see
   * {@link KeyvTokenStoreOptions.allowPlaintextRecords}).
   */
  code: 'CORRUPT_RECORD' | 'UNDECRYPTABLE_RECORD' | 'UNENCRYPTED_RECORD';
  /** The store key (never the value). */
  key: string;
  /** Human-readable explanation. */
  message: string;
}

/** Options of {@link KeyvTokenStore}. */
export interface KeyvTokenStoreOptions {
  /**
   * Key prefix inside the backend, so that one database can hold other data too.
   * Ignored when a Keyv instance is passed (configure its own namespace).
   * @default DEFAULT_STORE_NAMESPACE
   */
  namespace?: string;
  /**
   * 32-byte key (or a list: the first encrypts, all decrypt) for AES-256-GCM encryption at rest.
   * @default undefined (values stored as JSON)
   */
  encryptionKey?: EncryptionKey | readonly EncryptionKey[];
  /**
   * With an `encryptionKey`, whether a record stored unencrypted is still read. By default it reads
   * as absent with an `UNENCRYPTED_RECORD` warning: anyone who can write to the backend could
   * otherwise plant tokens that the store hands out as its own. Set it to `true` only while
   * migrating a plaintext store to encryption (each record is encrypted when next written).
   * @default false
   */
  allowPlaintextRecords?: boolean;
  /**
   * Called for every record treated as absent. When not given (and no `'warning'` listener is
   * attached), the warning goes to `process.emitWarning`.
   * @default undefined
   */
  onWarning?: (warning: StoreWarning) => void;
  /**
   * Upper bound on one backend operation; past it the operation fails with TokenStoreError.
   * An unreachable Redis or Postgres fails much sooner (refused connections fail at once, commands
   * are not queued while Redis is down); this bound catches servers that stop answering. Redis and
   * Postgres connections that stay silent this long are dropped and re-established, and connecting
   * is bounded by the smaller of this and 5 s.
   * @default DEFAULT_STORE_OPERATION_TIMEOUT_MS
   */
  operationTimeoutMS?: number;
}

const KNOWN = ['namespace', 'encryptionKey', 'allowPlaintextRecords', 'onWarning', 'operationTimeoutMS'] as const;

/**
 * @internal Validates the options of a KeyvTokenStore (unknown keys included: a misspelt
 * `encryptionkey` must not silently mean plaintext) and completes the defaults.
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` naming the option
 */
export function resolveStoreOptions(options: KeyvTokenStoreOptions): { namespace: string; timeoutMS: number } {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', `Expected \`options\` to be an object, got ${describeValue(options)}`);
  }
  checkKnownKeys(options as Record<string, unknown>, KNOWN, 'options');
  const timeoutMS = options.operationTimeoutMS ?? DEFAULT_STORE_OPERATION_TIMEOUT_MS;
  if (typeof timeoutMS !== 'number' || !Number.isFinite(timeoutMS) || timeoutMS <= 0) {
    throw new InvalidArgumentError(
      'operationTimeoutMS',
      `Expected \`operationTimeoutMS\` to be a finite number > 0, got ${describeValue(timeoutMS)}`,
    );
  }
  const namespace = checkString(options.namespace ?? DEFAULT_STORE_NAMESPACE, 'namespace');
  if (options.onWarning !== undefined) checkFunction(options.onWarning, 'onWarning');
  if (options.allowPlaintextRecords !== undefined && typeof options.allowPlaintextRecords !== 'boolean') {
    throw new InvalidArgumentError(
      'allowPlaintextRecords',
      `Expected \`allowPlaintextRecords\` to be a boolean, got ${describeValue(options.allowPlaintextRecords)}`,
    );
  }
  return { namespace, timeoutMS };
}
