/**
 * The parts of the TokenStore contract that sessions rely on to keep grants healthy: the grant
 * health stored in a record reads back (required), and the conditional write `writeIf` (tested when
 * the store has it).
 *
 * @module
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { validateTokenInfo, type TokenInfo } from '../token/token-info.js';
import type { GrantHealth } from '../token/grant-health.js';
import type { TokenStore } from '../store/token-store.js';

/** @internal What one contract test works with (see token-store-contract.ts). */
export interface ContractRun {
  /** A store from the factory (stores of one test reach the same data when the backend is shared). */
  open(): Promise<TokenStore>;
  /** A key of this test only. */
  key(name: string): string;
  /** The prefix of this test's keys. */
  prefix: string;
}

/** @internal Registers one contract test. */
export type ContractIt = (title: string, body: (run: ContractRun) => Promise<void>) => unknown;

/** A GrantHealth with every field set. */
function sampleGrant(overrides: GrantHealth = {}): GrantHealth {
  return {
    failures: 3,
    lastErrorCode: 'ERR_TOKEN_REQUEST',
    lastRefreshedAtMS: 1_700_000_000_000,
    expiresAtMS: 1_800_000_000_000,
    dead: { reason: 'invalid_grant', atMS: 1_700_000_100_000 },
    ...overrides,
  };
}

/** A TokenInfo with random tokens; an override set to `undefined` leaves the field out. */
function tokens(overrides: Partial<TokenInfo> = {}): TokenInfo {
  const info: Record<string, unknown> = {
    accessToken: `at-${randomUUID()}`,
    refreshToken: `rt-${randomUUID()}`,
    accessTokenTTLMS: 3_600_000,
    acquiredAtMS: 1_700_000_000_000 + Math.floor(Math.random() * 1e6),
    ...overrides,
  };
  for (const [k, v] of Object.entries(info)) if (v === undefined) delete info[k];
  return info as unknown as TokenInfo;
}

/** The own fields of a TokenInfo as a plain object, for deep comparison. */
const fields = (info: TokenInfo | undefined) => (info === undefined ? undefined : { ...info });

/**
 * @internal Registers the grant-health tests (always) and the `writeIf` tests.
 * @param it - registers a test
 * @param writeIf - true: the store must have `writeIf`; false: it must not; undefined: tested when present
 * @param shared - whether two stores of one test reach the same data
 */
export function grantTests(it: ContractIt, writeIf: boolean | undefined, shared: boolean): void {
  it('reads back the grant health stored with the tokens, and new tokens written without it clear it', async ({ open, key }) => {
    const store = await open();
    const full = tokens({ scope: 'read', tokenType: 'Bearer', grant: sampleGrant() });
    const partial = tokens({ grant: { failures: 0, lastRefreshedAtMS: 1_700_000_000_001 } });
    const revoked = tokens({ refreshToken: undefined, grant: { dead: { reason: 'revoked', atMS: 2 } } });
    await store.write(key('full'), full);
    await store.write(key('partial'), partial);
    await store.write(key('revoked'), revoked);
    assert.deepEqual(fields(await store.read(key('full'))), full);
    assert.deepEqual(fields(await store.read(key('partial'))), partial);
    assert.deepEqual(fields(await store.read(key('revoked'))), revoked);
    // The user authorised again: the new tokens come without health, and the dead marker is gone.
    const fresh = tokens();
    await store.write(key('full'), fresh);
    assert.deepEqual(fields(await store.read(key('full'))), fresh);
  });

  if (writeIf === false) {
    it('has no writeIf', async ({ open }) => {
      assert.equal((await open()).writeIf, undefined);
    });
    return;
  }

  type Conditional = TokenStore & Required<Pick<TokenStore, 'writeIf'>>;
  const conditional = async (run: ContractRun): Promise<Conditional | undefined> => {
    const store = await run.open();
    if (store.writeIf === undefined && writeIf === true) assert.fail('the store has no writeIf');
    return store.writeIf === undefined ? undefined : (store as Conditional);
  };

  it('writeIf: writes only while the stored refresh token is the expected one', async (run) => {
    const store = await conditional(run);
    if (store === undefined) return;
    const k = run.key('k');
    const [a, b, c] = [tokens(), tokens({ grant: sampleGrant() }), tokens()];
    assert.equal(await store.writeIf(k, a, { refreshToken: a.refreshToken }), false, 'no record: only undefined matches');
    assert.equal(await store.read(k), undefined);
    assert.equal(await store.writeIf(k, a, { refreshToken: undefined }), true);
    assert.deepEqual(fields(await store.read(k)), a);
    assert.equal(await store.writeIf(k, c, { refreshToken: undefined }), false, 'the record has a refresh token');
    assert.equal(await store.writeIf(k, b, { refreshToken: a.refreshToken }), true);
    assert.deepEqual(fields(await store.read(k)), b);
    assert.equal(await store.writeIf(k, c, { refreshToken: a.refreshToken }), false, 'a refresh token used before');
    assert.deepEqual(fields(await store.read(k)), b);
  });

  it('writeIf: undefined matches a record without refresh token, and writes as write does', async (run) => {
    const store = await conditional(run);
    if (store === undefined) return;
    const k = run.key('user');
    const user = tokens({ refreshToken: undefined, acquiredAtMS: Date.now() });
    await store.write(k, user);
    const next = tokens({ refreshToken: undefined, acquiredAtMS: Date.now() });
    assert.equal(await store.writeIf(k, next, { refreshToken: `rt-${randomUUID()}` }), false);
    assert.equal(await store.writeIf(k, next, { refreshToken: undefined }), true);
    assert.deepEqual(fields(await store.read(k)), next);
    const validated = validateTokenInfo(tokens({ grant: sampleGrant() }));
    assert.equal(await store.writeIf(k, validated, { refreshToken: undefined }), true);
    assert.deepEqual(fields(await store.read(k)), { ...validated, grant: { ...validated.grant } });
  });

  it('writeIf: of concurrent writers expecting one refresh token, exactly one wins, and its record stays', async (run) => {
    const first = await conditional(run);
    if (first === undefined) return;
    const stores = shared ? [first, (await conditional(run))!] : [first];
    const k = run.key('race');
    const start = tokens();
    await first.write(k, start);
    const candidates = Array.from({ length: 8 }, () => tokens());
    const results = await Promise.all(
      candidates.map((c, i) => stores[i % stores.length]!.writeIf(k, c, { refreshToken: start.refreshToken })),
    );
    assert.equal(results.filter(Boolean).length, 1, `winners: ${results.filter(Boolean).length}`);
    assert.deepEqual(fields(await first.read(k)), candidates[results.indexOf(true)]);
  });
}
