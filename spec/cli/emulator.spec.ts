import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { fingerprint } from '../../lib/redact.js';
import { recordSecret } from '../support/secrets.js';
import { finished, runCli, runInProcess, startCli, waitForOutput } from './support.js';

describe('persistent-session CLI: emulator', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ps-cli-emulator-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts, prints its URLs and redacted tokens, serves requests, and exits 0 on SIGINT', async () => {
    const file = join(dir, 'emulator-tokens.json');
    const child = startCli(['emulator', '--port', '0', '--tokens-file', file]);
    const done = finished(child);
    const banner = await waitForOutput(child, /press Ctrl\+C to stop/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
    expect(url, banner).to.be.a('string');
    for (const path of ['/oauth/token', '/oauth/revoke', '/api/resource', '/graphql', '/ex/jira/'])
      expect(banner).to.include(`${url}${path}`);

    const tokens = JSON.parse(readFileSync(file, 'utf8')) as {
      accessToken: string;
      refreshToken: string;
      systemToken: string;
      contextAri: string;
    };
    recordSecret(tokens.accessToken, tokens.refreshToken, tokens.systemToken);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(banner).to.include(fingerprint(tokens.accessToken)).and.include(fingerprint(tokens.systemToken));
    expect(banner).to.include(`--context ${tokens.contextAri}`);

    // It is a real server: the seeded token works on the protected resource.
    const res = await fetch(`${url}/api/resource`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    expect(res.status).to.equal(200);

    child.kill('SIGINT');
    const r = await done;
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include('emulator stopped (SIGINT)');
    for (const t of [tokens.accessToken, tokens.refreshToken, tokens.systemToken]) {
      expect(r.stdout).to.not.include(t);
      expect(r.stderr).to.not.include(t);
    }
  });

  it('exits 0 on SIGTERM too', async () => {
    const child = startCli(['emulator']);
    const done = finished(child);
    await waitForOutput(child, /press Ctrl\+C to stop/);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('raw tokens are never printed');
  });

  it('bad input exits 2 naming the flag', async () => {
    const [port, ttl] = await Promise.all([runCli(['emulator', '--port', '70000']), runInProcess(['emulator', '--access-ttl', 'soon'])]);
    expect(port.code).to.equal(2);
    expect(port.stderr).to.include('error: --port must be at most 65535, got "70000"');
    expect(ttl.code).to.equal(2);
    expect(ttl.stderr).to.include('error: --access-ttl must be a duration such as 20s, 1m30s or 500ms');
  });
});
