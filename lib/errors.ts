/**
 * Every error the library raises. Each class has a stable `code`, sets `name`, keeps the original
 * failure as `cause`, and never carries a token in its message, its `cause` chain or its
 * `util.inspect` output (raw responses are kept non-enumerable and redacted).
 *
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { redactResponse, redactText } from './redact.js';

/** Code of {@link InvalidTokenInfoError}: a TokenInfo failed validation. */
export const ERR_INVALID_TOKEN_INFO = 'ERR_INVALID_TOKEN_INFO';
/** Code of {@link InvalidTokenStoreError}: a token store lacks `read`, `write` or `clear`. */
export const ERR_INVALID_TOKEN_STORE = 'ERR_INVALID_TOKEN_STORE';
/** Code of {@link InvalidArgumentError}: any other option or argument failed validation. */
export const ERR_INVALID_ARG_VALUE = 'ERR_INVALID_ARG_VALUE';
/** Code of {@link TokenStoreError}: the store's backend failed. */
export const ERR_TOKEN_STORE = 'ERR_TOKEN_STORE';
/** Code of {@link ExpiredTokensError}: the server says the tokens are expired or revoked. */
export const ERR_EXPIRED_TOKENS = 'ERR_EXPIRED_TOKENS';
/** Code of {@link TokenRequestError}: any other failed token request, after retries. */
export const ERR_TOKEN_REQUEST = 'ERR_TOKEN_REQUEST';
/** Code of {@link ImpersonationError}: the gateway refused to mint a user token. */
export const ERR_IMPERSONATION = 'ERR_IMPERSONATION';
/** Code of {@link SystemTokenExpiredError} when the app system token held has expired. */
export const ERR_SYSTEM_TOKEN_EXPIRED = 'ERR_SYSTEM_TOKEN_EXPIRED';
/** Code of {@link SystemTokenExpiredError} when no app system token was ever remembered. */
export const ERR_NO_SYSTEM_TOKEN = 'ERR_NO_SYSTEM_TOKEN';
/** Code of {@link SystemTokenExpiredError} when the app system token given is a damaged JWT. */
export const ERR_SYSTEM_TOKEN_MALFORMED = 'ERR_SYSTEM_TOKEN_MALFORMED';
/** Code of {@link InvocationTokenError}: a Forge invocation token failed verification. */
export const ERR_INVALID_INVOCATION_TOKEN = 'ERR_INVALID_INVOCATION_TOKEN';

/**
 * The stable error codes, one per error class (two for {@link SystemTokenExpiredError}). Each is
 * also exported as a constant of the same name, so that a comparison narrows:
 *
 * @example
 * ```ts
 * if (err instanceof SessionError && err.code === ERR_EXPIRED_TOKENS) await session.handleExpiredTokensError(err);
 * ```
 */
export type SessionErrorCode =
  | typeof ERR_INVALID_TOKEN_INFO
  | typeof ERR_INVALID_TOKEN_STORE
  | typeof ERR_INVALID_ARG_VALUE
  | typeof ERR_TOKEN_STORE
  | typeof ERR_EXPIRED_TOKENS
  | typeof ERR_TOKEN_REQUEST
  | typeof ERR_IMPERSONATION
  | typeof ERR_SYSTEM_TOKEN_EXPIRED
  | typeof ERR_NO_SYSTEM_TOKEN
  | typeof ERR_INVALID_INVOCATION_TOKEN
  | typeof ERR_SYSTEM_TOKEN_MALFORMED;

/**
 * Every SessionError is published on this `node:diagnostics_channel` channel when it is created,
 * so that tracing and audit tools (and the project's own secret scan) see each one.
 */
export const ERROR_DIAGNOSTICS_CHANNEL = 'persistent-session:error';
const errorChannel = channel(ERROR_DIAGNOSTICS_CHANNEL);

/** Options shared by every {@link SessionError} constructor. */
export interface SessionErrorOptions {
  /** The underlying failure. Its message is redacted before it is kept. */
  cause?: unknown;
}

/**
 * Base class of every error the library raises.
 *
 * @example
 * ```ts
 * try { await session.getAccessToken(); }
 * catch (err) { if (err instanceof SessionError) console.error(err.code); }
 * ```
 */
export class SessionError extends Error {
  /** Stable, machine-readable code, exported as a constant of the same name; docs/errors.md says what each means. */
  readonly code: SessionErrorCode;

  /**
   * @param code - the stable code
   * @param message - a message that names what failed; it must not contain a token
   * @param options - `cause`
   */
  constructor(code: SessionErrorCode, message: string, options: SessionErrorOptions = {}) {
    super(redactText(message), options.cause === undefined ? undefined : { cause: sanitizeCause(options.cause) });
    this.code = code;
    this.name = new.target.name;
    if (errorChannel.hasSubscribers) errorChannel.publish(this);
  }

  /** JSON form without the stack: name, code, message and the (redacted) cause's name and message. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const k of ['status', 'error', 'errorDescription', 'field', 'key'] as const) {
      const v = (this as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = v;
    }
    if (this.cause instanceof Error) out.cause = { name: this.cause.name, message: this.cause.message };
    return out;
  }

  /** @internal Printed form: the class, code and message, never raw responses. */
  [inspect.custom](depth: number, options: object, inspectFn: typeof inspect = inspect): string {
    const extra: Record<string, unknown> = { code: this.code };
    for (const k of ['status', 'error', 'errorDescription', 'field', 'key'] as const) {
      const v = (this as Record<string, unknown>)[k];
      if (v !== undefined) extra[k] = v;
    }
    const stack = this.stack ?? `${this.name}: ${this.message}`;
    let text = `${stack} ${inspectFn(extra, { ...options, depth: 1 })}`;
    if (this.cause !== undefined && depth > 0) {
      text += `\n  [cause]: ${inspectFn(this.cause, { ...options, depth: depth - 1 })
        .split('\n')
        .join('\n  ')}`;
    }
    return redactText(text);
  }
}

/**
 * Foreign errors (undici, Keyv, JSON) are kept as `cause`, but their messages can quote request or
 * response bodies; copy them into a plain Error with a redacted message and stack.
 */
function sanitizeCause(cause: unknown): unknown {
  if (cause instanceof SessionError) return cause;
  if (cause instanceof Error) {
    const copy = new Error(redactText(cause.message));
    copy.name = cause.name;
    copy.stack = cause.stack === undefined ? undefined : redactText(cause.stack);
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
    if (cause.cause !== undefined) (copy as Error).cause = sanitizeCause(cause.cause);
    return copy;
  }
  if (typeof cause === 'string') return redactText(cause);
  return undefined;
}

/** A {@link TokenInfo} failed validation; `field` names the offending field. */
export class InvalidTokenInfoError extends SessionError {
  /** The field that failed, e.g. `accessTokenTTLMS`. */
  readonly field: string;
  /** @param field - the offending field @param message - what is wrong with it */
  constructor(field: string, message: string, options?: SessionErrorOptions) {
    super(ERR_INVALID_TOKEN_INFO, message, options);
    this.field = field;
  }
}

/** A token store lacks `read`, `write` or `clear`, or is not an object. */
export class InvalidTokenStoreError extends SessionError {
  /** @param message - which member is missing */
  constructor(message: string, options?: SessionErrorOptions) {
    super(ERR_INVALID_TOKEN_STORE, message, options);
  }
}

/** An option or argument failed validation; `field` names it. */
export class InvalidArgumentError extends SessionError {
  /** The option or argument that failed, e.g. `expiredBufferMS`. */
  readonly field: string;
  /** @param field - the offending option @param message - what is wrong with it */
  constructor(field: string, message: string, options?: SessionErrorOptions) {
    super(ERR_INVALID_ARG_VALUE, message, options);
    this.field = field;
  }
}

/** The store's backend failed (outage, timeout, disk error). A miss is never reported this way. */
export class TokenStoreError extends SessionError {
  /** The store key involved, when there is one. */
  readonly key: string | undefined;
  /** @param message - what failed @param options - `cause` (the backend's error) and `key` */
  constructor(message: string, options: SessionErrorOptions & { key?: string } = {}) {
    super(ERR_TOKEN_STORE, message, options);
    this.key = options.key;
  }
}

/** Fields carried by errors that come from an HTTP answer. */
export interface HttpErrorOptions extends SessionErrorOptions {
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** OAuth `error` code (RFC 6749 §5.2), when the server sent one. */
  error?: string;
  /** OAuth `error_description`, when the server sent one. */
  errorDescription?: string;
  /** The parsed response body; kept non-enumerable, never printed, and as a copy whose tokens are fingerprints. */
  response?: unknown;
}

function defineResponse(target: object, response: unknown): void {
  // Non-enumerable so that JSON.stringify, util.inspect and loggers never serialise it; and a redacted copy, so
  // that a logger that asks for it by name gets no live token either (a malformed 200 can carry valid ones).
  Object.defineProperty(target, 'response', { value: redactResponse(response), enumerable: false, writable: false });
}

/** Why a grant is dead (see {@link ExpiredTokensError.reason}). */
export type GrantDeathReason = 'invalid_grant' | 'revoked' | 'invalid_client';

/**
 * The server says the tokens are expired or revoked (`invalid_grant`, or 401 from a resource).
 * The session has to be re-authorized; retrying will not help.
 */
export class ExpiredTokensError extends SessionError {
  /** HTTP status of the refusal. */
  readonly status: number | undefined;
  /** OAuth `error`, usually `invalid_grant`. */
  readonly error: string | undefined;
  /** OAuth `error_description`. */
  readonly errorDescription: string | undefined;
  /** The parsed response body (non-enumerable), its tokens replaced by fingerprints (`access_token`, `refresh_token`, `id_token`…). */
  declare readonly response: unknown;
  /**
   * Why the grant is dead, when the session knows it for a fact (the store's dead marker, written by whichever
   * process sharing the store found it dead): `invalid_grant`, `revoked` or `invalid_client`. Undefined otherwise.
   */
  readonly reason: GrantDeathReason | undefined;
  /** @param message - what was refused @param options - status, OAuth error, cause, and the grant's death `reason` */
  constructor(message: string, options: HttpErrorOptions & { reason?: GrantDeathReason } = {}) {
    super(ERR_EXPIRED_TOKENS, message, options);
    this.reason = options.reason;
    this.status = options.status;
    this.error = options.error;
    this.errorDescription = options.errorDescription === undefined ? undefined : redactText(options.errorDescription);
    defineResponse(this, options.response);
  }
}

/** Any other failed token request, after retries: 4xx errors, 5xx, 429, timeouts, malformed answers. */
export class TokenRequestError extends SessionError {
  /** HTTP status, or undefined for network errors and timeouts. */
  readonly status: number | undefined;
  /** OAuth `error`, when the server sent one. */
  readonly error: string | undefined;
  /** OAuth `error_description`, when the server sent one. */
  readonly errorDescription: string | undefined;
  /** True when the failure was transient (network, timeout, 5xx, 429) and retries ran out. */
  readonly transient: boolean;
  /** The parsed response body (non-enumerable), its tokens replaced by fingerprints (`access_token`, `refresh_token`, `id_token`…). */
  declare readonly response: unknown;
  /** @param message - what failed @param options - status, OAuth error, cause, transient */
  constructor(message: string, options: HttpErrorOptions & { transient?: boolean } = {}) {
    super(ERR_TOKEN_REQUEST, message, options);
    this.status = options.status;
    this.error = options.error;
    this.errorDescription = options.errorDescription === undefined ? undefined : redactText(options.errorDescription);
    this.transient = options.transient ?? false;
    defineResponse(this, options.response);
  }
}

/** The gateway refused to mint a user token (`success: false`); `messages` holds its reasons. */
export class ImpersonationError extends SessionError {
  /** The server's messages, as sent. */
  readonly messages: readonly string[];
  /** The account that could not be impersonated. */
  readonly accountId: string | undefined;
  /** @param message - the explanation @param options - the server's messages and the account */
  constructor(message: string, options: SessionErrorOptions & { messages?: string[]; accountId?: string } = {}) {
    super(ERR_IMPERSONATION, message, options);
    this.messages = Object.freeze([...(options.messages ?? [])].map(redactText));
    this.accountId = options.accountId;
  }
}

/** No usable app system token: none was ever remembered, or the one held has expired. */
export class SystemTokenExpiredError extends SessionError {
  /** The installation whose token is missing or expired. */
  readonly installationId: string | undefined;
  /** @param code - `ERR_SYSTEM_TOKEN_EXPIRED` or `ERR_NO_SYSTEM_TOKEN` @param message - with when the last token arrived */
  constructor(
    code: typeof ERR_SYSTEM_TOKEN_EXPIRED | typeof ERR_NO_SYSTEM_TOKEN | typeof ERR_SYSTEM_TOKEN_MALFORMED,
    message: string,
    options: SessionErrorOptions & { installationId?: string } = {},
  ) {
    super(code, message, options);
    this.installationId = options.installationId;
  }
}

/**
 * A Forge Invocation Token (the `authorization: Bearer <FIT>` header of a remote's request) is
 * missing, malformed, not signed by the key set, meant for another app, or expired: the request did
 * not come from Forge for this app, and nothing it carries (such as its system token) is trusted.
 */
export class InvocationTokenError extends SessionError {
  /** Why it was refused: `missing`, `malformed`, `signature`, `audience`, `issuer`, `expired`, `claims` or `jwks` (key set unreachable). */
  readonly reason: string;
  /** @param message - what was wrong @param options - `reason` and `cause` */
  constructor(message: string, options: SessionErrorOptions & { reason: string }) {
    super(ERR_INVALID_INVOCATION_TOKEN, message, options);
    this.reason = options.reason;
  }
}

/** Describes a value for a validation message without ever echoing a long string (it could be a token). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length <= 24 && !/\s/.test(value) ? `\`${JSON.stringify(value)}\` (string)` : `a string of length ${value.length}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `\`${String(value)}\` (${typeof value})`;
  if (value === null) return '`null`';
  if (value === undefined) return '`undefined`';
  if (Array.isArray(value)) return 'an array';
  return `a${typeof value === 'object' ? 'n object' : ` ${typeof value}`}`;
}
