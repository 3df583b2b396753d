// The tarball as users get it: installed (offline, from the npm cache) into a temporary project
// that holds a CommonJS program and a strict ESM TypeScript program, which are run and type-checked
// against the installed copy, never against this checkout.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadedPackages } from '../../bench/import-cost.js';
import { ROOT, packOnce, sh, type PackResult } from './support.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** A CommonJS program: require() of the package's ESM build (Node >= 20.19), an in-memory store, one refresh. */
const CJS_PROGRAM = `'use strict';
const { KeyvTokenStore, PersistentSession, SessionError, authorizedFetch } = require('persistent-session');
const { startEmulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } = require('persistent-session/emulator');

async function main() {
  const emulator = await startEmulator();
  try {
    const seeded = emulator.issueTokens();
    const tokenStore = new KeyvTokenStore(); // in memory
    const session = new PersistentSession({
      tokenStore,
      key: 'cjs',
      client: { tokenEndpoint: emulator.tokenEndpoint, clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
      // Acquired long ago: the first call refreshes.
      tokenInfo: {
        accessToken: seeded.accessToken, refreshToken: seeded.refreshToken, accessTokenTTLMS: 60000, acquiredAtMS: Date.now() - 3600000,
      },
    });
    const token = await session.getAccessToken();
    const res = await authorizedFetch(session, emulator.resourceUrl);
    console.log(JSON.stringify({
      resolved: require.resolve('persistent-session'),
      backend: tokenStore.backend,
      refreshed: token !== seeded.accessToken,
      refreshes: emulator.counts.refresh,
      status: res.status,
      sessionErrorIsError: new SessionError('ERR_TOKEN_STORE', 'x') instanceof Error,
      // The bundle keeps each class's own name (error names are built from it).
      renamedClasses: Object.entries(require('persistent-session'))
        .filter(([name, value]) => typeof value === 'function' && /^[A-Z]/.test(name) && value.name !== name)
        .map(([name, value]) => name + ' is named ' + value.name),
      errorName: new (require('persistent-session').TokenRequestError)('refused').name,
    }));
    await tokenStore.close();
  } finally {
    await emulator.close();
  }
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

/** An ES module program that opens a SQLite store where the sqlite3 addon is missing, and reports what it saw at exit. */
const SQLITE_MISSING_PROGRAM = `import { createTokenStore, TokenStoreError } from 'persistent-session';
const seen = { codes: [], messages: [], unhandled: [] };
process.on('unhandledRejection', (err) => seen.unhandled.push(String(err).slice(0, 80)));
process.on('exit', () => process.stdout.write(JSON.stringify(seen)));
const store = createTokenStore('sqlite://./missing-addon.sqlite');
for (let i = 0; i < 2; i++) {
  try {
    await store.read('k');
    seen.codes.push('read');
  } catch (err) {
    seen.codes.push(err instanceof TokenStoreError ? err.code : String(err));
    seen.messages.push(err.message);
  }
}
`;

/** A strict ESM TypeScript program: the published types, the global fetch types, a SQLite file store. */
const ESM_PROGRAM = `import { join } from 'node:path';
import {
  ExpiredTokensError, KeyvTokenStore, PersistentSession, authorizedFetch, type SessionErrorCode, type TokenInfo,
} from 'persistent-session';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator, type Emulator } from 'persistent-session/emulator';

const emulator: Emulator = await startEmulator();
const seeded = emulator.issueTokens();
const tokenStore = new KeyvTokenStore(\`sqlite://\${join(process.argv[2]!, 'tokens.sqlite')}\`);
const tokenInfo: TokenInfo = {
  accessToken: seeded.accessToken, refreshToken: seeded.refreshToken, accessTokenTTLMS: 60_000, acquiredAtMS: Date.now() - 3_600_000,
};
const session = new PersistentSession({
  tokenStore,
  key: 'esm',
  client: { tokenEndpoint: emulator.tokenEndpoint, clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
  tokenInfo,
});
const init: RequestInit = { method: 'GET', headers: new Headers({ accept: 'application/json' }) };
const res: Response = await authorizedFetch(session, new URL(emulator.resourceUrl), init);
const code: SessionErrorCode = new ExpiredTokensError('gone').code;
console.log(JSON.stringify({ backend: tokenStore.backend, status: res.status, code, refreshes: emulator.counts.refresh }));
await tokenStore.close();
await emulator.close();

// Never called: the types must be real, not \`any\`, or these directives are unused and tsc fails.
export function typeErrors(): void {
  // @ts-expect-error the store key is a string
  new PersistentSession({ key: 42, client: { tokenEndpoint: 'https://x', clientId: 'c' } });
  // @ts-expect-error authorizedFetch resolves to a Response, not a string
  const text: Promise<string> = authorizedFetch(session, 'https://x');
  void text;
}
`;

/**
 * The consumer's package.json, and a lockfile with the very versions this checkout's lockfile holds,
 * so that `npm ci --offline` resolves from the cache.
 */
function writeProject(dir: string, pack: PackResult): void {
  const spec = `file:${pack.filename}`;
  const manifest = pack.manifest as {
    version: string;
    license: string;
    dependencies: Record<string, string>;
    bin: unknown;
    engines: unknown;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { 'persistent-session': spec } },
    'node_modules/persistent-session': {
      version: manifest.version,
      resolved: spec,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  writeFileSync(join(dir, 'package.json'), json({ name: 'consumer', private: true, dependencies: { 'persistent-session': spec } }));
  writeFileSync(join(dir, 'package-lock.json'), json({ name: 'consumer', lockfileVersion: 3, requires: true, packages }));
}

describe('package: installed into a CommonJS and an ESM TypeScript project', function () {
  this.timeout(120_000);
  let dir: string;
  let installMS: number;

  before(async function () {
    this.timeout(360_000);
    const pack = await packOnce();
    dir = mkdtempSync(join(tmpdir(), 'ps-consumer-'));
    copyFileSync(pack.tarball, join(dir, pack.filename));
    writeProject(dir, pack);
    const started = Date.now();
    // Offline: every dependency is in the npm cache since this checkout's `npm ci`.
    await sh('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], dir);
    installMS = Date.now() - started;
    // sqlite3's install script builds the addon from source where no prebuilt binary can be
    // downloaded (a minute of C++); reuse the one this checkout built, after checking it is the same version.
    const sqlite3 = (root: string, ...path: string[]) => join(root, 'node_modules', 'sqlite3', ...path);
    const version = (root: string) => (JSON.parse(readFileSync(sqlite3(root, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version(dir)).to.equal(version(ROOT));
    mkdirSync(sqlite3(dir, 'build', 'Release'), { recursive: true });
    copyFileSync(sqlite3(ROOT, 'build', 'Release', 'node_sqlite3.node'), sqlite3(dir, 'build', 'Release', 'node_sqlite3.node'));

    mkdirSync(join(dir, 'cjs'));
    writeFileSync(join(dir, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    writeFileSync(join(dir, 'cjs', 'main.js'), CJS_PROGRAM);
    mkdirSync(join(dir, 'esm'));
    writeFileSync(join(dir, 'esm', 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(dir, 'esm', 'main.ts'), ESM_PROGRAM);
    const compilerOptions = {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      lib: ['es2023'],
      strict: true,
      skipLibCheck: false,
      outDir: 'out',
      types: ['node'],
      typeRoots: [join(ROOT, 'node_modules', '@types')],
    };
    writeFileSync(join(dir, 'esm', 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }, null, 2));
    // Projects that also target browsers take the fetch types from the DOM lib instead of @types/node.
    const dom = { extends: './tsconfig.json', compilerOptions: { lib: ['es2023', 'dom'], noEmit: true, skipLibCheck: true } };
    writeFileSync(join(dir, 'esm', 'tsconfig.dom.json'), JSON.stringify(dom, null, 2));
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('installs offline from the tarball and the npm cache', () => {
    const installed = JSON.parse(readFileSync(join(dir, 'node_modules', 'persistent-session', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(installed.version).to.equal((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    expect(installMS).to.be.a('number');
  });

  it('a CommonJS program require()s the package, builds a KeyvTokenStore in memory and a PersistentSession, and refreshes', async () => {
    const { stdout } = await sh(process.execPath, ['main.js'], join(dir, 'cjs'), 60_000);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.resolved).to.equal(join(dir, 'node_modules', 'persistent-session', 'dist', 'index.js'));
    expect(out).to.include({ backend: 'memory', refreshed: true, refreshes: 1, status: 200, sessionErrorIsError: true });
    expect(out.renamedClasses).to.deep.equal([]);
    expect(out.errorName).to.equal('TokenRequestError');
  });

  it('without the sqlite3 addon (--ignore-scripts): a program without SQLite runs; one with it gets a TokenStoreError', async function () {
    // The README's promise to Redis, PostgreSQL and in-memory users; it holds once the root loads no store driver.
    if ((await loadedPackages('persistent-session', [], join(dir, 'cjs'))).includes('sqlite3')) this.skip();
    const addon = join(dir, 'node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node');
    renameSync(addon, `${addon}.away`);
    try {
      const { stdout } = await sh(process.execPath, ['main.js'], join(dir, 'cjs'), 60_000);
      expect(JSON.parse(stdout)).to.include({ backend: 'memory', status: 200 });
      // And a program that does use SQLite gets a TokenStoreError it can catch, and nothing else: no unhandled
      // rejection from the failed native module (Node 20 reports one for a CommonJS module that throws
      // while an ES module imports it, even when the import's rejection is caught).
      writeFileSync(join(dir, 'cjs', 'sqlite-missing.mjs'), SQLITE_MISSING_PROGRAM);
      const missing = await sh(process.execPath, ['sqlite-missing.mjs'], join(dir, 'cjs'), 60_000);
      const out = JSON.parse(missing.stdout) as { codes: string[]; messages: string[]; unhandled: string[] };
      expect(out.unhandled, 'unhandled rejections').to.deep.equal([]);
      expect(out.codes).to.deep.equal(['ERR_TOKEN_STORE', 'ERR_TOKEN_STORE']);
      for (const message of out.messages) expect(message).to.include('npm rebuild sqlite3');
    } finally {
      renameSync(`${addon}.away`, addon);
    }
  });

  it('a strict ESM TypeScript program (module nodenext) type-checks against the published types, then runs', async () => {
    await sh(process.execPath, [TSC, '-p', 'tsconfig.json', '--pretty', 'false'], join(dir, 'esm'), 120_000);
    const { stdout } = await sh(process.execPath, ['out/main.js', join(dir, 'esm')], join(dir, 'esm'), 60_000);
    expect(JSON.parse(stdout)).to.deep.equal({ backend: 'sqlite', status: 200, code: 'ERR_EXPIRED_TOKENS', refreshes: 1 });
  });

  it("the same program type-checks with the DOM lib's fetch types", async () => {
    await sh(process.execPath, [TSC, '-p', 'tsconfig.dom.json', '--pretty', 'false'], join(dir, 'esm'), 120_000);
  });

  it('tsc reports a type error in the consumer, so the check above can fail', async () => {
    writeFileSync(
      join(dir, 'esm', 'broken.ts'),
      "import { PersistentSession } from 'persistent-session';\nexport const s = new PersistentSession({ client: { clientId: 1 } });\n",
    );
    const broken = { extends: './tsconfig.json', compilerOptions: { noEmit: true }, files: ['broken.ts'] };
    writeFileSync(join(dir, 'esm', 'tsconfig.broken.json'), JSON.stringify(broken));
    const failure = await sh(process.execPath, [TSC, '-p', 'tsconfig.broken.json', '--pretty', 'false'], join(dir, 'esm')).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(failure?.message).to.match(/broken\.ts\(2,\d+\): error TS2\d{3}/);
  });

  it('installs the persistent-session command, built by npm run build', async () => {
    const { stdout } = await sh(join(dir, 'node_modules', '.bin', 'persistent-session'), ['--version'], dir, 30_000);
    expect(stdout.trim()).to.equal((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });
});
