/**
 * The one table of retry-on-401 cases, run for every client (authorizedFetch, undici request and
 * fetch through the sessionAuth interceptor) and every kind of session (PersistentSession,
 * UserSession view), always against the emulator, with exact request counts.
 */
import { expect } from 'chai';
import type { AuthSession } from '../../lib/fetch/auth-session.js';
import { RETRY_HEADER, RETRY_SKIPPED_NOT_REPLAYABLE } from '../../lib/fetch/auth-session.js';
import type { Emulator, EmulatorEndpoint } from '../../lib/emulator/index.js';
import { SessionError } from '../../lib/errors.js';
import { expectNoSecrets, recordOutput, recordSecret } from '../support/secrets.js';
import { CLIENTS, type Client } from './clients.js';

/** A session under test, with everything the table needs to know about it. */
export interface Fixture {
  emu: Emulator;
  session: AuthSession;
  /** Where GETs go, and the endpoint that counts them. */
  getUrl: string;
  getEndpoint: EmulatorEndpoint;
  /** Where POSTs go (an endpoint that takes any method), and the endpoint that counts them. */
  postUrl: string;
  postEndpoint: EmulatorEndpoint;
  /** Upstream token renewals so far: refreshes or mints. */
  renewals(): number;
  /** A session that cannot get a token at all, and the code its getAccessToken() rejects with. */
  deadSession(): Promise<{ session: AuthSession; code: string }>;
}

/** Records every bearer token the emulator saw, for the suite-wide secret scan. */
export function recordSeenTokens(emu: Emulator): void {
  for (const r of emu.requests()) {
    const auth = r.headers.authorization;
    const m = typeof auth === 'string' ? /^Bearer (.+)$/.exec(auth) : null;
    if (m) recordSecret(m[1]);
  }
}

const bearerOf = (emu: Emulator, endpoint: EmulatorEndpoint, i: number): string => String(emu.requests(endpoint)[i]?.headers.authorization);

/**
 * Runs the table.
 * @param title - the kind of session
 * @param make - builds a fresh fixture (and emulator) per test; the table closes the emulator
 */
export function runTable(title: string, make: () => Promise<Fixture>): void {
  for (const makeClient of CLIENTS) {
    describe(`${title} × ${makeClient().name}`, () => {
      let fx: Fixture;
      let client: Client;
      const count = (e: EmulatorEndpoint) => fx.emu.counts[e as keyof Emulator['counts']];
      /** Makes the emulator refuse the session's current token behind its back. */
      const revokeCurrent = async (): Promise<string> => {
        const token = await fx.session.getAccessToken();
        recordSecret(token);
        fx.emu.revokeToken(token);
        return token;
      };

      beforeEach(async () => {
        fx = await make();
        client = makeClient();
      });
      afterEach(async () => {
        if (fx !== undefined) recordSeenTokens(fx.emu);
        await client?.close();
        await fx?.emu.close();
      });

      it("a valid token: 1 request, with our Authorization replacing the caller's", async () => {
        const res = await client.send(fx.session, fx.getUrl, { headers: { Authorization: 'Bearer caller-supplied-value' } });
        expect(res.status).to.equal(200);
        expect(count(fx.getEndpoint)).to.equal(1);
        expect(fx.renewals()).to.equal(0);
        expect(bearerOf(fx.emu, fx.getEndpoint, 0)).to.equal(`Bearer ${await fx.session.getAccessToken()}`);
      });

      it("a token revoked behind the session's back: 1 renewal, 1 retry, 200", async () => {
        const old = await revokeCurrent();
        const res = await client.send(fx.session, fx.getUrl);
        expect(res.status).to.equal(200);
        expect(fx.renewals()).to.equal(1);
        expect(count(fx.getEndpoint)).to.equal(2);
        expect(bearerOf(fx.emu, fx.getEndpoint, 0)).to.equal(`Bearer ${old}`);
        expect(bearerOf(fx.emu, fx.getEndpoint, 1)).to.not.equal(`Bearer ${old}`);
        expectNoSecrets(res.text);
      });

      it('a 401 that never ends: exactly 2 requests, the caller gets the second 401 as it is', async () => {
        fx.emu.inject(fx.getEndpoint, { status: 401, times: 100 });
        const res = await client.send(fx.session, fx.getUrl);
        expect(res.status).to.equal(401);
        expect(count(fx.getEndpoint)).to.equal(2);
        expect(fx.renewals()).to.equal(1);
        expect(res.header(RETRY_HEADER)).to.equal(undefined);
        expect(JSON.parse(res.text)).to.include({ error: 'invalid_token' });
      });

      it('200 concurrent requests hitting 401 share 1 renewal', async () => {
        await revokeCurrent();
        const results = await Promise.all(Array.from({ length: 200 }, () => client.send(fx.session, fx.getUrl)));
        expect(results.map((r) => r.status)).to.deep.equal(Array(200).fill(200));
        expect(fx.renewals()).to.equal(1);
        expect(count(fx.getEndpoint)).to.equal(400);
      });

      const bodies: Array<[string, () => Call]> = [
        ['a string', () => ({ body: JSON.stringify({ n: 1, s: 'string body' }), headers: { 'content-type': 'application/json' } })],
        [
          'a Buffer',
          () => ({ body: Buffer.from(JSON.stringify({ n: 2, s: 'buffer body' })), headers: { 'content-type': 'application/json' } }),
        ],
        ['URLSearchParams', () => ({ body: new URLSearchParams({ a: '1', b: 'two words', c: 'ü' }) })],
      ];
      for (const [label, call] of bodies) {
        it(`a POST with ${label} body is replayed with the identical body`, async () => {
          await revokeCurrent();
          const res = await client.send(fx.session, fx.postUrl, { method: 'POST', ...call() });
          expect(res.status).to.equal(200);
          const [first, second] = fx.emu.requests(fx.postEndpoint);
          expect(count(fx.postEndpoint)).to.equal(2);
          expect(first!.status).to.equal(401);
          expect(second!.method).to.equal('POST');
          expect(second!.body).to.deep.equal(first!.body);
          expect(Object.keys(first!.body)).to.have.length.greaterThan(0);
          expect(second!.headers['content-type']).to.equal(first!.headers['content-type']);
          expect(fx.renewals()).to.equal(1);
        });
      }

      it('a stream body is not retried: 1 request, the 401 says why, and the next request gets a fresh token', async () => {
        await revokeCurrent();
        const res = await client.send(fx.session, fx.postUrl, {
          method: 'POST',
          body: { stream: ['{"a":', '1}'] },
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status).to.equal(401);
        expect(res.header(RETRY_HEADER)).to.equal(RETRY_SKIPPED_NOT_REPLAYABLE);
        expect(count(fx.postEndpoint)).to.equal(1);
        expect(fx.emu.requests(fx.postEndpoint)[0]!.body).to.deep.equal({ a: 1 });
        // The refused token was still reported: the next request uses a new one, without a 401.
        const before = count(fx.getEndpoint);
        const next = await client.send(fx.session, fx.getUrl);
        expect(next.status).to.equal(200);
        expect(count(fx.getEndpoint) - before).to.equal(1);
        expect(fx.renewals()).to.equal(1);
      });

      it('a 500 is not retried by this layer', async () => {
        fx.emu.inject(fx.getEndpoint, { status: 500 });
        const res = await client.send(fx.session, fx.getUrl);
        expect(res.status).to.equal(500);
        expect(count(fx.getEndpoint)).to.equal(1);
        expect(fx.renewals()).to.equal(0);
      });

      it('a 403 is not retried', async () => {
        fx.emu.inject(fx.getEndpoint, { status: 403, body: { error: 'insufficient_scope' } });
        const res = await client.send(fx.session, fx.getUrl);
        expect(res.status).to.equal(403);
        expect(count(fx.getEndpoint)).to.equal(1);
        expect(fx.renewals()).to.equal(0);
      });

      it('a session that cannot get a token rejects with its own error and sends nothing', async () => {
        const dead = await fx.deadSession();
        let caught: unknown;
        try {
          await client.send(dead.session, fx.getUrl);
        } catch (err) {
          caught = err;
        }
        recordOutput(caught);
        const err = client.unwrap(caught as Error);
        expect(err).to.be.instanceOf(SessionError);
        expect((err as SessionError).code).to.equal(dead.code);
        expect(count(fx.getEndpoint)).to.equal(0);
        expectNoSecrets(caught);
      });
    });
  }
}

type Call = NonNullable<Parameters<Client['send']>[2]>;
