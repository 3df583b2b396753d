// sessionAuth as an undici handler: the caller's abort during the 401 retry, a throwing downstream
// handler, the context and raw headers it receives, and an abort given without a reason.
import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import type { Emulator } from '../../lib/emulator/index.js';
import type { AuthSession } from '../../lib/fetch/auth-session.js';
import { sessionAuth } from '../../lib/fetch/session-auth.js';
import type { PersistentSession } from '../../lib/session/persistent-session.js';
import { advanceUntil, settle, useFakeClock, waitFor } from '../support/clock.js';
import { emulator, seed, sessionFor, token } from '../support/oauth.js';
import { deferred } from './support.js';
import { recordSeenTokens } from './table.js';

type Controller = Dispatcher.DispatchController;

/** A plain server on 127.0.0.1: `/start` redirects to `/end` (same origin); `/end` answers a gzip body. */
async function plainServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/start') {
      res.writeHead(302, { location: '/end', 'content-length': '0' }).end();
      return;
    }
    const body = gzipSync('hello');
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(body.length), 'x-raw': 'yes' }).end(body);
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** A few turns of the event loop: enough for an unhandled rejection to be reported. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++)
    await new Promise<void>((r) => {
      setImmediate(r);
    });
}

describe('sessionAuth handler details', () => {
  let emu: Emulator;
  let session: PersistentSession;
  let dispatchers: Dispatcher[];
  beforeEach(async () => {
    emu = await emulator();
    session = sessionFor(emu, { tokenInfo: seed(emu).tokenInfo, retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 15_000 } });
    dispatchers = [];
  });
  afterEach(async () => {
    recordSeenTokens(emu);
    await Promise.all(dispatchers.map((d) => d.close()));
    await emu.close();
  });
  const compose = (...interceptorsList: Dispatcher.DispatcherComposeInterceptor[]) => {
    const d = new Agent().compose(...interceptorsList);
    dispatchers.push(d);
    return d;
  };

  // The first answer is a 401; then the fresh token (or the report of the refused one) takes 3 s of fake time.
  const slowAfter401: Array<[string, (s: PersistentSession) => AuthSession]> = [
    [
      'the fresh token',
      (s) => {
        emu.inject('token', { delayMS: 3_000 });
        return s;
      },
    ],
    [
      'the report of the refused token',
      (s) => ({
        getAccessToken: () => s.getAccessToken(),
        handleExpiredTokensError: async (err: Error) => {
          await new Promise<void>((r) => {
            setTimeout(r, 3_000);
          });
          return s.handleExpiredTokensError(err);
        },
      }),
    ],
  ];
  for (const [what, slow] of slowAfter401) {
    it(`an abort while waiting for ${what} after a 401 rejects at once, and sends nothing more`, async () => {
      emu.revokeToken(await token(session));
      const dispatcher = compose(sessionAuth(slow(session)));
      const clock = useFakeClock(Date.now());
      try {
        const started = Date.now();
        const controller = new AbortController();
        const reason = new Error('the caller gave up');
        setTimeout(() => controller.abort(reason), 300);
        const pending = settle(request(emu.resourceUrl, { dispatcher, signal: controller.signal }));
        const at = await advanceUntil(clock, pending.done, 5_000, 50);
        expect(at, 'the aborted request settled').to.not.equal(undefined);
        expect(at! - started).to.be.below(1_000);
        expect(await pending.result).to.deep.equal({ ok: false, error: reason });
        // What it waited on finishes for the others; the aborted request is not sent again.
        await advanceUntil(clock, () => false, 4_000, 250);
        expect(emu.counts.resource).to.equal(1);
      } finally {
        clock.restore();
      }
    });
  }

  it('a downstream handler that throws reaches its onResponseError, and nothing escapes as an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => {
      unhandled.push(err);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const dispatcher = compose(sessionAuth(session));
      for (const alsoThrows of [false, true]) {
        const seen: Error[] = [];
        const boom = new Error('handler broke');
        dispatcher.dispatch(
          { origin: emu.url, path: '/api/resource', method: 'GET' },
          {
            onRequestStart() {
              throw boom;
            },
            onResponseError(_c: Controller, err: Error) {
              seen.push(err);
              if (alsoThrows) throw new Error('and broke again');
            },
          },
        );
        await waitFor(() => seen.length > 0, 'onResponseError');
        await turns();
        expect(seen).to.deep.equal([boom]);
      }
      expect(unhandled).to.deep.equal([]);
      expect(emu.counts.resource).to.equal(0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it("keeps the context of the dispatcher below (a redirect interceptor's history)", async () => {
    const { server, url } = await plainServer();
    try {
      const dispatcher = compose(interceptors.redirect({ maxRedirections: 2 }), sessionAuth(session));
      const res = await request(`${url}/start`, { dispatcher });
      expect(await res.body.arrayBuffer())
        .to.have.property('byteLength')
        .above(0);
      expect(res.statusCode).to.equal(200);
      const history = (res.context as { history?: URL[] }).history;
      expect(history?.map(String)).to.deep.equal([`${url}/start`, `${url}/end`]);
    } finally {
      server.close();
    }
  });

  it('exposes the raw response headers of the attempt on its controller (the decompress interceptor rewrites them)', async () => {
    const { server, url } = await plainServer();
    try {
      const dispatcher = compose(sessionAuth(session), interceptors.decompress());
      const raw: string[][] = [];
      const chunks: Buffer[] = [];
      let ended = false;
      const failures: Error[] = [];
      dispatcher.dispatch(
        { origin: url, path: '/end', method: 'GET' },
        {
          onRequestStart() {
            /* a handler of the controller API: it has this method */
          },
          onResponseStart(controller: Controller) {
            const headers = controller.rawHeaders;
            raw.push(Array.isArray(headers) ? headers.filter((_, i) => i % 2 === 0).map((h) => String(h).toLowerCase()) : ['not an array']);
          },
          onResponseData(_c: Controller, chunk: Buffer) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            ended = true;
          },
          onResponseError(_c: Controller, err: Error) {
            failures.push(err);
          },
        },
      );
      await waitFor(() => ended || failures.length > 0, 'the response');
      expect(failures).to.deep.equal([]);
      expect(Buffer.concat(chunks).toString()).to.equal('hello');
      expect(raw).to.have.length(1);
      expect(raw[0]).to.include('x-raw');
      expect(raw[0]).to.not.include('content-encoding');
    } finally {
      server.close();
    }
  });

  it('an abort without a reason while the body is being read is an abort: the request is not sent', async () => {
    const dispatcher = compose(sessionAuth(session));
    const release = deferred<void>();
    let reading = false;
    const body = (async function* () {
      reading = true;
      await release.promise;
      yield Buffer.from('{}');
    })();
    let controller: Controller | undefined;
    const errors: Error[] = [];
    let ended = false;
    const headers = { 'content-length': '2' };
    const opts = { origin: emu.url, path: '/api/resource', method: 'POST' as const, body: body as never, headers };
    dispatcher.dispatch(opts, {
      onRequestStart(c: Controller) {
        controller = c;
      },
      onResponseEnd() {
        ended = true;
      },
      onResponseError(_c: Controller, err: Error) {
        errors.push(err);
      },
    });
    await waitFor(() => reading, 'the body read');
    (controller!.abort as (reason?: Error) => void)();
    expect(controller!.aborted).to.equal(true);
    release.resolve();
    await waitFor(() => errors.length > 0 || ended, 'the outcome');
    expect(ended).to.equal(false);
    expect(errors).to.have.length(1);
    expect(errors[0]!.name).to.equal('AbortError');
    expect(emu.counts.resource).to.equal(0);
  });
});
