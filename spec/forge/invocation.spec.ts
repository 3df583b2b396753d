// handleInvocation against the emulator's signed invocations and its JWKS on 127.0.0.1.
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import sinon from 'sinon';
import { Headers } from 'undici';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { InvocationTokenError, SessionError, SystemTokenCache, handleInvocation } from '../../lib/index.js';
import { fakeClock } from '../emulator/support.js';

const SITE = 'ari:cloud:jira::site/0d0d0d0d-1111-2222-3333-444444444444';

async function rejection(p: Promise<unknown>): Promise<InvocationTokenError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the call should have rejected').to.be.instanceOf(InvocationTokenError);
  expect(err).to.be.instanceOf(SessionError);
  expect((err as InvocationTokenError).code).to.equal('ERR_INVALID_INVOCATION_TOKEN');
  return err as InvocationTokenError;
}

describe('handleInvocation', () => {
  let emulator: Emulator;

  afterEach(async () => {
    sinon.restore();
    await emulator?.close();
  });

  it('verifies the token, reads installation, apiBaseUrl and context, and remembers the system token, in one call', async () => {
    emulator = await startEmulator();
    const systemTokens = new SystemTokenCache();
    const inv = emulator.forge.signInvocation({ contextAri: SITE, accountId: 'acct-7' });
    const out = await handleInvocation(inv.headers, { appId: emulator.forge.appId, jwksUrl: emulator.jwksUrl, systemTokens });
    expect(out).to.include({
      appId: emulator.forge.appId,
      installationId: inv.installationId,
      apiBaseUrl: inv.apiBaseUrl,
      cloudId: '0d0d0d0d-1111-2222-3333-444444444444',
      principal: 'acct-7',
      invocationId: inv.invocationId,
      systemToken: 'remembered',
    });
    expect(out.apiBaseUrl).to.equal(emulator.productApiUrl('0d0d0d0d-1111-2222-3333-444444444444'));
    expect(out.claims.iss).to.equal('forge/invocation-token');
    const held = await systemTokens.get(inv.installationId);
    expect(held.token).to.equal(inv.systemToken);
    expect(held.apiBaseUrl).to.equal(inv.apiBaseUrl);
    expect(emulator.counts.jwks).to.equal(1);
  });

  it('takes a Fetch Headers, a Node IncomingMessage and a plain object alike; the key set is fetched once', async () => {
    emulator = await startEmulator();
    const options = { appId: emulator.forge.appId, jwksUrl: emulator.jwksUrl };
    const viaHeaders = await handleInvocation(new Headers(emulator.forge.signInvocation().headers), options);
    expect(viaHeaders.systemToken).to.equal('ignored');
    const inv = emulator.forge.signInvocation({ systemToken: false });
    const seen = await new Promise<{ installationId: string; systemToken: string }>((done, fail) => {
      const server = createServer((req: IncomingMessage, res) => {
        const finish = () => {
          res.end();
          server.close();
        };
        handleInvocation(req, options).then(
          (r) => {
            finish();
            done(r);
          },
          (e: unknown) => {
            finish();
            fail(e);
          },
        );
      }).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        httpRequest({ host: '127.0.0.1', port, headers: inv.headers }).end();
      });
    });
    expect(seen).to.include({ installationId: inv.installationId, systemToken: 'absent' });
    const upper = Object.fromEntries(Object.entries(emulator.forge.signInvocation().headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect((await handleInvocation(upper, options)).installationId).to.be.a('string');
    expect(emulator.counts.jwks).to.equal(1);
  });

  it('refuses an expired token with reason "expired" and remembers nothing', async () => {
    const clock = fakeClock();
    emulator = await startEmulator();
    const systemTokens = new SystemTokenCache();
    const inv = emulator.forge.signInvocation({ ttlSeconds: 30 });
    const options = { appId: emulator.forge.appId, jwksUrl: emulator.jwksUrl, systemTokens };
    await clock.tickAsync(36_000); // past exp plus the 5 s tolerance
    const err = await rejection(handleInvocation(inv.headers, options));
    expect(err.reason).to.equal('expired');
    const missing = await systemTokens.get(inv.installationId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((missing as SessionError).code).to.equal('ERR_NO_SYSTEM_TOKEN');
    // The same token is accepted within its lifetime: the test can fail on a clock error, not only on the token.
    const fresh = emulator.forge.signInvocation({ ttlSeconds: 30 });
    expect((await handleInvocation(fresh.headers, options)).systemToken).to.equal('remembered');
  });

  it('refuses a request with two x-forge-invocation-id headers as "malformed", remembering nothing', async () => {
    emulator = await startEmulator();
    const systemTokens = new SystemTokenCache();
    const inv = emulator.forge.signInvocation();
    const options = { appId: emulator.forge.appId, jwksUrl: emulator.jwksUrl, systemTokens };
    const headers = { ...inv.headers, 'x-forge-invocation-id': ['inv-1', 'inv-2'] };
    expect((await rejection(handleInvocation(headers, options))).reason).to.equal('malformed');
    const missing = await systemTokens.get(inv.installationId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((missing as SessionError).code).to.equal('ERR_NO_SYSTEM_TOKEN');
    expect((await handleInvocation(inv.headers, options)).systemToken).to.equal('remembered');
  });

  it('refuses a token for another app, a tampered one, a foreign issuer key, and a missing or malformed header', async () => {
    emulator = await startEmulator();
    const systemTokens = new SystemTokenCache();
    const options = { appId: emulator.forge.appId, jwksUrl: emulator.jwksUrl, systemTokens };
    const other = emulator.forge.signInvocation({ audience: 'ari:cloud:ecosystem::app/someone-else' });
    expect((await rejection(handleInvocation(other.headers, options))).reason).to.equal('audience');
    const good = emulator.forge.signInvocation();
    const [h, p, s] = good.token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.app.installationId = 'ari:cloud:ecosystem::installation/forged';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const tampered = { ...good.headers, authorization: `Bearer ${forged}` };
    expect((await rejection(handleInvocation(tampered, options))).reason).to.equal('signature');
    const foreign = await startEmulator();
    try {
      const fromElsewhere = foreign.forge.signInvocation({ appId: emulator.forge.appId });
      expect((await rejection(handleInvocation(fromElsewhere.headers, options))).reason).to.equal('signature');
    } finally {
      await foreign.close();
    }
    expect((await rejection(handleInvocation({}, options))).reason).to.equal('missing');
    expect((await rejection(handleInvocation({ authorization: 'Basic abc' }, options))).reason).to.equal('malformed');
    expect((await rejection(handleInvocation({ authorization: 'Bearer not.a.jwt' }, options))).reason).to.equal('malformed');
    for (const inv of [other, good]) {
      expect(
        await systemTokens.get(inv.installationId).then(
          () => 'held',
          () => 'none',
        ),
      ).to.equal('none');
    }
  });

  it('reports an unreachable key set as reason "jwks", and the default key set is Forge\'s', async () => {
    emulator = await startEmulator();
    const inv = emulator.forge.signInvocation();
    emulator.inject('jwks', { status: 503 });
    const jwksUrl = `${emulator.url}/.well-known/jwks.json?down`;
    const err = await rejection(handleInvocation(inv.headers, { appId: emulator.forge.appId, jwksUrl }));
    expect(err.reason).to.equal('jwks');
    const { DEFAULT_FORGE_JWKS_URL } = await import('../../lib/defaults.js');
    expect(DEFAULT_FORGE_JWKS_URL).to.equal('https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json');
  });

  it('never puts a token in the error message', async () => {
    emulator = await startEmulator();
    const inv = emulator.forge.signInvocation({ audience: 'someone-else' });
    const err = await rejection(handleInvocation(inv.headers, { appId: emulator.forge.appId, jwksUrl: emulator.jwksUrl }));
    for (const secret of [inv.token, inv.systemToken!]) expect(`${err.message} ${err.stack}`).to.not.include(secret);
  });

  it('importing the package root does not load jose (no module reachable from lib/index.ts imports it statically)', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
        const spec = m[1]!;
        if (/^import\s+type\s/.test(m[0]) || /^export\s+type\s/.test(m[0])) continue;
        if (spec === 'jose') offenders.push(file.slice(root.length + 1));
        if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    visit(join(root, 'index.ts'));
    expect(seen.size, 'the walk reached the library').to.be.greaterThan(20);
    expect(offenders).to.deep.equal([]);
  });
});
