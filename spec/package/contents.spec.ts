// What the published tarball holds: the build output, the README and the guides, and nothing else
// (no source maps, no sources, no specs, no generated API pages, no examples that import ../../lib).
// dist/ is bundled (scripts/build.ts): the entry points, their shared and lazily loaded chunks under
// dist/chunks/, and one .d.ts per library module.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, posix } from 'node:path';
import { expect } from 'chai';
import { ROOT, packOnce, type PackResult } from './support.js';

/** A chunk esbuild wrote: `dist/chunks/<name>-<hash>.js`. */
const CHUNK = /^dist\/chunks\/[a-z0-9-]+-[A-Z0-9]{8}\.js$/;

/** Every path a tarball may hold. Anything else is unexpected. */
const ALLOWED: readonly RegExp[] = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^docs\/[a-z0-9-]+\.md$/,
  /^dist\/(?:[a-z0-9-]+\/)*[a-z0-9-]+\.d\.ts$/,
  /^dist\/(?:[a-z0-9-]+\/)*[a-z0-9-]+\.js$/,
  CHUNK,
];

/**
 * The packed paths that no pattern allows, that dist/ holds without a source in lib/ (stale output),
 * or, for code, that no entry point reaches.
 * @param reachable - the dist/ JavaScript files the entry points import, directly or not
 */
export function unexpectedFiles(
  files: readonly string[],
  hasSource: (libPath: string) => boolean,
  reachable?: ReadonlySet<string>,
): string[] {
  return files.filter((file) => {
    if (!ALLOWED.some((re) => re.test(file))) return true;
    if (!file.startsWith('dist/')) return false;
    if (file.endsWith('.js') && reachable !== undefined && !reachable.has(file)) return true;
    if (CHUNK.test(file)) return false;
    return !hasSource(file.replace(/^dist\//, 'lib/').replace(/\.(?:d\.ts|js)$/, '.ts'));
  });
}

/** The relative modules a bundled file imports: `from "./x.js"`, `import "./x.js"` and `import("./x.js")`. */
export function relativeImports(code: string): string[] {
  const found = code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g);
  return [...new Set([...found].map((m) => m[1]!))];
}

/**
 * The dist/ files reachable from `entries` through relative imports, and the imports that name a
 * file `read` cannot find (as `from -> target`).
 */
export function reachableCode(
  entries: readonly string[],
  read: (path: string) => string | undefined,
): { reached: Set<string>; missing: string[] } {
  const reached = new Set<string>();
  const missing: string[] = [];
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (reached.has(file)) continue;
    const code = read(file);
    if (code === undefined) {
      missing.push(file);
      continue;
    }
    reached.add(file);
    for (const target of relativeImports(code)) queue.push(posix.normalize(posix.join(posix.dirname(file), target)));
  }
  return { reached, missing };
}

/** Every file path named by `main`, `types`, `bin` and the `exports` map (all conditions). */
function entryPoints(manifest: Record<string, unknown>): string[] {
  const out: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') out.push(value);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk([manifest.main, manifest.types, manifest.bin, manifest.exports]);
  return [...new Set(out.map((p) => normalize(p)))];
}

/** Relative links of a markdown text (`[text](target)`), without anchors. */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!.replace(/#.*$/, ''))
    .filter((target) => target !== '' && !/^[a-z]+:/i.test(target));
}

describe('package: the tarball', function () {
  this.timeout(240_000);
  let pack: PackResult;

  before(async () => {
    pack = await packOnce();
  });

  it('holds only allowed paths: bundled dist/*.js that an entry point reaches, *.d.ts built from lib/, README.md, docs/*.md', () => {
    const read = (file: string) => (pack.files.includes(file) ? readFileSync(join(ROOT, file), 'utf8') : undefined);
    const code = entryPoints(pack.manifest).filter((p) => p.endsWith('.js'));
    const { reached, missing } = reachableCode(code, read);
    expect(missing, 'modules the packed code imports but the tarball lacks').to.deep.equal([]);
    expect([...reached].filter((f) => CHUNK.test(f)).length, 'the entry points share chunks').to.be.above(0);
    const unexpected = unexpectedFiles(pack.files, (libPath) => existsSync(join(ROOT, libPath)), reached);
    expect(unexpected, `unexpected files in ${pack.filename}`).to.deep.equal([]);
    expect(
      pack.files.filter((f) => f.endsWith('.map')),
      'source maps without sourcesContent point at files not shipped',
    ).to.deep.equal([]);
    const guides = readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`)
      .sort();
    expect(
      pack.files.filter((f) => f.startsWith('docs/')),
      'the guides, and nothing else under docs/',
    ).to.deep.equal(guides);
    expect(pack.entryCount).to.equal(pack.files.length);
  });

  it('the allow-list rejects what must not ship', () => {
    const all = () => true;
    expect(
      unexpectedFiles(
        [
          'dist/index.js.map',
          'docs/examples/oauth-3lo-worker.ts',
          'docs/api/index.html',
          'spec/cli/tokens.spec.ts',
          'lib/index.ts',
          'tsconfig.json',
          'docs/examples/tsconfig.json',
          'bench/run.ts',
          'dist/index.js',
          'docs/errors.md',
        ],
        all,
      ),
    ).to.deep.equal([
      'dist/index.js.map',
      'docs/examples/oauth-3lo-worker.ts',
      'docs/api/index.html',
      'spec/cli/tokens.spec.ts',
      'lib/index.ts',
      'tsconfig.json',
      'docs/examples/tsconfig.json',
      'bench/run.ts',
    ]);
    expect(
      unexpectedFiles(['dist/removed-module.js', 'dist/removed-module.d.ts'], () => false),
      'stale build output',
    ).to.deep.equal(['dist/removed-module.js', 'dist/removed-module.d.ts']);
    expect(
      unexpectedFiles(
        ['dist/index.js', 'dist/chunks/chunk-ABCD1234.js', 'dist/chunks/chunk-ZZZZ9999.js'],
        all,
        new Set(['dist/index.js', 'dist/chunks/chunk-ABCD1234.js']),
      ),
      'a chunk no entry point reaches',
    ).to.deep.equal(['dist/chunks/chunk-ZZZZ9999.js']);
  });

  it('follows static, bare and dynamic imports between bundled files, and reports the ones missing', () => {
    const files: Record<string, string> = {
      'dist/index.js': 'import { a } from "./chunks/chunk-AAAA1111.js";\nimport "./chunks/side-BBBB2222.js";\nexport { a };',
      'dist/chunks/chunk-AAAA1111.js': 'import x from "undici";\nconst load = () => import("./sqlite-CCCC3333.js");',
      'dist/chunks/side-BBBB2222.js': 'export {};',
      'dist/cli/main.js': 'import { b } from "../chunks/chunk-AAAA1111.js";',
    };
    const { reached, missing } = reachableCode(['dist/index.js', 'dist/cli/main.js'], (f) => files[f]);
    expect([...reached].sort()).to.deep.equal([
      'dist/chunks/chunk-AAAA1111.js',
      'dist/chunks/side-BBBB2222.js',
      'dist/cli/main.js',
      'dist/index.js',
    ]);
    expect(missing).to.deep.equal(['dist/chunks/sqlite-CCCC3333.js']);
  });

  it('holds every file that main, types, bin and exports name, the README and the guides', () => {
    const targets = entryPoints(pack.manifest).filter((p) => p !== 'package.json');
    expect(targets).to.include.members([
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/emulator/index.js',
      'dist/emulator/index.d.ts',
    ]);
    expect(
      targets.filter((p) => !pack.files.includes(p)),
      'entry points missing from the tarball',
    ).to.deep.equal([]);
    expect(pack.files).to.include.members(['README.md', 'package.json', 'docs/errors.md', 'docs/oauth-3lo-worker.md']);
  });

  it('every relative link in the packed README and guides points at a packed file', () => {
    const broken: string[] = [];
    for (const file of pack.files.filter((f) => f.endsWith('.md'))) {
      for (const target of relativeLinks(readFileSync(join(ROOT, file), 'utf8'))) {
        const resolved = normalize(join(dirname(file), target));
        if (!pack.files.includes(resolved)) broken.push(`${file} -> ${target}`);
      }
    }
    expect(broken).to.deep.equal([]);
    expect(relativeLinks('see [the guide](docs/x.md#top) and [site](https://example.com)')).to.deep.equal(['docs/x.md']);
  });

  it('names its repository, homepage and issue tracker, all on one GitHub repository', () => {
    const { repository, homepage, bugs } = pack.manifest as {
      repository?: { type?: string; url?: string };
      homepage?: string;
      bugs?: { url?: string };
    };
    expect(repository?.type).to.equal('git');
    const repo = /^git\+(https:\/\/github\.com\/[\w.-]+\/[\w.-]+?)\.git$/.exec(repository?.url ?? '')?.[1];
    expect(repo, `repository.url ${repository?.url}`).to.be.a('string');
    expect(homepage).to.equal(`${repo}#readme`);
    expect(bugs?.url).to.equal(`${repo}/issues`);
  });

  it('serves require() and import from the exports map, types first', () => {
    const exportsMap = pack.manifest.exports as Record<string, unknown>;
    for (const subpath of ['.', './emulator']) {
      const conditions = exportsMap[subpath] as Record<string, string>;
      expect(Object.keys(conditions)[0], `${subpath}: types must come first`).to.equal('types');
      expect(Object.keys(conditions).at(-1), `${subpath}: a default condition serves require()`).to.equal('default');
      expect(conditions.default).to.equal(conditions.import);
    }
    expect((pack.manifest.engines as { node?: string }).node, 'require() of ESM without a flag needs Node 20.19').to.equal('>=20.19.0');
  });
});
