/**
 * `npm run build`: writes dist/ from lib/.
 *
 * - Types: `tsc -p tsconfig.build.json` emits one `.d.ts` per library module (not the CLI's), with
 *   their JSDoc, so editors and TypeDoc see the same declarations as the source.
 * - Code: esbuild bundles each public entry point, because a cold `import()` pays per module loaded
 *   (resolving, reading and linking each file): the root's ~65 small modules cost more than the
 *   code in them. Packages stay external (`node_modules` is resolved at run time, as before).
 *
 * Two builds, each with code splitting:
 * 1. The library: the root, `./defaults` and `./testing`. They share chunks, so a class or a
 *    module-level registry has one copy however a program imports them (an error thrown through
 *    the testing helpers is still `instanceof` the root's class). The store drivers stay separate
 *    chunks, loaded on their first use.
 * 2. The programs: the CLI (`dist/cli/main.js`, the `bin`) and the emulator (`./emulator`). They
 *    are tools, not imported by the library; the CLI's commands stay lazily loaded chunks.
 *
 * Output is not minified and each module keeps its `// lib/...` header comment, so a stack trace
 * into dist/ reads back to its source; `keepNames` keeps every class's `name` (errors use it).
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The entry points of the library build, relative to the repository root. */
export const LIBRARY_ENTRIES = ['lib/index.ts', 'lib/defaults.ts', 'lib/testing/index.ts'];
/** The entry points of the programs build. */
export const PROGRAM_ENTRIES = ['lib/cli/main.ts', 'lib/emulator/index.ts'];
/** Where shared and lazily loaded chunks go, inside dist/. */
export const CHUNK_DIR = 'chunks';

const common: BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  packages: 'external',
  outdir: 'dist',
  outbase: 'lib',
  chunkNames: `${CHUNK_DIR}/[name]-[hash]`,
  keepNames: true,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
};

async function main(): Promise<void> {
  rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
  execFileSync(process.execPath, [fileURLToPath(import.meta.resolve('typescript/bin/tsc')), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  await build({ ...common, entryPoints: LIBRARY_ENTRIES });
  await build({ ...common, entryPoints: PROGRAM_ENTRIES });
}

await main();
