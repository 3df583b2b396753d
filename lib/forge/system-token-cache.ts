/**
 * SystemTokenCache: the app system token that Forge hands to each invocation of a remote, kept per
 * installation so that background work (which is never invoked with one) can mint user tokens.
 *
 * @module
 */
import { InvalidArgumentError, SystemTokenExpiredError, describeValue } from '../errors.js';
import { SYSTEM_TOKEN_ADVICE, describeTime, jwtExpiresAtMS } from '../exchangers/token-source.js';
import { checkFunction, checkKnownKeys, checkNumber, checkObject, checkString, checkUrl } from '../util/validate.js';
import { MIN_LOCK_TTL_MS } from '../store/locks/lease.js';
import { registerSecret } from '../redact.js';
import { readTokens, writeTokens } from '../store/store-io.js';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import { MemoryStore } from '../store/memory-store.js';
import { validateTokenStore, type TokenStore } from '../store/token-store.js';

/** Store namespace of system tokens: keys are `${namespace}:${installationId}`. */
export const DEFAULT_SYSTEM_TOKEN_NAMESPACE = 'forge-system-token';

/**
 * How `apiBaseUrl` travels in the stored TokenInfo: as the one scope-token of `scope`,
 * `apiBaseUrl=<url>`. A URL contains no space, so the record stays a valid TokenInfo, and one
 * atomic write keeps the token and its URL together for every process that reads the store.
 */
export const API_BASE_URL_SCOPE_PREFIX = 'apiBaseUrl=';

/** Options of {@link SystemTokenCache}. */
export interface SystemTokenCacheOptions {
  /**
   * Where the tokens are kept, so that other worker processes see them.
   * @default an in-process map
   */
  tokenStore?: TokenStore;
  /**
   * Key prefix in the store.
   * @default DEFAULT_SYSTEM_TOKEN_NAMESPACE
   */
  namespace?: string;
  /**
   * Lease of the store's cross-process lock while a token is compared and written; at least 1000 ms.
   * @default 10000
   */
  lockTTLMS?: number;
  /**
   * Clock, for tests.
   * @default Date.now
   */
  now?: () => number;
}

/** Options of {@link SystemTokenCache.remember}. */
export interface RememberOptions {
  /** The installation's product API base URL, e.g. `https://api.atlassian.com/ex/jira/{cloudId}`. */
  apiBaseUrl?: string;
}

/** A remembered system token. */
export interface SystemTokenRecord {
  /** The app system token. */
  token: string;
  /** The product API base URL remembered with it. */
  apiBaseUrl?: string;
  /** Its expiry (the JWT `exp`), epoch ms. */
  expiresAtMS: number;
  /** When it arrived, epoch ms. */
  receivedAtMS: number;
}

const KNOWN = ['tokenStore', 'namespace', 'lockTTLMS', 'now'] as const;

function toTokenInfo(r: SystemTokenRecord): TokenInfo {
  return validateTokenInfo({
    accessToken: r.token,
    acquiredAtMS: r.receivedAtMS,
    accessTokenTTLMS: r.expiresAtMS - r.receivedAtMS,
    tokenType: 'Bearer',
    ...(r.apiBaseUrl === undefined ? {} : { scope: `${API_BASE_URL_SCOPE_PREFIX}${r.apiBaseUrl}` }),
  });
}

function fromTokenInfo(info: TokenInfo): SystemTokenRecord {
  const url = info.scope
    ?.split(' ')
    .find((s) => s.startsWith(API_BASE_URL_SCOPE_PREFIX))
    ?.slice(API_BASE_URL_SCOPE_PREFIX.length);
  registerSecret(info.accessToken);
  return {
    token: info.accessToken,
    ...(url === undefined || url.length === 0 ? {} : { apiBaseUrl: url }),
    expiresAtMS: info.acquiredAtMS + info.accessTokenTTLMS,
    receivedAtMS: info.acquiredAtMS,
  };
}

/** What {@link SystemTokenCache.source} returns: a token source that also names its installation. */
export interface SystemTokenSource {
  /** Resolves with the installation's current system token (rejects when none is usable). */
  (): Promise<string>;
  /** The installation the token belongs to; exchangers key their cache by it. */
  readonly installationId: string;
}

/** The longest lifetime a system token may claim: Forge's 4 h, plus 10 min for clock skew. */
export const MAX_SYSTEM_TOKEN_LIFETIME_MS = 4 * 3_600_000 + 600_000;

/**
 * Remembers the latest app system token of each installation, in a TokenStore shared by the
 * workers, and hands it to exchangers. Forge delivers the token only with invocations
 * (`x-forge-oauth-system`) and has no endpoint to refresh it, so a scheduled trigger (hourly) that
 * invokes the remote is what keeps it fresh.
 *
 * Records are TokenInfo values under `${namespace}:${installationId}`: `accessToken` is the system
 * token, `acquiredAtMS` when it arrived, `accessTokenTTLMS` the time from then to its JWT `exp`, and
 * `scope` carries `apiBaseUrl=<url>` (see {@link API_BASE_URL_SCOPE_PREFIX}).
 *
 * @example
 * ```ts
 * const cache = new SystemTokenCache({ tokenStore: createTokenStore('sqlite://./tokens.sqlite') });
 * // in the remote's request handler:
 * await cache.remember(installationId, req.headers['x-forge-oauth-system'], { apiBaseUrl });
 * // in a background job:
 * const users = new UserSession({ exchanger: forgeRemoteExchanger({ systemToken: cache.source(installationId), contextAri }) });
 * ```
 */
export class SystemTokenCache {
  readonly #store: TokenStore;
  readonly #namespace: string;
  readonly #lockTTLMS: number;
  readonly #now: () => number;
  readonly #memory = new Map<string, SystemTokenRecord>();
  /** remember() calls per installation run one after the other in this process (invocations overlap). */
  readonly #chains = new Map<string, Promise<unknown>>();

  /**
   * @param options - see {@link SystemTokenCacheOptions}
   * @throws {@link InvalidTokenStoreError} `ERR_INVALID_TOKEN_STORE` for a bad `tokenStore`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for any other bad option, naming it
   */
  constructor(options: SystemTokenCacheOptions = {}) {
    checkObject(options, 'options');
    checkKnownKeys(options as unknown as Record<string, unknown>, KNOWN, 'options');
    this.#store = options.tokenStore === undefined ? new MemoryStore() : validateTokenStore(options.tokenStore);
    this.#namespace = options.namespace === undefined ? DEFAULT_SYSTEM_TOKEN_NAMESPACE : checkString(options.namespace, 'namespace');
    this.#lockTTLMS = checkNumber(options.lockTTLMS ?? 10_000, 'lockTTLMS', { min: MIN_LOCK_TTL_MS });
    this.#now = options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now');
  }

  #key(installationId: string): string {
    return `${this.#namespace}:${installationId}`;
  }

  /**
   * Remembers a system token that an invocation brought. A token that expires earlier than the one
   * held is ignored (invocations can arrive out of order); without `apiBaseUrl`, the held one is kept.
   *
   * @param installationId - the installation the invocation came from
   * @param token - the `x-forge-oauth-system` header: a JWT with an `exp` claim
   * @param options - `apiBaseUrl`
   * @returns true when the token is now the one held, false when a later-expiring one was kept
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad id, a token that is not a JWT or has no `exp`,
   *   or a bad `apiBaseUrl`
   * @throws {@link SystemTokenExpiredError} `ERR_SYSTEM_TOKEN_EXPIRED` when the token has already expired (check the clock)
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed (the token is still kept in this process)
   */
  async remember(installationId: string, token: string, options: RememberOptions = {}): Promise<boolean> {
    checkString(installationId, 'installationId');
    if (typeof token !== 'string' || token.length === 0) {
      throw new InvalidArgumentError(
        'token',
        `Expected \`token\` to be a non-empty string, got ${typeof token === 'string' ? 'an empty string' : describeValue(token)}`,
      );
    }
    registerSecret(token);
    checkObject(options, 'options');
    const apiBaseUrl = options.apiBaseUrl === undefined ? undefined : checkUrl(options.apiBaseUrl, 'apiBaseUrl');
    const expiresAtMS = jwtExpiresAtMS(token);
    if (expiresAtMS === null)
      throw new InvalidArgumentError(
        'token',
        'Expected `token` to be a JWT (the x-forge-oauth-system header), got a string that is not one',
      );
    if (expiresAtMS === undefined)
      throw new InvalidArgumentError(
        'token',
        'Expected `token` to be a JWT with a numeric `exp` claim; it has none, so its expiry is unknown',
      );
    const now = this.#now();
    if (expiresAtMS > now + MAX_SYSTEM_TOKEN_LIFETIME_MS) {
      // Forge system tokens live 4 h at most; a later `exp` (milliseconds written as seconds, a test
      // token) would pin the cache and make it ignore every real token until then.
      throw new InvalidArgumentError(
        'token',
        `Expected \`token\` to expire within ${MAX_SYSTEM_TOKEN_LIFETIME_MS / 3_600_000} h (Forge system tokens live 4 h at most); its ` +
          `\`exp\` is ${Math.round((expiresAtMS - now) / 3_600_000)} h away`,
      );
    }
    if (expiresAtMS <= now) {
      throw new SystemTokenExpiredError(
        'ERR_SYSTEM_TOKEN_EXPIRED',
        `The app system token handed in for installation "${installationId}" had already expired at ${describeTime(expiresAtMS, now)}; ` +
          `it was not remembered. Check this machine's clock.`,
        { installationId },
      );
    }
    // Invocations arrive concurrently and out of order: one remember() at a time per installation.
    const previous = this.#chains.get(installationId) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(() => this.#remember(installationId, token, apiBaseUrl, expiresAtMS, now));
    this.#chains.set(installationId, turn);
    try {
      return await turn;
    } finally {
      if (this.#chains.get(installationId) === turn) this.#chains.delete(installationId);
    }
  }

  async #remember(
    installationId: string,
    token: string,
    apiBaseUrl: string | undefined,
    expiresAtMS: number,
    now: number,
  ): Promise<boolean> {
    const key = this.#key(installationId);
    const mine = this.#memory.get(installationId);
    if (mine !== undefined && mine.token === token && (apiBaseUrl === undefined || apiBaseUrl === mine.apiBaseUrl)) {
      // The same token again (every invocation brings it): one read, no write, unless the store lost it.
      const stored = await readTokens(this.#store, key);
      if (stored?.accessToken === token) return true;
      const held = stored === undefined ? undefined : fromTokenInfo(stored);
      if (held !== undefined && held.expiresAtMS > expiresAtMS) {
        this.#keep(installationId, held);
        return false;
      }
    }
    const next: SystemTokenRecord = { token, ...(apiBaseUrl === undefined ? {} : { apiBaseUrl }), expiresAtMS, receivedAtMS: now };
    const run = async (): Promise<boolean> => {
      const stored = await readTokens(this.#store, key);
      const fromStore = stored === undefined ? undefined : fromTokenInfo(stored);
      const inMemory = this.#memory.get(installationId);
      const held =
        fromStore === undefined || (inMemory !== undefined && inMemory.expiresAtMS > fromStore.expiresAtMS) ? inMemory : fromStore;
      if (held !== undefined && held.expiresAtMS > expiresAtMS) {
        this.#keep(installationId, held);
        return false;
      }
      if (next.apiBaseUrl === undefined && held?.apiBaseUrl !== undefined) next.apiBaseUrl = held.apiBaseUrl;
      this.#memory.set(installationId, next);
      await writeTokens(this.#store, key, toTokenInfo(next));
      return true;
    };
    try {
      return await (this.#store.withLock === undefined ? run() : this.#store.withLock(`remember:${key}`, run, { ttlMS: this.#lockTTLMS }));
    } catch (err) {
      // The store is down: this process can still use the token.
      const inMemory = this.#memory.get(installationId);
      if (!(inMemory !== undefined && inMemory.expiresAtMS > expiresAtMS)) this.#memory.set(installationId, next);
      throw err;
    }
  }

  #keep(installationId: string, record: SystemTokenRecord): void {
    const mine = this.#memory.get(installationId);
    if (mine === undefined || record.expiresAtMS >= mine.expiresAtMS) this.#memory.set(installationId, record);
  }

  /**
   * The system token held for an installation (the later-expiring of this process's and the
   * store's), with its expiry and arrival time.
   *
   * @param installationId - the installation
   * @returns the record
   * @throws {@link SystemTokenExpiredError} `ERR_NO_SYSTEM_TOKEN` when none was ever remembered, `ERR_SYSTEM_TOKEN_EXPIRED`
   *   when the one held has expired; the message says when the last one arrived
   * @throws {@link TokenStoreError} `ERR_TOKEN_STORE` when the store failed and this process holds no valid token
   */
  async get(installationId: string): Promise<SystemTokenRecord> {
    checkString(installationId, 'installationId');
    let record = this.#memory.get(installationId);
    try {
      // Validated: a hand-written store's bad record reads as absent (store-io), never as a token.
      const stored = await readTokens(this.#store, this.#key(installationId));
      if (stored !== undefined) {
        this.#keep(installationId, fromTokenInfo(stored));
        record = this.#memory.get(installationId);
      }
    } catch (err) {
      if (record === undefined || record.expiresAtMS <= this.#now()) throw err;
    }
    const now = this.#now();
    if (record === undefined) {
      throw new SystemTokenExpiredError(
        'ERR_NO_SYSTEM_TOKEN',
        `No app system token was ever remembered for installation "${installationId}" (no token has arrived in this process, and the ` +
          `token store holds none). ${SYSTEM_TOKEN_ADVICE}`,
        { installationId },
      );
    }
    if (record.expiresAtMS <= now) {
      throw new SystemTokenExpiredError(
        'ERR_SYSTEM_TOKEN_EXPIRED',
        `The app system token of installation "${installationId}" expired at ${describeTime(record.expiresAtMS, now)}; the last token ` +
          `arrived at ${describeTime(record.receivedAtMS, now)}. ${SYSTEM_TOKEN_ADVICE}`,
        { installationId },
      );
    }
    return { ...record };
  }

  /**
   * A function that returns the installation's current system token, to pass as an exchanger's
   * `systemToken`; it rejects as {@link SystemTokenCache.get} does.
   *
   * @param installationId - the installation
   * @returns `() => Promise<string>`
   * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad id
   * @example
   * ```ts
   * forgeRemoteExchanger({ systemToken: cache.source(installationId), contextAri });
   * ```
   */
  source(installationId: string): SystemTokenSource {
    checkString(installationId, 'installationId');
    // The installation travels with the function, so that exchangers can key their cache by it.
    return Object.assign(async () => (await this.get(installationId)).token, { installationId });
  }

  /** @internal Printed form: the namespace and how many installations are held, never a token. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SystemTokenCache { namespace: ${JSON.stringify(this.#namespace)}, installations: ${this.#memory.size} }`;
  }

  /** JSON form, without tokens. */
  toJSON(): Record<string, unknown> {
    return { namespace: this.#namespace, installations: this.#memory.size };
  }
}
