// Helpers for the package specs: `npm pack` runs once per mocha process (its `prepare` script is
// `npm run build`, so the tarball holds exactly what a fresh build makes), and both the contents
// spec and the consumer spec read that one tarball.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What `npm pack --json` says about one tarball. */
export interface PackResult {
  /** The directory the tarball was written to (removed when the process exits). */
  dir: string;
  /** Absolute path of the tarball. */
  tarball: string;
  /** Its file name, e.g. `persistent-session-0.1.0.tgz`. */
  filename: string;
  /** Packed (gzipped) size in bytes. */
  size: number;
  /** Number of files. */
  entryCount: number;
  /** Every file's path inside the package. */
  files: string[];
  /** The package.json that was packed. */
  manifest: Record<string, unknown>;
  /** How long the pack (build included) took. */
  tookMS: number;
}

/** Runs a command, rejecting with its output when it fails. */
export async function sh(cmd: string, args: string[], cwd: string, timeoutMS = 240_000): Promise<{ stdout: string; stderr: string }> {
  // Under `npm test`, npm's own variables (npm_config_local_prefix, npm_package_*) describe this
  // checkout; a nested npm must work out its project from `cwd`. The cache stays the same.
  const kept = (name: string) => !/^npm_/i.test(name) || /^npm_config_(cache|registry|userconfig)$/i.test(name);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => kept(name)));
  try {
    const options = { cwd, timeout: timeoutMS, maxBuffer: 32 * 1024 * 1024, env: { ...env, NO_COLOR: '1', npm_config_color: 'false' } };
    return await exec(cmd, args, options);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

let packed: Promise<PackResult> | undefined;

/** Packs the repository once per process; later calls share the result. */
export function packOnce(): Promise<PackResult> {
  packed ??= pack();
  return packed;
}

async function pack(): Promise<PackResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ps-pack-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const started = Date.now();
  const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
  // The `prepare` script's own output may precede the JSON.
  type Packed = { filename: string; size: number; entryCount: number; files: Array<{ path: string }> };
  const json = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as Packed[];
  const [info] = json;
  if (info === undefined) throw new Error(`npm pack printed no package: ${stdout}`);
  const tarball = join(dir, info.filename);
  const manifest = JSON.parse((await sh('tar', ['-xzOf', tarball, 'package/package.json'], dir)).stdout) as Record<string, unknown>;
  return {
    dir,
    tarball,
    filename: info.filename,
    size: info.size,
    entryCount: info.entryCount,
    files: info.files.map((f) => f.path).sort(),
    manifest,
    tookMS: Date.now() - started,
  };
}
