// Runs the programs of docs/migrating.md, unchanged, as child processes against the emulator.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { ROOT } from '../cli/support.js';
import { recordSecret } from '../support/secrets.js';

const run = promisify(execFile);

function program(file: string, env: Record<string, string>) {
  return run(process.execPath, ['--import', 'tsx', join(ROOT, 'docs/examples', file)], { cwd: ROOT, env: { ...process.env, ...env } });
}

describe('docs/migrating.md programs against the emulator', () => {
  let emulator: Emulator;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-migrating-'));
  });
  afterEach(async () => {
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrating-from-box.ts keeps the Box store: reads its expired pair, refreshes once, writes the new pair back', async function () {
    this.timeout(60_000);
    emulator = await startEmulator();
    const issued = emulator.issueTokens({ ttlSeconds: 600 });
    recordSecret(issued.accessToken, issued.refreshToken);
    emulator.expireAccessToken(issued.accessToken);
    const file = join(dir, 'box-tokens.json');
    // What box-node-sdk left in the store: an access token past its lifetime.
    const boxRecord = {
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      accessTokenTTLMS: 600_000,
      acquiredAtMS: Date.now() - 700_000,
    };
    writeFileSync(file, JSON.stringify(boxRecord));
    const { stdout } = await program('migrating-from-box.ts', {
      TOKENS_FILE: file,
      TOKEN_ENDPOINT: emulator.tokenEndpoint,
      CLIENT_ID: 'test-client',
      CLIENT_SECRET: 'test-secret',
      API_URL: emulator.resourceUrl,
    });
    expect(JSON.parse(stdout.trim())).to.deep.equal({ status: 200 });
    const after = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    recordSecret(String(after.accessToken), String(after.refreshToken));
    expect(after.refreshToken).to.be.a('string').and.not.equal(issued.refreshToken);
    // The grant's health comes along (when it was refreshed): the adapter keeps it in the Box record.
    expect(after).to.have.keys(['accessToken', 'refreshToken', 'accessTokenTTLMS', 'acquiredAtMS', 'tokenType', 'scope', 'grant']);
    expect(emulator.counts).to.include({ refresh: 1, resource: 1 });
  });

  it('migrating-from-forge-clients.ts: getToken, boundClient and invalidateAll over the egress proxy', async function () {
    this.timeout(60_000);
    emulator = await startEmulator({ forge: { userTokenTTLSeconds: 900 } });
    const inst = emulator.egress.addInstallation({ contextAri: 'ari:cloud:jira::site/cccccccc-0000-0000-0000-000000000003' });
    const { stdout } = await program('migrating-from-forge-clients.ts', {
      FORGE_EGRESS_PROXY_URL: emulator.egressProxyUrl,
      INSTALLATION_ID: inst.id,
      ACCOUNT_IDS: 'acct-1,acct-2',
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { accountId: string; status: number; expiresInSeconds: number });
    expect(lines.map((l) => [l.accountId, l.status])).to.deep.equal([
      ['acct-1', 200],
      ['acct-2', 200],
    ]);
    for (const l of lines) expect(l.expiresInSeconds).to.be.within(890, 900);
    const log = emulator.egress.requests();
    const mints = log.filter((r) => r.path.startsWith('/atlassian/graphql'));
    const appHeader = [`Forge as=app,installationId=${inst.id}`];
    expect(mints.map((r) => r.proxyAuthorization)).to.deep.equal([appHeader, appHeader]);
    const calls = log.filter((r) => r.path.endsWith('/myself'));
    expect(calls.map((r) => [r.authorization, r.proxyAuthorization.length, r.accountId])).to.deep.equal([
      [true, 0, 'acct-1'],
      [true, 0, 'acct-2'],
    ]);
    expect(emulator.requests(), 'nothing reached the other origin').to.deep.equal([]);
  });
});
