// Runs docs/examples/forge-containers-worker.ts, unchanged, as a child process against the emulator,
// passing the URLs through the environment variables the guide shows.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { ROOT } from '../cli/support.js';

const run = promisify(execFile);

describe('docs/examples/forge-containers-worker.ts against the emulated egress proxy', () => {
  let emulator: Emulator;
  afterEach(async () => {
    await emulator?.close();
  });

  it('lists the installations, calls as the app and as each user, one credential per request, and only to the proxy', async function () {
    this.timeout(60_000);
    emulator = await startEmulator();
    const a = emulator.egress.addInstallation({ contextAri: 'ari:cloud:jira::site/aaaaaaaa-0000-0000-0000-000000000001' });
    const b = emulator.egress.addInstallation({
      contextAri: 'ari:cloud:jira::site/bbbbbbbb-0000-0000-0000-000000000002',
      users: ['acct-1'],
    });
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'docs/examples/forge-containers-worker.ts')], {
      cwd: ROOT,
      env: { ...process.env, FORGE_EGRESS_PROXY_URL: emulator.egressProxyUrl, ACCOUNT_IDS: 'acct-1,acct-2' },
    });
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).to.deep.equal([
      { installation: a.id, as: 'app', status: 200 },
      { installation: a.id, as: 'acct-1', status: 200, actedAs: 'acct-1' },
      { installation: a.id, as: 'acct-2', status: 200, actedAs: 'acct-2' },
      { installation: b.id, as: 'app', status: 200 },
      { installation: b.id, as: 'acct-1', status: 200, actedAs: 'acct-1' },
      { installation: b.id, as: 'acct-2', refused: 'ERR_IMPERSONATION' },
    ]);
    const log = emulator.egress.requests();
    expect(log.filter((r) => r.path.startsWith('/v1/installations'))).to.have.length(1);
    for (const r of log) expect(r.proxyAuthorization.length + (r.authorization ? 1 : 0), `${r.method} ${r.path}`).to.be.at.most(1);
    const appCalls = log.filter((r) => r.path.endsWith('/serverInfo'));
    expect(appCalls.map((r) => r.proxyAuthorization)).to.deep.equal([
      [`Forge as=app,installationId=${a.id}`],
      [`Forge as=app,installationId=${b.id}`],
    ]);
    const mints = log.filter((r) => r.path.startsWith('/atlassian/graphql'));
    expect(mints.map((r) => [r.proxyAuthorization, r.status])).to.deep.equal([
      [[`Forge as=app,installationId=${a.id}`], 200],
      [[`Forge as=app,installationId=${a.id}`], 200],
      [[`Forge as=app,installationId=${b.id}`], 200],
      [[`Forge as=app,installationId=${b.id}`], 200],
    ]);
    const userCalls = log.filter((r) => r.path.endsWith('/myself'));
    // acct-2 may not be impersonated in b: its mint answered success: false, so no call was made with a token for it.
    expect(userCalls.map((r) => [r.authorization, r.accountId, r.installationId])).to.deep.equal([
      [true, 'acct-1', a.id],
      [true, 'acct-2', a.id],
      [true, 'acct-1', b.id],
    ]);
    expect(emulator.requests(), 'nothing reached the other origin').to.deep.equal([]);
  });
});
