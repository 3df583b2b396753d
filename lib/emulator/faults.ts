/**
 * Fault injection: FIFO queues of faults per endpoint, and seeded random faults for soak tests.
 * @module
 */
import { DEFAULT_RANDOM_HANG_MS, assertNumber } from './options.js';
import { json, type Reply } from './http.js';
import type { EmulatorEndpoint, Fault, RandomFaultKind, RandomFaultOptions } from './types.js';

/** Every endpoint that faults can target. */
export const ENDPOINTS: readonly EmulatorEndpoint[] = ['token', 'revoke', 'resource', 'graphql', 'product', 'jwks'];
const KINDS: readonly RandomFaultKind[] = ['5xx', 'reset', 'hang', 'malformed', '429', '401'];

/**
 * A small seeded PRNG (mulberry32) returning floats in [0, 1).
 * @param seed - any 32-bit integer.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function assertEndpoint(endpoint: unknown, allowStar: boolean): void {
  if (!(ENDPOINTS as readonly unknown[]).includes(endpoint) && !(allowStar && endpoint === '*')) {
    throw new TypeError(`Expected \`endpoint\` to be one of ${ENDPOINTS.join(', ')}${allowStar ? ', *' : ''}, got \`${String(endpoint)}\``);
  }
}

function validateFault(fault: Fault, index: number): Fault {
  if (fault === null || typeof fault !== 'object') throw new TypeError(`Expected fault #${index} to be an object`);
  const name = (field: string): string => `faults[${index}].${field}`;
  if (fault.status !== undefined && (!Number.isInteger(fault.status) || fault.status < 100 || fault.status > 599)) {
    throw new TypeError(`Expected \`${name('status')}\` to be an integer in 100..599, got \`${String(fault.status)}\``);
  }
  if (fault.delayMS !== undefined) assertNumber(name('delayMS'), fault.delayMS, 0);
  const times = fault.times ?? 1;
  if (!Number.isInteger(times) || times < 1)
    throw new TypeError(`Expected \`${name('times')}\` to be an integer >= 1, got \`${String(times)}\``);
  if (fault.patch !== undefined && (fault.patch === null || typeof fault.patch !== 'object' || Array.isArray(fault.patch))) {
    throw new TypeError(`Expected \`${name('patch')}\` to be an object`);
  }
  if (fault.truncate !== undefined && (!Number.isInteger(fault.truncate) || fault.truncate < 1)) {
    throw new TypeError(`Expected \`${name('truncate')}\` to be an integer >= 1, got \`${String(fault.truncate)}\``);
  }
  const rewrites = fault.patch !== undefined || fault.truncate !== undefined ? 1 : 0;
  const endings = [fault.hang, fault.reset, fault.malformed].filter(Boolean).length + (fault.status !== undefined ? 1 : 0) + rewrites;
  if (endings > 1) throw new TypeError(`Fault #${index} combines more than one of status, hang, reset, malformed and patch/truncate`);
  return { ...fault, ...(fault.patch === undefined ? {} : { patch: { ...fault.patch } }) };
}

interface RandomState {
  options: RandomFaultOptions;
  random: () => number;
}

/** Per-endpoint fault queues and random fault settings. */
export class FaultController {
  readonly #queues = new Map<EmulatorEndpoint, Array<{ fault: Fault; remaining: number }>>();
  readonly #random = new Map<EmulatorEndpoint | '*', RandomState>();

  /** Queues faults for the next requests of `endpoint`, in order. */
  inject(endpoint: EmulatorEndpoint, faults: Fault[]): void {
    assertEndpoint(endpoint, false);
    const checked = faults.map(validateFault);
    const queue = this.#queues.get(endpoint) ?? [];
    for (const fault of checked) queue.push({ fault, remaining: fault.times ?? 1 });
    this.#queues.set(endpoint, queue);
  }

  /** Sets (or, with `undefined`, clears) random faults for an endpoint or for all (`'*'`). */
  setRandom(endpoint: EmulatorEndpoint | '*', options: RandomFaultOptions | undefined): void {
    assertEndpoint(endpoint, true);
    if (options === undefined) {
      this.#random.delete(endpoint);
      return;
    }
    const rate = assertNumber('rate', options.rate, 0);
    if (rate > 1) throw new TypeError(`Expected \`rate\` to be a number in [0, 1], got \`${rate}\` (number)`);
    if (!Array.isArray(options.kinds) || options.kinds.length === 0 || options.kinds.some((kind) => !KINDS.includes(kind))) {
      throw new TypeError(`Expected \`kinds\` to be a non-empty array of ${KINDS.join(', ')}`);
    }
    if (options.hangMS !== undefined) assertNumber('hangMS', options.hangMS, 0);
    const seed = options.seed ?? 1;
    if (!Number.isInteger(seed)) throw new TypeError(`Expected \`seed\` to be an integer, got \`${String(seed)}\``);
    this.#random.set(endpoint, { options: { ...options, kinds: [...options.kinds] }, random: seededRandom(seed) });
  }

  /** Drops every queued and random fault. */
  clear(): void {
    this.#queues.clear();
    this.#random.clear();
  }

  /** The fault for the next request of `endpoint`: queued ones first, then a random draw. */
  next(endpoint: EmulatorEndpoint): Fault | undefined {
    const queue = this.#queues.get(endpoint);
    const head = queue?.[0];
    if (head) {
      head.remaining -= 1;
      if (head.remaining === 0) queue.shift();
      return head.fault;
    }
    const random = this.#random.get(endpoint) ?? this.#random.get('*');
    if (!random || random.random() >= random.options.rate) return undefined;
    const kinds = random.options.kinds;
    const kind = kinds[Math.floor(random.random() * kinds.length)]!;
    return randomFault(kind, random.random, random.options.hangMS ?? DEFAULT_RANDOM_HANG_MS);
  }
}

function randomFault(kind: RandomFaultKind, random: () => number, hangMS: number): Fault {
  switch (kind) {
    case '5xx':
      return { status: [500, 502, 503, 504][Math.floor(random() * 4)]! };
    case '429':
      return { status: 429, retryAfter: 1 };
    case '401':
      return { status: 401 };
    case 'hang':
      // Bounded so a soak run cannot wedge: answer 503 once hangMS has passed.
      return { delayMS: hangMS, status: 503 };
    case 'reset':
      return { reset: true };
    case 'malformed':
      return { malformed: true };
  }
}

const TRUNCATED: Record<EmulatorEndpoint, string> = {
  token: '{"access_token":"at_',
  revoke: '{"error":"serv',
  resource: '{"ok":true,"sub":"',
  graphql: '{"data":{"offlineUserAuthToken":{"success":tr',
  product: '{"accountId":"',
  jwks: '{"keys":[{"kty":"RS',
};

/**
 * The answer actually sent for a request handled normally under a fault that rewrites answers
 * ({@link Fault.patch}, {@link Fault.truncate}; error answers too); `handled` itself when the fault
 * rewrites nothing or the answer has no JSON object body.
 */
export function rewrittenReply(fault: Fault | undefined, handled: Reply): Reply {
  if (fault === undefined || (fault.patch === undefined && fault.truncate === undefined)) return handled;
  const body = handled.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return handled;
  const patched = { ...(body as Record<string, unknown>), ...fault.patch };
  if (fault.truncate === undefined) return { ...handled, body: patched };
  const text = JSON.stringify(patched);
  const raw = text.slice(0, Math.max(0, text.length - fault.truncate));
  return { ...handled, body: undefined, raw, headers: { ...handled.headers, 'Content-Type': 'application/json' } };
}

/**
 * The answer a fault asks for, once its delay has passed.
 * @returns a reply, `'hang'`, `'reset'`, or `undefined` to handle the request normally.
 */
export function faultOutcome(fault: Fault, endpoint: EmulatorEndpoint): Reply | 'hang' | 'reset' | undefined {
  if (fault.hang) return 'hang';
  if (fault.reset) return 'reset';
  if (fault.malformed) return { status: 200, raw: TRUNCATED[endpoint], headers: { 'Content-Type': 'application/json' } };
  const status = fault.status ?? (fault.retryAfter !== undefined ? 503 : undefined);
  if (status === undefined) return undefined;
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
  let body = fault.body;
  if (status === 401) {
    const client = endpoint === 'token' || endpoint === 'revoke';
    headers['WWW-Authenticate'] = client ? 'Basic realm="emulator"' : 'Bearer realm="emulator", error="invalid_token"';
    body ??= { error: client ? 'invalid_client' : 'invalid_token', error_description: 'Injected fault' };
  }
  body ??= status === 429 ? { error: 'rate_limited' } : { error: 'temporarily_unavailable' };
  return json(status, body, headers);
}
