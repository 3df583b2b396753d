/**
 * Import cost: a cold `import('persistent-session')` of the built package (dist/, after
 * `npm run build`, resolved by its own name as a user's code resolves it) against a cold
 * `import('undici')`, each in a fresh `node` process, measured inside the process around the
 * `import()` alone (not Node's start-up). The two alternate, so that both see the same load.
 *
 * Also lists the packages the root import loads (through a module resolve hook): no JOSE library
 * and no store driver should be among them.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { fmtMS, fmtRatio, median, type BenchResult } from './report.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Fresh processes per module. */
export const IMPORT_SPAWNS = 15;
/** The goal: the root costs at most this many times undici's own import. */
export const IMPORT_COST_GOAL = 1.3;
/** JOSE libraries: reading a JWT's expiry needs none. */
export const JOSE_PACKAGES = ['jose', 'jsonwebtoken', 'jws'];
/** Store drivers: loaded when a store of their kind is opened, not with the root. */
export const STORE_DRIVER_PACKAGES = ['@keyv/sqlite', 'sqlite3', '@keyv/redis', '@redis/client', 'redis', '@keyv/postgres', 'pg'];

/** A resolve hook that prints every package a module graph reaches, one `LOADED <name>` line each. */
const RECORD_HOOK = `export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
  if (m !== null) process.stderr.write('LOADED ' + m[1] + '\\n');
  return result;
}`;
const HOOK_URL = `data:text/javascript,${encodeURIComponent(RECORD_HOOK)}`;
const REGISTER_SCRIPT = `import { register } from 'node:module'; register(${JSON.stringify(HOOK_URL)});`;
const REGISTER = `data:text/javascript,${encodeURIComponent(REGISTER_SCRIPT)}`;

/** Milliseconds a cold `import(specifier)` takes in a fresh process started in `cwd`. */
export async function coldImportMS(specifier: string, cwd = ROOT): Promise<number> {
  const load = `await import(${JSON.stringify(specifier)});`;
  const script = `const t = performance.now(); ${load}process.stdout.write(String(performance.now() - t));`;
  const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd });
  return Number(stdout);
}

/**
 * The packages (from node_modules) that `import(specifier)` reaches in a fresh process.
 * @param specifier - a package name or a file URL
 * @param nodeArgs - extra node flags, e.g. `['--import', 'tsx']` to import a .ts file
 */
export async function loadedPackages(specifier: string, nodeArgs: string[] = [], cwd = ROOT): Promise<string[]> {
  const script = `await import(${JSON.stringify(specifier)});`;
  const { stderr } = await exec(process.execPath, [...nodeArgs, '--import', REGISTER, '--input-type=module', '-e', script], { cwd });
  return [...new Set([...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!))].sort();
}

/** Runs the import-cost benchmark (builds dist/ first). */
export async function runImportCost(): Promise<BenchResult> {
  await exec('npm', ['run', 'build'], { cwd: ROOT });
  // One discarded round: the first read of each file from disk is not what a restart costs.
  await coldImportMS('persistent-session');
  await coldImportMS('undici');
  const ours: number[] = [];
  const undici: number[] = [];
  for (let i = 0; i < IMPORT_SPAWNS; i++) {
    ours.push(await coldImportMS('persistent-session'));
    undici.push(await coldImportMS('undici'));
  }
  const ratio = median(ours) / median(undici);
  const loaded = await loadedPackages('persistent-session');
  const among = (names: string[]) => {
    const found = names.filter((p) => loaded.includes(p));
    return { measured: found.length === 0 ? 'none loaded' : `loaded: ${found.join(', ')}`, met: found.length === 0 };
  };
  const row = (module: string, ms: number[]) => ({
    module,
    'median ms': fmtMS(median(ms)),
    'min ms': fmtMS(Math.min(...ms)),
    'max ms': fmtMS(Math.max(...ms)),
  });
  return {
    name: 'import-cost',
    title: 'Import cost: a cold import of the package root',
    baseline: `a cold import('undici') in the same run (median of ${IMPORT_SPAWNS} fresh processes each)`,
    tables: [
      {
        caption: 'cold import(), measured inside a fresh node process',
        rows: [row("import('persistent-session') (dist/)", ours), row("import('undici')", undici)],
      },
    ],
    goals: [
      {
        goal: `import('persistent-session') <= ${IMPORT_COST_GOAL}x import('undici')`,
        measured: fmtRatio(ratio),
        met: ratio <= IMPORT_COST_GOAL,
      },
      { goal: 'the root loads no JOSE library', ...among(JOSE_PACKAGES) },
      { goal: 'the root loads no store driver', ...among(STORE_DRIVER_PACKAGES) },
    ],
    notes: [`packages the root loads: ${loaded.join(', ')}`],
    data: { oursMS: ours, undiciMS: undici, ratio, loaded },
  };
}
