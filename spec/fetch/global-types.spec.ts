// authorizedFetch speaks the global fetch types: a caller who knows nothing of undici passes the
// global `RequestInit`, `Request` and `URL`, and assigns the result to the global `Response`. The
// type checks below are compiled by `npm run typecheck` (tsconfig.json includes spec/); the
// runtime checks send the same calls to the emulator.
import { expect } from 'chai';
import { Agent } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import { authorizedFetch, type AuthSession } from '../../lib/fetch/authorized-fetch.js';
import type { PersistentSession } from '../../lib/session/persistent-session.js';
import { emulator, seed, sessionFor } from '../support/oauth.js';
import { recordSeenTokens } from './table.js';

/** True only when A and B are the same type (each assignable to the other, no `any`). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// The signature itself: global types in, the global Response out.
const resolvesToGlobalResponse: Equal<Awaited<ReturnType<typeof authorizedFetch>>, Response> = true;
/** True when every A is a B. */
type Accepts<A, B> = [A] extends [B] ? true : false;
const takesGlobalInput: Accepts<string | URL | Request, Parameters<typeof authorizedFetch>[1]> = true;

/** What a user's code looks like: only global types, no undici import. */
async function userCode(session: AuthSession, url: string): Promise<{ status: number; body: unknown }> {
  const init: RequestInit = { method: 'GET', headers: new Headers({ accept: 'application/json' }), signal: AbortSignal.timeout(10_000) };
  const byUrl: Response = await authorizedFetch(session, new URL(url), init);
  const request: Request = new Request(url, init);
  const byRequest: Response = await authorizedFetch(session, request);
  return { status: byUrl.status + byRequest.status, body: await byRequest.json() };
}

describe('authorizedFetch: the global fetch types', () => {
  let emu: Emulator;
  let session: PersistentSession;
  beforeEach(async () => {
    emu = await emulator();
    session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo });
  });
  afterEach(async () => {
    recordSeenTokens(emu);
    await emu.close();
  });

  it('takes the global RequestInit, Request and URL, and resolves to a Response with the Fetch members', async () => {
    expect([resolvesToGlobalResponse, takesGlobalInput]).to.deep.equal([true, true]);
    const { status, body } = await userCode(session, emu.resourceUrl);
    expect(status).to.equal(400); // two 200s
    expect(body).to.be.an('object');
    expect(emu.counts.resource).to.equal(2);
  });

  it('still takes an undici Agent as dispatcher', async () => {
    const agent = new Agent();
    try {
      const res: Response = await authorizedFetch(session, emu.resourceUrl, { dispatcher: agent });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/json/);
      await res.arrayBuffer();
    } finally {
      await agent.close();
    }
  });
});
