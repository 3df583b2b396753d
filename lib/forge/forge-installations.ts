/**
 * `GET /v1/installations` of the Forge Containers egress proxy: every installation of the app, page
 * by page (cursor paging), within the endpoint's limit of 100 requests a minute (`forgeInstallations`,
 * and the listing behind `ForgeContainerSession.installations`).
 *
 * @module
 */
import { fetch, type Dispatcher } from 'undici';
import { InvalidArgumentError, TokenRequestError } from '../errors.js';
import { createRateLimitQueue, type RateLimitQueue } from '../session/rate-limit-queue.js';
import { checkDispatcher, checkKnownKeys, checkNumber, checkObject, checkUrl } from '../util/validate.js';
import { sleep } from '../util/sleep.js';

/** The environment variable through which Forge tells a container where its egress proxy is. */
export const FORGE_EGRESS_PROXY_URL_ENV = 'FORGE_EGRESS_PROXY_URL';

/** The documented limit of `GET /v1/installations`: 100 requests a minute per app. */
export const INSTALLATIONS_PER_MINUTE = 100;

/** One installation of the app, as the egress proxy lists it. */
export interface ForgeInstallation {
  /** The installation id. */
  id: string;
  /** Its context ARI, e.g. `ari:cloud:jira::site/{cloudId}`. */
  installationContext: string;
  /** The app version installed. */
  version: string;
  /** Further contexts of the installation. */
  secondaryInstallationContexts: string[];
}

/** How often a page answered 429 is asked for again (after its `Retry-After`). */
const MAX_429_RETRIES = 5;

function malformed(status: number, why: string): TokenRequestError {
  return new TokenRequestError(`GET /v1/installations: malformed answer (${why})`, { status });
}

function parsePage(status: number, body: unknown): { installations: ForgeInstallation[]; cursor: string | null } {
  if (body === null || typeof body !== 'object' || !Array.isArray((body as { installations?: unknown }).installations)) {
    throw malformed(status, '`installations` is not an array');
  }
  const { installations, cursor } = body as { installations: unknown[]; cursor?: unknown };
  if (cursor !== null && cursor !== undefined && (typeof cursor !== 'string' || cursor === '')) {
    throw malformed(status, '`cursor` is neither a string nor null');
  }
  return {
    installations: installations.map((raw) => {
      const i = raw as Partial<ForgeInstallation> | null;
      if (i === null || typeof i !== 'object' || typeof i.id !== 'string' || typeof i.installationContext !== 'string') {
        throw malformed(status, 'an installation lacks `id` or `installationContext`');
      }
      const secondary = Array.isArray(i.secondaryInstallationContexts) ? i.secondaryInstallationContexts : [];
      return {
        id: i.id,
        installationContext: i.installationContext,
        version: typeof i.version === 'string' ? i.version : '',
        secondaryInstallationContexts: secondary.filter((c): c is string => typeof c === 'string'),
      };
    }),
    cursor: typeof cursor === 'string' ? cursor : null,
  };
}

/**
 * @internal Every installation, page by page; each request takes a slot of `queue` (a
 * RateLimitQueue of 100 a minute), and a 429 is asked again after its `Retry-After`.
 * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` for a failed or malformed page, or a cursor given twice
 */
export async function listInstallations(
  proxyUrl: string,
  queue: RateLimitQueue,
  options: { pageSize?: number; dispatcher?: Dispatcher },
): Promise<ForgeInstallation[]> {
  const pageSize = options.pageSize === undefined ? undefined : checkNumber(options.pageSize, 'pageSize', { min: 1, integer: true });
  const all: ForgeInstallation[] = [];
  let cursor: string | null = null;
  const seen = new Set<string>();
  do {
    const query = new URLSearchParams();
    if (pageSize !== undefined) query.set('pageSize', String(Math.min(pageSize, 100)));
    if (cursor !== null) query.set('cursor', cursor);
    const url = `${proxyUrl}/v1/installations${query.size > 0 ? `?${query}` : ''}`;
    for (let attempt = 0; ; attempt++) {
      const res = await queue.add(async () => {
        const dispatcher = options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher };
        const r = await fetch(url, { headers: { accept: 'application/json' }, ...dispatcher });
        const text = await r.text();
        return { status: r.status, retryAfter: r.headers.get('retry-after'), text };
      });
      if (res.status === 429 && attempt < MAX_429_RETRIES) {
        const seconds = Number(res.retryAfter);
        await sleep(Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 120) * 1000 : 60_000);
        continue;
      }
      if (res.status !== 200) {
        const transient = res.status === 429 || res.status >= 500;
        throw new TokenRequestError(`GET /v1/installations failed with HTTP ${res.status}`, { status: res.status, transient });
      }
      let body: unknown;
      try {
        body = JSON.parse(res.text);
      } catch {
        throw malformed(res.status, 'not JSON');
      }
      const page = parsePage(res.status, body);
      all.push(...page.installations);
      // A proxy that hands out a cursor again would be asked for the same pages forever.
      if (page.cursor !== null && seen.has(page.cursor)) throw malformed(res.status, 'a `cursor` came back a second time');
      if (page.cursor !== null) seen.add(page.cursor);
      cursor = page.cursor;
      break;
    }
  } while (cursor !== null);
  return all;
}

/** @internal The egress proxy: `proxyUrl`, else the environment's, checked and without a trailing slash. */
export function resolveProxyUrl(proxyUrl: unknown): string {
  const proxy = proxyUrl ?? process.env[FORGE_EGRESS_PROXY_URL_ENV];
  if (proxy === undefined) {
    throw new InvalidArgumentError('proxyUrl', `No \`proxyUrl\` given and ${FORGE_EGRESS_PROXY_URL_ENV} is not set`);
  }
  return checkUrl(proxy, 'proxyUrl').replace(/\/+$/, '');
}

/** Options of {@link forgeInstallations}. */
export interface ForgeInstallationsOptions {
  /** The egress proxy. @default process.env.FORGE_EGRESS_PROXY_URL */
  proxyUrl?: string;
  /** The queue the listing goes through: share one per app. @default a new `createRateLimitQueue(100)` */
  installationsQueue?: RateLimitQueue;
  /** Page size, 1 to 100. @default 100 (the proxy's default) */
  pageSize?: number;
  /** undici dispatcher. */
  dispatcher?: Dispatcher;
}

/**
 * Every installation of the app in this environment, from the egress proxy's `GET /v1/installations`
 * (all pages), within its limit of 100 requests a minute when the queue is shared.
 * @param options - see {@link ForgeInstallationsOptions}
 * @returns the installations
 * @throws {@link InvalidArgumentError} `ERR_INVALID_ARG_VALUE` for a bad option or no proxy URL
 * @throws {@link TokenRequestError} `ERR_TOKEN_REQUEST` when the proxy keeps failing or answers malformed pages
 */
export function forgeInstallations(options: ForgeInstallationsOptions = {}): Promise<ForgeInstallation[]> {
  try {
    checkObject(options as unknown, 'options');
    checkKnownKeys(options as unknown as Record<string, unknown>, ['proxyUrl', 'installationsQueue', 'pageSize', 'dispatcher'], 'options');
    const proxyUrl = resolveProxyUrl(options.proxyUrl);
    const dispatcher = checkDispatcher(options.dispatcher);
    const queue = options.installationsQueue ?? createRateLimitQueue(INSTALLATIONS_PER_MINUTE);
    return listInstallations(proxyUrl, queue, {
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
  } catch (err) {
    return Promise.reject(err);
  }
}
