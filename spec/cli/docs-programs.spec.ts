// Each guide's program (docs/examples/, see docs-examples.spec.ts) runs as a child process against
// the emulator, with the environment the guide tells its readers to set, and does what the guide
// says it does: the refreshes, revocations and store writes are counted at the emulator.
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator, type Emulator, type IssuedTokens } from '../../lib/emulator/index.js';
import { fingerprint } from '../../lib/redact.js';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { recordOutput, recordSecret } from '../support/secrets.js';
import { unavailable } from '../support/services.js';
import { recordSeenTokens } from '../fetch/table.js';
import { unreachable } from '../store/helpers.js';
import { ROOT } from './support.js';

const exec = promisify(execFile);
const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** What a program printed, and how it ended. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs docs/examples/<file> with only the given environment (plus PATH and HOME). */
async function runProgram(file: string, env: Record<string, string>): Promise<Run> {
  const clean = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env };
  try {
    const args = ['--import', 'tsx', join('docs', 'examples', file)];
    const { stdout, stderr } = await exec(process.execPath, args, { cwd: ROOT, env: clean, timeout: 60_000 });
    recordOutput(stdout + stderr);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    recordOutput(`${e.stdout ?? ''}${e.stderr ?? ''}`);
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe("docs: every guide's program runs against the emulator", function () {
  this.timeout(120_000);
  let emu: Emulator;
  let dir: string;
  let grant: IssuedTokens;

  /** The variables every guide sets to point its program at the emulator. */
  const emulatorEnv = (tokens: Pick<IssuedTokens, 'accessToken' | 'refreshToken'> = grant): Record<string, string> => ({
    TOKEN_ENDPOINT: emu.tokenEndpoint,
    REVOCATION_ENDPOINT: emu.revocationEndpoint,
    API_URL: emu.resourceUrl,
    CLIENT_ID: DEFAULT_CLIENT_ID,
    CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
    ACCESS_TOKEN: tokens.accessToken,
    REFRESH_TOKEN: tokens.refreshToken,
  });

  beforeEach(async () => {
    emu = await startEmulator();
    grant = emu.issueTokens();
    recordSecret(grant.accessToken, grant.refreshToken);
    dir = mkdtempSync(join(tmpdir(), 'ps-docs-programs-'));
  });
  afterEach(async () => {
    recordSeenTokens(emu);
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('oauth-3lo-worker.ts', () => {
    it('Atlassian: stores the grant, refreshes when the API refuses the access token, and carries on from the store next run', async () => {
      emu.expireAccessToken(grant.accessToken);
      const env = { ...emulatorEnv(), TOKEN_STORE: `sqlite://${join(dir, 'tokens.sqlite')}` };
      const first = await runProgram('oauth-3lo-worker.ts', env);
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout)
        .to.match(/^atlassian:user-1: 200 /)
        .and.include("sub: 'emulator-user'");
      expect(emu.counts.refresh).to.equal(1);
      const again = await runProgram('oauth-3lo-worker.ts', env);
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.match(/^atlassian:user-1: 200 /);
      expect(emu.counts.refresh, 'the rotated tokens came from the store').to.equal(1);
    });

    it('Box, disconnecting: revokes at the revocation endpoint and clears the key', async () => {
      const tokenStore = `sqlite://${join(dir, 'tokens.sqlite')}`;
      const r = await runProgram('oauth-3lo-worker.ts', { ...emulatorEnv(), TOKEN_STORE: tokenStore, PROVIDER: 'box', DISCONNECT: 'yes' });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout)
        .to.match(/^box:user-1: 200 /)
        .and.include('box:user-1: disconnected');
      expect(emu.counts.revoke).to.be.at.least(1);
      expect(emu.tokenState(grant.refreshToken)).to.equal('revoked');
      const store = new KeyvTokenStore(tokenStore);
      try {
        expect(await store.keys()).to.deep.equal([]);
      } finally {
        await store.close();
      }
    });

    it('a dead grant: the program forgets it and asks the user to reconnect', async () => {
      emu.expireAccessToken(grant.accessToken);
      emu.revokeToken(grant.refreshToken);
      const tokenStore = `sqlite://${join(dir, 'tokens.sqlite')}`;
      const r = await runProgram('oauth-3lo-worker.ts', { ...emulatorEnv(), TOKEN_STORE: tokenStore });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('the grant of user-1 is gone: ask them to connect atlassian again\n');
      expect(emu.counts.invalidGrant).to.equal(1);
      const store = new KeyvTokenStore(tokenStore);
      try {
        expect(await store.read('atlassian:user-1')).to.equal(undefined);
      } finally {
        await store.close();
      }
    });
  });

  describe('multiple-workers-redis.ts', () => {
    before(async function () {
      const why = await unreachable(REDIS_URL);
      if (why !== undefined) unavailable(this, `Redis guide skipped: ${REDIS_URL} is unreachable (${why})`);
    });

    it('four workers on an expired grant cause one refresh and all use its token; rotated keys read the record', async () => {
      const namespace = `docs-${randomUUID()}`;
      const encryptionKey = randomBytes(32).toString('hex');
      const env: Record<string, string> = { ...emulatorEnv(), REDIS_URL, TOKEN_NAMESPACE: namespace, TOKEN_ENCRYPTION_KEY: encryptionKey };
      const store = new KeyvTokenStore(REDIS_URL, { namespace, encryptionKey });
      try {
        const seeded = await runProgram('multiple-workers-redis.ts', env);
        expect(seeded.code, seeded.stderr).to.equal(0);
        expect(seeded.stdout).to.include(`access token ${fingerprint(grant.accessToken)}`);
        // Age the stored grant past its expiry, as if the fleet had been idle.
        const info = (await store.read('crm-sync'))!;
        await store.write('crm-sync', { ...info, acquiredAtMS: Date.now() - 2 * info.accessTokenTTLMS });

        const { REFRESH_TOKEN: _r, ACCESS_TOKEN: _a, ...workerEnv } = env;
        const runs = await Promise.all([1, 2, 3, 4].map(() => runProgram('multiple-workers-redis.ts', workerEnv)));
        for (const r of runs) expect(r.code, r.stderr).to.equal(0);
        expect(emu.counts.refresh, 'one refresh for the whole fleet').to.equal(1);
        const printed = new Set(runs.map((r) => /access token (sha256:\w+)/.exec(r.stdout)?.[1]));
        expect(printed.size, runs.map((r) => r.stdout).join('')).to.equal(1);
        expect([...printed][0]).to.not.equal(fingerprint(grant.accessToken));

        const newKey = randomBytes(32).toString('base64');
        const rotated = await runProgram('multiple-workers-redis.ts', { ...workerEnv, TOKEN_ENCRYPTION_KEY_NEW: newKey });
        expect(rotated.code, rotated.stderr).to.equal(0);
        expect(rotated.stdout).to.include('the rotated keys read crm-sync: yes');
      } finally {
        await store.clear('crm-sync').catch(() => {});
        await store.close();
      }
    });
  });

  describe('custom-token-store.ts', () => {
    it('the session writes the grant through the custom store, and the rotated tokens after a refused access token', async () => {
      const live = await runProgram('custom-token-store.ts', emulatorEnv());
      expect(live.code, live.stderr).to.equal(0);
      expect(live.stdout).to.equal('200; the database holds tokens/default after 1 write(s)\n');
      emu.expireAccessToken(grant.accessToken);
      const refused = await runProgram('custom-token-store.ts', emulatorEnv());
      expect(refused.code, refused.stderr).to.equal(0);
      expect(refused.stdout).to.equal('200; the database holds tokens/default after 2 write(s)\n');
      expect(emu.counts.refresh).to.equal(1);
    });
  });

  describe('errors.ts', () => {
    it('a live grant reaches the API; a dead one takes the ERR_EXPIRED_TOKENS branch', async () => {
      const live = await runProgram('errors.ts', emulatorEnv());
      expect(live.code, live.stderr).to.equal(0);
      expect(live.stdout).to.equal('items: 200\n');
      const dead = await runProgram('errors.ts', emulatorEnv({ accessToken: 'unknown', refreshToken: 'unknown' }));
      expect(dead.code, dead.stderr).to.equal(0);
      expect(dead.stdout).to.match(/^tell the user: ERR_EXPIRED_TOKENS: /);
      expect(emu.counts.invalidGrant).to.equal(1);
    });
  });
});
