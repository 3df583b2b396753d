/**
 * Redaction: tokens never reach messages, logs, events or `util.inspect` output.
 *
 * Two layers: patterns that catch credentials in the shapes they travel in (Bearer/Basic headers,
 * JSON and form fields named like tokens, JWTs), and a bounded registry of the exact secrets this
 * process has handled, so that a token quoted anywhere in a foreign error message is caught too.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/** How many recently handled secrets the registry remembers. */
export const REDACTION_REGISTRY_SIZE = 10_000;

const registry = new Set<string>();
/**
 * Insertion order as a ring, so that evicting the oldest is O(1): asking a Set for its first value
 * walks the holes V8 leaves for deleted entries, about 5 µs a call once the registry is full.
 */
const order: Array<string | undefined> = new Array<string | undefined>(REDACTION_REGISTRY_SIZE).fill(undefined);
let nextSlot = 0;

/**
 * Remembers a secret so that {@link redactText} removes it wherever it appears.
 * Called by the library for every token it receives; bounded (oldest forgotten first).
 *
 * @param secret - a token or client secret; strings shorter than 8 characters are ignored
 */
export function registerSecret(secret: string | undefined): void {
  if (typeof secret !== 'string' || secret.length < 8 || registry.has(secret)) return;
  const oldest = order[nextSlot];
  if (oldest !== undefined) registry.delete(oldest);
  order[nextSlot] = secret;
  nextSlot = (nextSlot + 1) % REDACTION_REGISTRY_SIZE;
  registry.add(secret);
}

/**
 * Renders a token as a short, stable fingerprint: enough to tell two tokens apart in a log, useless
 * to an attacker.
 *
 * @param token - the secret
 * @returns e.g. `sha256:1f2e3d4c` (`<none>` for an absent token)
 * @example
 * ```ts
 * logger.info({ token: fingerprint(accessToken) }, 'using token');
 * ```
 */
export function fingerprint(token: string | undefined | null): string {
  if (typeof token !== 'string' || token.length === 0) return '<none>';
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

/** Key names whose values are secrets: in JSON and util.inspect output, and in the response bodies errors keep. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'access_token',
  'refresh_token',
  'id_token',
  'subject_token',
  'actor_token',
  'client_secret',
  'token',
  'accessToken',
  'refreshToken',
  'authToken',
  'password',
  'assertion',
]);
const QUOTED_SECRET_KEYS = [...SECRET_KEYS].join('|');
const QUOTED_SECRET = new RegExp(`(["']?(?:${QUOTED_SECRET_KEYS})["']?\\s*[:=]\\s*)(?:"[^"]*"|'[^']*')`, 'g');

const PATTERNS: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{6,}/gi, '$1 [redacted]'],
  // JSON (`"access_token":"…"`) and util.inspect (`accessToken: '…'`) forms: either quote, on key and value.
  [QUOTED_SECRET, '$1"[redacted]"'],
  [
    /\b((?:access_token|refresh_token|id_token|subject_token|actor_token|client_secret|token|assertion|password)=)[^&\s"']+/g,
    '$1[redacted]',
  ],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
];

/** How a known secret appears once redacted: its fingerprint, `[redacted sha256:1f2e3d4c]`. */
function redactedForm(secret: string): string {
  return `[redacted ${fingerprint(secret)}]`;
}

/**
 * Removes credentials from a piece of text.
 *
 * @param text - any message, stack or log line
 * @returns the text with every known secret and every token-shaped credential replaced
 */
export function redactText(text: string): string {
  if (typeof text !== 'string' || text.length === 0) return text;
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  if (registry.size > 0 && out.length >= 8) {
    for (const secret of registry) {
      if (out.includes(secret)) out = out.split(secret).join(redactedForm(secret));
    }
  }
  return out;
}

/** How deep {@link redactResponse} copies; anything deeper is dropped (answers of token servers are flat). */
const RESPONSE_COPY_DEPTH = 16;

/** The form of a secret value in a redacted copy (already redacted values are kept as they are). */
function redactedValue(value: string): string {
  return value.startsWith('[redacted') ? value : redactedForm(value);
}

function copyRedacted(value: unknown, secret: boolean, depth: number): unknown {
  if (typeof value === 'string') return secret ? redactedValue(value) : redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= RESPONSE_COPY_DEPTH) return '[redacted: too deep]';
  if (Array.isArray(value)) return value.map((v) => copyRedacted(v, secret, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyRedacted(v, secret || SECRET_KEYS.has(k), depth + 1);
  return out;
}

/**
 * @internal A copy of a parsed server answer that is safe to keep on an error: every string under a key that
 * names a secret (`access_token`, `refresh_token`, `id_token`, … at any depth) becomes its fingerprint,
 * `[redacted sha256:1f2e3d4c]`, and every other string goes through {@link redactText}. Numbers,
 * booleans and the shape are kept, so that the answer can still be diagnosed.
 *
 * @param body - a parsed JSON body (or anything else: primitives other than strings are returned as they are)
 * @returns a new value holding no credential
 * @example
 * ```ts
 * redactResponse({ access_token: 'at_live', expires_in: 0 }); // { access_token: '[redacted sha256:…]', expires_in: 0 }
 * ```
 */
export function redactResponse(body: unknown): unknown {
  return copyRedacted(body, false, 0);
}
