/**
 * Forge remote invocations: the emulator signs Forge Invocation Tokens (FITs, RS256 JWTs) with a
 * key of its own and publishes the public half as a JWKS at `/.well-known/jwks.json`, so that a
 * remote's verification code runs against it unchanged (only the JWKS URL differs).
 * @module
 */
import { createSign, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { parseContextAri, type ForgeState } from './forge-state.js';
import { json, type IncomingCall, type Reply } from './http.js';
import { assertNumber } from './options.js';
import type { IssueInvocationOptions, SignedInvocation } from './types.js';

/** What signing an invocation needs of the emulator (structural, so that context.ts can hold a signer without an import circle). */
interface InvocationContext {
  readonly url: string;
  now(): number;
  readonly forge: Pick<ForgeState, 'issueSystemToken'>;
}

/** The `iss` claim of every Forge Invocation Token. */
export const FIT_ISSUER = 'forge/invocation-token';
/** Default lifetime of a signed invocation token, in seconds. */
export const DEFAULT_INVOCATION_TTL_SECONDS = 60;

function segment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The emulator's invocation signing key, made on first use (RSA key generation takes a moment). */
export class InvocationSigner {
  readonly appId = `ari:cloud:ecosystem::app/${randomUUID()}`;
  readonly #kid = randomUUID();
  #keys: { privateKey: KeyObject; publicKey: KeyObject } | undefined;

  #pair(): { privateKey: KeyObject; publicKey: KeyObject } {
    this.#keys ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
    return this.#keys;
  }

  /** The public key set, as `GET /.well-known/jwks.json` serves it. */
  jwks(): { keys: Array<Record<string, unknown>> } {
    const jwk = this.#pair().publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    return { keys: [{ ...jwk, kid: this.#kid, alg: 'RS256', use: 'sig' }] };
  }

  /** Signs `payload` as an RS256 JWT with this emulator's key. */
  sign(payload: Record<string, unknown>): string {
    const input = `${segment({ alg: 'RS256', typ: 'JWT', kid: this.#kid })}.${segment(payload)}`;
    const signature = createSign('RSA-SHA256').update(input).sign(this.#pair().privateKey).toString('base64url');
    return `${input}.${signature}`;
  }
}

/**
 * Makes what Forge sends to a remote on an invocation: a signed FIT in `authorization`, an app
 * system token in `x-forge-oauth-system` (unless `systemToken: false`) and an invocation id.
 */
export function signInvocation(ctx: InvocationContext, signer: InvocationSigner, options: IssueInvocationOptions = {}): SignedInvocation {
  const installationId = options.installationId ?? `ari:cloud:ecosystem::installation/${randomUUID()}`;
  const contextAri = options.contextAri ?? `ari:cloud:jira::site/${randomUUID()}`;
  const parsed = parseContextAri(contextAri);
  const cloudId = parsed?.cloudId;
  const apiBaseUrl = options.apiBaseUrl ?? (parsed ? `${ctx.url}/ex/${parsed.product}/${parsed.cloudId}` : ctx.url);
  const ttl = assertNumber('ttlSeconds', options.ttlSeconds ?? DEFAULT_INVOCATION_TTL_SECONDS, Number.NEGATIVE_INFINITY);
  const appId = options.appId ?? signer.appId;
  const iat = Math.floor(ctx.now() / 1000);
  const invocationId = randomUUID();
  const payload: Record<string, unknown> = {
    app: {
      id: appId,
      appVersion: '1.0.0',
      installationId,
      apiBaseUrl,
      environment: { type: 'DEVELOPMENT', id: `ari:cloud:ecosystem::environment/${randomUUID()}` },
      module: { type: 'core:endpoint', key: 'emulator-endpoint' },
      installation: { id: installationId, contexts: [{ name: contextAri, apiBaseUrl }] },
    },
    ...(cloudId === undefined ? {} : { context: { cloudId, moduleKey: 'emulator-endpoint' } }),
    ...(options.accountId === undefined ? {} : { principal: options.accountId }),
    aud: options.audience ?? appId,
    iss: FIT_ISSUER,
    iat: Math.min(iat, iat + Math.round(ttl)),
    nbf: Math.min(iat, iat + Math.round(ttl)),
    exp: iat + Math.round(ttl),
    jti: randomUUID(),
  };
  const token = signer.sign(payload);
  const users = options.users === undefined ? {} : { users: options.users };
  const systemToken =
    options.systemToken === false ? undefined : ctx.forge.issueSystemToken({ installationId, contextAri, apiBaseUrl, ...users });
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'x-forge-invocation-id': invocationId };
  if (systemToken !== undefined) headers['x-forge-oauth-system'] = systemToken;
  const system = systemToken === undefined ? {} : { systemToken };
  return { token, ...system, installationId, apiBaseUrl, contextAri, appId, invocationId, headers };
}

/** `GET /.well-known/jwks.json`: the public key of the invocation signer. */
export function handleJwks(call: IncomingCall, signer: InvocationSigner): Reply {
  if (call.method !== 'GET' && call.method !== 'HEAD') return json(405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD' });
  return json(200, signer.jwks(), { 'Cache-Control': 'max-age=300' });
}
