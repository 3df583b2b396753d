/**
 * `GET /v1/installations` of the Forge Containers egress proxy: every installation of the app, page
 * by page (cursor paging), within the endpoint's limit of 100 requests a minute.
 *
 * @module
 */
import { fetch, type Dispatcher } from 'undici';
import { TokenRequestError } from '../errors.js';
import type { RateLimitQueue } from '../session/rate-limit-queue.js';
import { checkNumber } from '../util/validate.js';
import { sleep } from '../util/sleep.js';

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
        id: i.id, installationContext: i.installationContext, version: typeof i.version === 'string' ? i.version : '',
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
  proxyUrl: string, queue: RateLimitQueue, options: { pageSize?: number; dispatcher?: Dispatcher },
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
      try { body = JSON.parse(res.text); } catch { throw malformed(res.status, 'not JSON'); }
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
