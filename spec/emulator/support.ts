// Helpers for the emulator specs: real HTTP requests with the global fetch, no mocks.
import sinon from 'sinon';
import type { Emulator } from '../../lib/emulator/index.js';

/** What a helper request returns. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON whose shape each test asserts
  body: any;
}

/**
 * Fake timers that leave undici and the HTTP server working: faking nextTick or queueMicrotask hangs
 * undici, and faking setImmediate stalls each request on a reused connection for seconds.
 */
export function fakeClock(): sinon.SinonFakeTimers {
  return sinon.useFakeTimers({
    now: 1_700_000_000_000,
    toNotFake: ['nextTick', 'queueMicrotask', 'setImmediate', 'clearImmediate'],
    shouldClearNativeTimers: true,
  });
}

export function basic(id: string, secret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

export const BASIC = basic('test-client', 'test-secret');

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

export async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  return answer(await fetch(url, init));
}

export async function postForm(
  url: string,
  params: Record<string, string | string[]>,
  headers: Record<string, string> = { authorization: BASIC },
): Promise<Answer> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
  }
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form.toString(),
  });
}

export function refresh(emulator: Emulator, refreshToken: string, extra: Record<string, string> = {}): Promise<Answer> {
  return postForm(emulator.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

export function getResource(emulator: Emulator, token?: string): Promise<Answer> {
  return send(emulator.resourceUrl, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
}

export const MINT_QUERY =
  'mutation forge_remote_offlineUserAuthToken($input: OfflineUserAuthTokenInput!) { offlineUserAuthToken(input: $input) { success ' +
  'errors { message } authToken { token ttl } } }';

export const INLINE_QUERY =
  'mutation forge_remote_offlineUserAuthToken($userId: String!, $contextIds: [ID!]!) { offlineUserAuthToken(input: { userId: $userId, ' +
  'contextIds: $contextIds }) { success errors { message } authToken { token ttl } } }';

export function mint(emulator: Emulator, systemToken: string, contextIds: string[], userId: string): Promise<Answer> {
  return send(emulator.graphqlUrl, {
    method: 'POST',
    headers: { authorization: `Bearer ${systemToken}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: MINT_QUERY, variables: { input: { contextIds, userId } } }),
  });
}
