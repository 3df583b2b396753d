import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from './helpers.js';

const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const run = promisify(execFile);

/** Runs a fixture with module hooks (spec/store/fixtures/module-hooks.mjs) and returns its JSON line. */
async function fixture(name: string, args: string[], hooks: object, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', '--import', './spec/store/fixtures/register-hooks.mjs', join('spec', 'store', 'fixtures', `${name}.ts`), ...args],
    { cwd: REPO_ROOT, env: { ...process.env, ...env, PS_TEST_MODULE_HOOKS: JSON.stringify(hooks) }, timeout: 30_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('Store drivers are loaded on first use', function () {
  this.timeout(40_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-drivers-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('importing the library loads no store client package; using a store loads its own', async () => {
    const log = join(dir, 'modules.log');
    const out = await fixture('import-root', [dir, REDIS_URL, POSTGRES_URL], { log }, { PS_TEST_MODULE_LOG: log });
    expect(out.exports).to.be.above(20);
    expect(out.afterImport).to.deep.equal([]);
    // The same detection, after one operation on each backend, sees every package: it is not blind.
    expect(out.afterUse).to.deep.equal(['@keyv/postgres', '@keyv/redis', '@keyv/sqlite', '@redis/client', 'pg', 'sqlite3']);
  });

  const cases = [
    {
      what: 'sqlite3 without its native build',
      block: ['sqlite3'],
      mode: 'broken',
      uri: () => `sqlite://${join(dir, 't.sqlite')}`,
      other: () => REDIS_URL,
      expected: ['sqlite3', 'Could not locate the bindings file', 'npm rebuild sqlite3'],
    },
    {
      what: 'sqlite3 not installed',
      block: ['sqlite3'],
      mode: 'missing',
      uri: () => `sqlite://${join(dir, 't.sqlite')}`,
      other: () => REDIS_URL,
      expected: ['@keyv/sqlite and its native module sqlite3', "Cannot find package 'sqlite3'", 'npm install @keyv/sqlite sqlite3'],
    },
    {
      what: '@keyv/redis not installed',
      block: ['@keyv/redis'],
      mode: 'missing',
      uri: () => REDIS_URL,
      other: () => `sqlite://${join(dir, 't.sqlite')}`,
      expected: ['Redis token store', '@keyv/redis', 'npm install @keyv/redis'],
    },
    {
      what: '@keyv/postgres not installed',
      block: ['@keyv/postgres'],
      mode: 'missing',
      uri: () => POSTGRES_URL,
      other: () => `sqlite://${join(dir, 't.sqlite')}`,
      expected: ['Postgres token store', '@keyv/postgres', 'npm install @keyv/postgres'],
    },
  ];
  for (const c of cases) {
    it(`${c.what}: every operation of that backend fails with ERR_TOKEN_STORE naming the fix; other backends work`, async () => {
      const out = await fixture('missing-driver', [c.uri(), c.other()], { block: c.block, mode: c.mode });
      const failures = out.failures as Array<{ name: string; code: string; message: string }>;
      expect(failures).to.have.length(4);
      for (const f of failures) {
        expect(f).to.include({ name: 'TokenStoreError', code: 'ERR_TOKEN_STORE' });
        for (const text of c.expected) expect(f.message).to.include(text);
        expect(f.message).not.to.include('child-access-token');
      }
      expect(out.otherWorks).to.equal(true);
    });
  }
});
