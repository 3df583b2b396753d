/**
 * The worker the demo runs: concurrent simulated jobs that call the emulated product API as users
 * (a UserSession behind `authorizedFetch`) and the protected resource as the app (a
 * PersistentSession), while the emulator injects 401s and 429s. Everything it counts comes from
 * the sessions' own events and counters, and from undici's diagnostics channel.
 *
 * @module
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { authorizedFetch } from '../fetch/authorized-fetch.js';
import type { Emulator } from '../emulator/index.js';
import type { PersistentSession } from '../session/persistent-session.js';
import { redactText } from '../redact.js';
import type { UserSession } from '../session/user-session.js';
import { sleep } from '../util/sleep.js';

/** What the demo counts. */
export interface DemoStats {
  /** Requests the jobs made (each `authorizedFetch` call once, whatever its retries). */
  apiCalls: number;
  /** User tokens minted at the gateway (UserSession `mints`). */
  mints: number;
  /** Refreshes of the app's tokens at the token endpoint (PersistentSession `refresh` events from the server). */
  refreshes: number;
  /** Callers that joined a refresh or mint already in flight, instead of starting their own. */
  singleFlightJoins: number;
  /** 401s the sessions recovered from (fresh token, one retry). */
  recovered401: number;
  /** 429s from the gateway that the exchanger waited out (`Retry-After`) before minting. */
  waited429: number;
  /** User tokens taken over from the store instead of minted (an earlier run, another process). */
  storeAdoptions: number;
  /** Users whose stored token was still valid when the run started. */
  validAtStart: number;
  /** Mints for a user whose stored token was still valid and had not been refused: waste; should be 0. */
  mintsForValidTokens: number;
  /** Jobs that failed for good (exception, or a non-2xx answer after the retry). */
  errors: number;
  /** Up to three distinct error messages (redacted). */
  errorSamples: string[];
}

/** Settings of {@link DemoWorker}. */
export interface DemoWorkerOptions {
  emulator: Emulator;
  app: PersistentSession;
  users: UserSession;
  /** Account ids to act as. */
  accountIds: string[];
  /** Base URL of the product API of the demo site. */
  productApiUrl: string;
  /** Jobs in flight at once. */
  concurrency: number;
  /** Expiry (epoch ms, minus the refresh buffer) of each user's stored token that was valid at start. */
  validAtStart: Map<string, number>;
  /** Inject 401s and 429s. */
  faults: boolean;
}

/** How often the worker considers injecting a fault. */
export const FAULT_INTERVAL_MS = 400;

/** Runs the jobs and keeps the counts. */
export class DemoWorker {
  readonly #o: DemoWorkerOptions;
  #apiCalls = 0;
  #refreshes = 0;
  #handled401 = 0;
  #final401 = 0;
  #gateway429 = 0;
  #failed429 = 0;
  #mintsForValid = 0;
  #errors = 0;
  readonly #samples = new Set<string>();
  /** Users whose token a server refused during this run. */
  readonly #refused = new Set<string>();
  /** Injected faults not yet consumed, per endpoint. */
  readonly #pending = { product: 0, resource: 0, graphql: 0 };
  /** Jobs in flight per endpoint, and those that were in flight when an injected 401 was served. */
  readonly #inflight = { product: new Set<number>(), resource: new Set<number>() };
  readonly #awaiting: { product: Set<number> | undefined; resource: Set<number> | undefined } = { product: undefined, resource: undefined };

  constructor(options: DemoWorkerOptions) {
    this.#o = options;
    const { app, users } = options;
    app.on('refresh', (e) => {
      if (e.source === 'server') this.#refreshes++;
    });
    app.on('expired', () => {
      this.#handled401++;
    });
    users.on('expired', (e) => {
      this.#handled401++;
      this.#refused.add(e.key.slice(users.namespace.length + 1));
    });
    users.on('mintError', (e) => {
      if (e.status === 429) this.#failed429++;
    });
    users.on('mint', (e) => {
      if (e.source !== 'server') return;
      const validUntil = options.validAtStart.get(e.accountId);
      if (validUntil !== undefined && validUntil > e.atMS && !this.#refused.has(e.accountId)) this.#mintsForValid++;
    });
  }

  /** A snapshot of the counts. */
  stats(): DemoStats {
    const { app, users } = this.#o;
    return {
      apiCalls: this.#apiCalls,
      mints: users.mints,
      refreshes: this.#refreshes,
      singleFlightJoins: app.singleFlightJoins + users.singleFlightJoins,
      recovered401: Math.max(0, this.#handled401 - this.#final401),
      waited429: Math.max(0, this.#gateway429 - this.#failed429),
      storeAdoptions: users.storeAdoptions,
      validAtStart: this.#o.validAtStart.size,
      mintsForValidTokens: this.#mintsForValid,
      errors: this.#errors,
      errorSamples: [...this.#samples],
    };
  }

  /** undici publishes every response here, whichever client sent it; count what the emulator answered. */
  readonly #onHeaders = (message: unknown): void => {
    const { request, response } = message as { request?: { origin?: unknown; path?: unknown }; response?: { statusCode?: unknown } };
    if (request === undefined || response === undefined || String(request.origin) !== this.#o.emulator.url) return;
    const path = String(request.path);
    const status = response.statusCode;
    if (path.startsWith('/graphql')) {
      if (status === 429) {
        this.#gateway429++;
        this.#pending.graphql = 0;
      }
    } else if (path.startsWith('/ex/')) {
      if (status === 401) this.#served('product');
    } else if (path.startsWith('/api/resource')) {
      if (status === 401) this.#served('resource');
    }
  };

  /**
   * An injected 401 was served to one of the jobs in flight. The next one is queued only once all
   * of those have finished: the job that got it is among them, and its retry must not meet a
   * second injected 401 (its re-mint can wait out a 429 for a second).
   */
  #served(kind: 'product' | 'resource'): void {
    const waiting = new Set(this.#inflight[kind]);
    if (waiting.size === 0) this.#pending[kind] = 0;
    else this.#awaiting[kind] = waiting;
  }

  #finished(kind: 'product' | 'resource', n: number): void {
    this.#inflight[kind].delete(n);
    const waiting = this.#awaiting[kind];
    if (waiting?.delete(n) && waiting.size === 0) {
      this.#awaiting[kind] = undefined;
      this.#pending[kind] = 0;
    }
  }

  /**
   * Runs jobs until `signal` aborts, then waits for those in flight.
   * @returns the final counts
   */
  async run(signal: AbortSignal): Promise<DemoStats> {
    subscribe('undici:request:headers', this.#onHeaders);
    const faults = this.#o.faults ? this.#injectFaults(signal) : Promise.resolve();
    try {
      const lanes = Array.from({ length: this.#o.concurrency }, (_, lane) => this.#lane(lane, signal));
      await Promise.all([...lanes, faults]);
    } finally {
      unsubscribe('undici:request:headers', this.#onHeaders);
    }
    return this.stats();
  }

  async #lane(lane: number, signal: AbortSignal): Promise<void> {
    let n = lane;
    while (!signal.aborted) {
      await this.#job(n);
      n += this.#o.concurrency;
      // Think time between jobs, so that the run is a worker's load, not a benchmark.
      await sleep(10 + Math.random() * 30);
    }
  }

  async #job(n: number): Promise<void> {
    const { accountIds, users, app, emulator, productApiUrl } = this.#o;
    this.#apiCalls++;
    const kind = n % 10 === 9 ? 'resource' : 'product';
    this.#inflight[kind].add(n);
    try {
      let res: Awaited<ReturnType<typeof authorizedFetch>>;
      if (n % 10 === 9) {
        res = await authorizedFetch(app, emulator.resourceUrl);
      } else {
        const accountId = accountIds[n % accountIds.length]!;
        res = await authorizedFetch(users.forUser(accountId), `${productApiUrl}/rest/api/3/issue/DEMO-${n}`);
      }
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 401) this.#final401++;
      if (res.status < 200 || res.status >= 300) this.#fail(`HTTP ${res.status} from ${new URL(res.url).pathname}`);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.#fail(`${typeof code === 'string' ? `[${code}] ` : ''}${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.#finished(kind, n);
    }
  }

  #fail(message: string): void {
    this.#errors++;
    if (this.#samples.size < 3) this.#samples.add(redactText(message).slice(0, 300));
  }

  /**
   * Every {@link FAULT_INTERVAL_MS}: a 401 on the product API (a user token refused), every other
   * time a 401 on the resource (the app's token refused), every third a 429 with `Retry-After: 1`
   * on the gateway. A new 401 is queued only once every job that was in flight when the previous
   * one was served has finished, so that a retry never meets a second injected 401.
   */
  async #injectFaults(signal: AbortSignal): Promise<void> {
    const { emulator } = this.#o;
    await sleep(FAULT_INTERVAL_MS);
    for (let tick = 0; !signal.aborted; tick++) {
      if (this.#pending.product === 0) {
        this.#pending.product = 1;
        emulator.inject('product', { status: 401, body: { error: 'invalid_token', error_description: 'injected by the demo' } });
      }
      if (tick % 2 === 1 && this.#pending.resource === 0) {
        this.#pending.resource = 1;
        emulator.inject('resource', { status: 401, body: { error: 'invalid_token', error_description: 'injected by the demo' } });
      }
      if (tick % 3 === 2 && this.#pending.graphql === 0) {
        this.#pending.graphql = 1;
        emulator.inject('graphql', { status: 429, retryAfter: 1 });
      }
      await sleep(FAULT_INTERVAL_MS);
    }
  }
}
