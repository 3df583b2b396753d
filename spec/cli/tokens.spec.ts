import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { fingerprint } from '../../lib/redact.js';
import { recordSecret } from '../support/secrets.js';
import { runCli, runInProcess, type CliResult } from './support.js';

const HOUR = 3_600_000;
const TOKENS = {
  app: { accessToken: 'at_cli_spec_access_0123456789abcdef', refreshToken: 'rt_cli_spec_refresh_0123456789abcdef' },
  alice: { accessToken: 'ut_cli_spec_alice_0123456789abcdef' },
  old: { accessToken: 'at_cli_spec_expired_0123456789abcdef', refreshToken: 'rt_cli_spec_expired_0123456789abcdef' },
  ailing: { accessToken: 'at_cli_spec_ailing_0123456789abcdef', refreshToken: 'rt_cli_spec_ailing_0123456789abcdef' },
  dead: { accessToken: 'at_cli_spec_dead_0123456789abcdef', refreshToken: 'rt_cli_spec_dead_0123456789abcdef' },
};
const RAW = Object.values(TOKENS).flatMap((t) => Object.values(t));

function expectNoRawTokens(r: CliResult): void {
  for (const token of RAW) {
    expect(r.stdout, 'stdout').to.not.include(token);
    expect(r.stderr, 'stderr').to.not.include(token);
  }
}

describe('persistent-session CLI: tokens', () => {
  let dir: string;
  let uri: string;

  before(() => recordSecret(...RAW));
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ps-cli-tokens-'));
    uri = `sqlite://${join(dir, 'tokens.sqlite')}`;
    const store = new KeyvTokenStore(uri);
    const now = Date.now();
    await store.write('default', { ...TOKENS.app, accessTokenTTLMS: HOUR, acquiredAtMS: now, scope: 'read write', tokenType: 'Bearer' });
    await store.write('forge:ari:cloud:jira::site/c1:alice', { ...TOKENS.alice, accessTokenTTLMS: HOUR, acquiredAtMS: now - 10 * 60_000 });
    await store.write('stale', { ...TOKENS.old, accessTokenTTLMS: HOUR, acquiredAtMS: now - 4 * HOUR });
    await store.close();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('list shows every key with fingerprints and relative expiry, never a raw token; --json and --namespace too', async () => {
    const [r, json, other] = await Promise.all([
      runCli(['tokens', 'list', '--store', uri]),
      runCli(['tokens', 'list', '--store', uri, '--json']),
      runCli(['tokens', 'list', '--store', uri, '--namespace', 'elsewhere']),
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expectNoRawTokens(r);
    expect(r.stdout).to.include('3 keys in');
    expect(r.stdout).to.include(fingerprint(TOKENS.app.accessToken)).and.include(fingerprint(TOKENS.app.refreshToken));
    expect(r.stdout).to.include(fingerprint(TOKENS.alice.accessToken));
    expect(r.stdout).to.match(/default\s+sha256:\w{8}\s+sha256:\w{8}\s+in 59m \d+s\s+read write/);
    expect(r.stdout).to.match(/forge:ari:cloud:jira::site\/c1:alice\s+sha256:\w{8}\s+-\s+in 49m \d+s/);
    expect(r.stdout).to.match(/stale\s+.*expired 3h( \d+s)? ago/);

    expect(json.code, json.stderr).to.equal(0);
    expectNoRawTokens(json);
    const out = JSON.parse(json.stdout) as { tokens: Array<Record<string, unknown>> };
    expect(out.tokens.map((t) => t.key)).to.deep.equal(['default', 'forge:ari:cloud:jira::site/c1:alice', 'stale']);
    expect(out.tokens[0]).to.include({
      status: 'valid',
      accessToken: fingerprint(TOKENS.app.accessToken),
      refreshToken: fingerprint(TOKENS.app.refreshToken),
      scope: 'read write',
    });
    expect(out.tokens[2]).to.include({ status: 'expired' });

    expect(other.code, other.stderr).to.equal(0);
    expect(other.stdout).to.include('no tokens in');
  });

  it('show prints one key in detail, redacted; a missing key exits 1', async () => {
    const [shown, missing] = await Promise.all([
      runCli(['tokens', 'show', 'default', '--store', uri]),
      runCli(['tokens', 'show', 'nobody', '--store', uri]),
    ]);
    expect(shown.code, shown.stderr).to.equal(0);
    expectNoRawTokens(shown);
    expect(shown.stdout)
      .to.include(fingerprint(TOKENS.app.refreshToken))
      .and.match(/lifetime\s+3600 s/);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('error: no tokens under key "nobody"');
  });

  it('list and show print the grant health (failures, last error, last refreshed, dead, deadline); --json too', async () => {
    const store = new KeyvTokenStore(uri);
    const now = Date.now();
    await store.write('ailing', {
      ...TOKENS.ailing,
      accessTokenTTLMS: HOUR,
      acquiredAtMS: now - 3 * HOUR,
      grant: {
        failures: 2,
        lastErrorCode: 'ERR_TOKEN_REQUEST',
        lastRefreshedAtMS: now - 3 * HOUR,
        expiresAtMS: now + 3 * 86_400_000 + 60_000,
      },
    });
    await store.write('dead', {
      ...TOKENS.dead,
      accessTokenTTLMS: HOUR,
      acquiredAtMS: now - 5 * HOUR,
      grant: { failures: 1, lastErrorCode: 'invalid_grant', dead: { reason: 'invalid_grant', atMS: now - 2 * HOUR } },
    });
    await store.close();
    const [r, json, shown, shownDead] = await Promise.all([
      runCli(['tokens', 'list', '--store', uri]),
      runCli(['tokens', 'list', '--store', uri, '--json']),
      runCli(['tokens', 'show', 'ailing', '--store', uri]),
      runCli(['tokens', 'show', 'dead', '--store', uri, '--json']),
    ]);
    for (const out of [r, json, shown, shownDead]) {
      expect(out.code, out.stderr).to.equal(0);
      expectNoRawTokens(out);
    }
    expect(r.stdout).to.match(/FAILURES\s+LAST ERROR\s+REFRESHED\s+GRANT/);
    expect(r.stdout).to.match(/ailing\s+.*expired 2h( \d+s)? ago\s+2\s+ERR_TOKEN_REQUEST\s+3h( \d+s)? ago\s+ends in 3d( 0h)?/);
    expect(r.stdout).to.match(/dead\s+.*1\s+invalid_grant\s+5h( \d+s)? ago\s+dead: invalid_grant/);
    // A record without health: healthy, refreshed when acquired; a user token (no refresh token) has no grant.
    expect(r.stdout).to.match(/default\s+.*read write\s+0\s+-\s+\d+(ms|s) ago\s+ok/);
    expect(r.stdout).to.match(/forge:ari:cloud:jira::site\/c1:alice\s+.*\s+0\s+-\s+-\s+-$/m);

    type Row = { key: string; acquiredAt?: string; grant?: Record<string, unknown> };
    const rows = (JSON.parse(json.stdout) as { tokens: Row[] }).tokens;
    const byKey = new Map(rows.map((t) => [t.key, t.grant]));
    expect(byKey.get('ailing')).to.deep.equal({
      failures: 2,
      lastErrorCode: 'ERR_TOKEN_REQUEST',
      lastRefreshedAt: new Date(now - 3 * HOUR).toISOString(),
      expiresAt: new Date(now + 3 * 86_400_000 + 60_000).toISOString(),
    });
    expect(byKey.get('default')).to.deep.equal({ failures: 0, lastRefreshedAt: rows.find((t) => t.key === 'default')!.acquiredAt });
    expect(byKey.get('forge:ari:cloud:jira::site/c1:alice')).to.deep.equal({ failures: 0 });

    expect(shown.stdout)
      .to.match(/failures\s+2/)
      .and.match(/last error\s+ERR_TOKEN_REQUEST/)
      .and.match(/last refreshed\s+\S+ \(3h( \d+s)? ago\)/);
    expect(shown.stdout)
      .to.match(/grant deadline\s+\S+ \(in 3d( 0h)?\)/)
      .and.match(/grant\s+ends in 3d/);
    expect((JSON.parse(shownDead.stdout) as { grant: unknown }).grant).to.deep.equal({
      failures: 1,
      lastErrorCode: 'invalid_grant',
      dead: { reason: 'invalid_grant', at: new Date(now - 2 * HOUR).toISOString() },
      lastRefreshedAt: new Date(now - 5 * HOUR).toISOString(),
    });
  });

  it('clear removes one key, or all with --all', async () => {
    const one = await runCli(['tokens', 'clear', 'stale', '--store', uri]);
    expect(one.code, one.stderr).to.equal(0);
    expect(one.stdout).to.include('cleared 1 key');
    const all = await runCli(['tokens', 'clear', '--all', '--yes', '--store', uri]);
    expect(all.code, all.stderr).to.equal(0);
    expect(all.stdout).to.include('cleared 2 keys');
    expectNoRawTokens(all);
  });

  it('reads an encrypted store with --encryption-key env:VAR; without the key its records are unreadable', async () => {
    const key = 'a'.repeat(64);
    const encrypted = `sqlite://${join(dir, 'encrypted.sqlite')}`;
    const store = new KeyvTokenStore(encrypted, { encryptionKey: key });
    await store.write('default', { ...TOKENS.app, accessTokenTTLMS: HOUR, acquiredAtMS: Date.now() });
    await store.close();
    const [withKey, without] = await Promise.all([
      runInProcess(['tokens', 'list', '--store', encrypted, '--encryption-key', 'env:SPEC_KEY', '--json'], { SPEC_KEY: key }),
      runInProcess(['tokens', 'list', '--store', encrypted]),
    ]);
    expect(withKey.code, withKey.stderr).to.equal(0);
    expect((JSON.parse(withKey.stdout) as { tokens: Array<Record<string, unknown>> }).tokens[0]).to.include({
      status: 'valid',
      accessToken: fingerprint(TOKENS.app.accessToken),
    });
    expect(without.code).to.equal(0);
    expect(without.stdout).to.match(/default\s+-\s+-\s+unreadable/);
    expect(without.stderr).to.include('1 record(s) could not be read');
    for (const r of [withKey, without]) expectNoRawTokens(r);
  });

  it('bad input exits 2 with a message naming the flag', async () => {
    const [noKey, badStore, noFile, noStore] = await Promise.all([
      runCli(['tokens', 'clear', '--store', uri]),
      runInProcess(['tokens', 'list', '--store', 'mysql://db']),
      runInProcess(['tokens', 'list', '--store', `sqlite://${join(dir, 'missing.sqlite')}`]),
      runInProcess(['tokens', 'list']),
    ]);
    expect(noKey.code).to.equal(2);
    expect(noKey.stderr).to.include('error: tokens clear needs a <key> or --all');
    expect(badStore.code).to.equal(2);
    expect(badStore.stderr).to.include('error: --store must be a store URI').and.include('got "mysql://db"');
    expect(noFile.code).to.equal(2);
    expect(noFile.stderr).to.match(/error: --store names .*missing\.sqlite, which does not exist/);
    expect(noStore.code).to.equal(2);
    expect(noStore.stderr).to.include("error: required option '--store <uri>' not specified");
  });
});
