/**
 * Options and events of {@link SessionPool}, their defaults and their validation.
 *
 * @module
 */
import PQueue from 'p-queue';
import { InvalidArgumentError, describeValue } from '../errors.js';
import type { TokenStore } from '../store/token-store.js';
import { validateTokenStore } from '../store/token-store.js';
import { checkFunction, checkKnownKeys, checkNumber, checkObject } from '../util/validate.js';
import type { PersistentSession, PersistentSessionOptions } from './persistent-session.js';
import { createRateLimitQueue } from './rate-limit-queue.js';
import { checkRefreshQueue, resolveRefreshBufferMS } from './persistent-session-options.js';

/** How many sessions a `SessionPool` keeps in memory by default. */
export const DEFAULT_MAX_SESSIONS = 1_000;

/** How many grants' access tokens a `SessionPool` keeps in memory by default. */
export const DEFAULT_MAX_CACHED_TOKENS = 100_000;

/** How many refreshes a `SessionPool` has in flight at once by default. */
export const DEFAULT_POOL_CONCURRENCY = 8;

/** Options of {@link SessionPool}: those of PersistentSession that every session of the pool shares, and the pool's own. */
export interface SessionPoolOptions
  extends Pick<PersistentSessionOptions, 'client' | 'refreshBufferMS' | 'expiredBufferMS' | 'dispatcher' | 'retry' | 'lockTTLMS' | 'now'> {
  /** Where the grants live, one record per key (required; {@link SessionPool.sweep} needs its `keys()`). */
  tokenStore: TokenStore;
  /**
   * How many sessions stay in memory; the least recently used beyond that are dropped and come
   * back from the store on the next {@link SessionPool.get}. A session holding tokens the store
   * refused ({@link PersistentSession.hasUnwrittenTokens}) is kept beyond the bound until they are written.
   * @default DEFAULT_MAX_SESSIONS (1,000)
   */
  maxSessions?: number;
  /**
   * How many grants' access tokens {@link SessionPool.getAccessToken} keeps in memory, sessions
   * dropped or not: a small entry per grant (the token and until when it is fresh), least recently
   * used dropped first. A grant whose token is cached costs no session until the token goes stale.
   * @default DEFAULT_MAX_CACHED_TOKENS (100,000)
   */
  maxCachedTokens?: number;
  /**
   * Caps the pool's refreshes at `perMinute` token-endpoint requests in any sliding 60 s window
   * (a RateLimitQueue). Per process: processes sharing a budget split it.
   * @default none
   */
  rateLimit?: {
    /** Refresh requests allowed in any sliding 60 s window; a positive integer. */
    perMinute: number;
  };
  /**
   * How many refreshes run at once: the queue's concurrency (without `rateLimit`) and how many
   * grants a sweep works on at once.
   * @default DEFAULT_POOL_CONCURRENCY (8)
   */
  concurrency?: number;
  /**
   * The queue every refresh of the pool waits in, instead of the one the pool builds from
   * `rateLimit` and `concurrency` (e.g. one RateLimitQueue shared by several pools).
   * @default a PQueue of `concurrency`, or a RateLimitQueue of `rateLimit.perMinute`
   */
  queue?: PQueue;
  /**
   * Sweeps the store every `everyMS` (an unref'd timer), refreshing each grant not refreshed for
   * `olderThanMS`, so that refresh tokens that die of inactivity stay alive. Typical: every 24 h.
   * `olderThanMS` defaults to half of `everyMS`: a grant refreshed just after one sweep started is
   * a little less than `everyMS` old at the next, and must not wait a further period.
   * @default off
   */
  keepAlive?: {
    /** How often to sweep, in ms (at most 2147483647, a timer's limit). */
    everyMS: number;
    /** Refresh the grants whose last refresh is at least this old, in ms; default `everyMS / 2`. */
    olderThanMS?: number;
  };
}

/** Options of {@link SessionPool.sweep}. */
export interface SweepOptions {
  /** Refresh the grants whose last refresh is at least this old (ms, >= 0). */
  olderThanMS: number;
  /**
   * Only the keys that start with this.
   * @default '' (every key of the store)
   */
  prefix?: string;
  /**
   * Stops the sweep: no further grant is started, and the call rejects with `signal.reason`
   * once the grants in flight have settled (their refreshes are not cut short). A sweep still
   * waiting for another one to end rejects at once and never starts.
   * @default none
   */
  signal?: AbortSignal;
}

/** Counts of a sweep so far. Every grant ends in exactly one of refreshed, skipped, dead and failed. */
export interface SweepProgress {
  /** Grants handled so far. */
  done: number;
  /** Grants the sweep found in the store. */
  total: number;
  /** Grants this process refreshed. */
  refreshed: number;
  /** Grants recent enough (another process may have refreshed them), or without a refresh token. */
  skipped: number;
  /** Grants the server refused as dead (`ERR_EXPIRED_TOKENS`): they need a new authorization. */
  dead: number;
  /**
   * Grants whose refresh failed otherwise (server, network or store): the next sweep tries again. A
   * grant refreshed whose new tokens the store refused counts here; its session then stays in the
   * pool's memory with them until they are written.
   */
  failed: number;
}

/** The outcome of a sweep. */
export interface SweepResult extends SweepProgress {
  /** How long the sweep took (the pool's clock, ms). */
  durationMS: number;
  /** The keys of the dead grants (keys, never tokens). */
  deadKeys: string[];
  /** Whether the sweep was stopped by its signal or by `close()` before the end. */
  aborted: boolean;
}

/** The listener map of a {@link SessionPool}. */
export interface SessionPoolEventMap {
  /**
   * A session joined the pool's memory (created on demand, again after being dropped, or a sweep's
   * session holding tokens the store refused): attach its listeners here.
   */
  session: [PersistentSession];
  /** After each grant of a sweep. */
  sweepProgress: [SweepProgress];
  /** At the end of a sweep (also when stopped). */
  sweepDone: [SweepResult];
  /** A keep-alive sweep could not run (e.g. the store could not list its keys); the next one tries again. */
  sweepError: [
    {
      /** The error's stable code, `ERR_UNKNOWN` for an error of another kind. */
      code: string;
    },
  ];
}

/** @internal The pool's own options, validated. */
export interface ResolvedPoolOptions {
  store: TokenStore;
  maxSessions: number;
  maxCachedTokens: number;
  bufferMS: number;
  now: () => number;
  concurrency: number;
  queue: PQueue;
  ownQueue: boolean;
  keepAlive: { everyMS: number; olderThanMS: number } | undefined;
  session: Omit<PersistentSessionOptions, 'key' | 'tokenInfo'>;
}

const KNOWN = [
  'client',
  'tokenStore',
  'refreshBufferMS',
  'expiredBufferMS',
  'dispatcher',
  'retry',
  'lockTTLMS',
  'now',
  'maxSessions',
  'maxCachedTokens',
  'rateLimit',
  'concurrency',
  'queue',
  'keepAlive',
] as const;

/** @internal Validates the pool's options; the sessions' own options are validated by the first session. */
export function resolvePoolOptions(options: SessionPoolOptions): ResolvedPoolOptions {
  checkObject(options, 'options');
  checkKnownKeys(options as unknown as Record<string, unknown>, KNOWN, 'options');
  const store = validateTokenStore(options.tokenStore);
  const maxSessions = checkNumber(options.maxSessions ?? DEFAULT_MAX_SESSIONS, 'maxSessions', { min: 1, integer: true });
  const maxCachedTokens = checkNumber(options.maxCachedTokens ?? DEFAULT_MAX_CACHED_TOKENS, 'maxCachedTokens', { min: 0, integer: true });
  const concurrency = checkNumber(options.concurrency ?? DEFAULT_POOL_CONCURRENCY, 'concurrency', { min: 1, integer: true });
  if (options.queue !== undefined && options.rateLimit !== undefined) {
    throw new InvalidArgumentError('queue', 'Give `queue` or `rateLimit`, not both: a rate limit is a queue');
  }
  let queue = checkRefreshQueue(options.queue);
  const ownQueue = queue === undefined;
  if (options.rateLimit !== undefined) {
    checkObject(options.rateLimit, 'rateLimit');
    checkKnownKeys(options.rateLimit, ['perMinute'], 'rateLimit');
    queue = createRateLimitQueue(checkNumber(options.rateLimit.perMinute, 'rateLimit.perMinute', { min: 1, integer: true }));
  }
  queue ??= new PQueue({ concurrency });
  let keepAlive: ResolvedPoolOptions['keepAlive'];
  if (options.keepAlive !== undefined) {
    checkObject(options.keepAlive, 'keepAlive');
    checkKnownKeys(options.keepAlive, ['everyMS', 'olderThanMS'], 'keepAlive');
    const everyMS = checkNumber(options.keepAlive.everyMS, 'keepAlive.everyMS', { min: 1 });
    if (everyMS > 2 ** 31 - 1) {
      throw new InvalidArgumentError(
        'keepAlive.everyMS',
        `Expected \`keepAlive.everyMS\` to be at most 2147483647 (a timer's limit), got ${describeValue(everyMS)}`,
      );
    }
    const olderThanMS = checkNumber(options.keepAlive.olderThanMS ?? everyMS / 2, 'keepAlive.olderThanMS', { min: 0 });
    if (typeof store.keys !== 'function') {
      throw new InvalidArgumentError('keepAlive', 'keepAlive sweeps the store, which needs a `keys()` method (KeyvTokenStore has one)');
    }
    keepAlive = { everyMS, olderThanMS };
  }
  const { maxSessions: _m, maxCachedTokens: _t, rateLimit: _r, concurrency: _c, queue: _q, keepAlive: _k, ...session } = options;
  return {
    store,
    maxSessions,
    maxCachedTokens,
    concurrency,
    queue,
    ownQueue,
    keepAlive,
    bufferMS: resolveRefreshBufferMS(options as PersistentSessionOptions),
    now: options.now === undefined ? Date.now : checkFunction<() => number>(options.now, 'now'),
    session: { ...session, refreshQueue: queue },
  };
}

/** @internal Validates the options of a sweep. */
export function checkSweepOptions(options: unknown): { olderThanMS: number; prefix: string; signal: AbortSignal | undefined } {
  checkObject(options, 'options');
  checkKnownKeys(options, ['olderThanMS', 'prefix', 'signal'], 'options');
  const olderThanMS = checkNumber(options.olderThanMS, 'options.olderThanMS', { min: 0 });
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string')
    throw new InvalidArgumentError('options.prefix', `Expected \`options.prefix\` to be a string, got ${describeValue(prefix)}`);
  return { olderThanMS, prefix, signal: options.signal as AbortSignal | undefined };
}
