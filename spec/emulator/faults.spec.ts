import { expect } from 'chai';
import sinon from 'sinon';
import { startEmulator, type Emulator } from '../../lib/emulator/index.js';
import { BASIC, fakeClock, getResource, refresh, send } from './support.js';

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('emulator: injected faults', () => {
  let emulator: Emulator;

  afterEach(async () => {
    await emulator?.close();
    sinon.restore();
  });

  it('answers a status fault with Retry-After and still counts the request', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.inject('token', { status: 503, retryAfter: 7 });
    const res = await refresh(emulator, issued.refreshToken);
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('7');
    expect(res.body).to.deep.equal({ error: 'temporarily_unavailable' });
    expect(emulator.counts).to.include({ token: 1, refresh: 1 });
    // The fault replaced handling: nothing rotated.
    expect(emulator.tokenState(issued.refreshToken)).to.equal('active');
    expect(emulator.lastRequest('token')?.status).to.equal(503);
    expect((await refresh(emulator, issued.refreshToken)).status).to.equal(200);
  });

  it('consumes faults in FIFO order, honouring times and custom bodies', async () => {
    emulator = await startEmulator();
    emulator.inject(
      'resource',
      { status: 429, times: 2, retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT' },
      { status: 500, body: { oops: true } },
    );
    const first = await getResource(emulator);
    const second = await getResource(emulator);
    const third = await getResource(emulator);
    const fourth = await getResource(emulator);
    expect([first.status, second.status, third.status, fourth.status]).to.deep.equal([429, 429, 500, 401]);
    expect(first.body).to.deep.equal({ error: 'rate_limited' });
    expect(second.headers.get('retry-after')).to.equal('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(third.body).to.deep.equal({ oops: true });
    expect(emulator.counts.resource).to.equal(4);
    expect(emulator.counts.unauthorized).to.equal(1);
  });

  it('resets the socket without answering and logs status 0', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.inject('token', { reset: true });
    const error = await failure(refresh(emulator, issued.refreshToken));
    expect(error).to.be.instanceOf(TypeError);
    expect(emulator.lastRequest('token')?.status).to.equal(0);
    expect(emulator.counts.refresh).to.equal(1);
  });

  it('hangs until the client gives up, and close() still returns', async () => {
    emulator = await startEmulator();
    emulator.inject('resource', { hang: true, times: 2 });
    const error = await failure(send(emulator.resourceUrl, { signal: AbortSignal.timeout(150) }));
    expect(error.name).to.equal('TimeoutError');
    const pending = send(emulator.resourceUrl).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await emulator.close();
    expect(Date.now() - started).to.be.below(1000);
    expect(await pending).to.equal('failed');
    expect(emulator.requests('resource').map((entry) => entry.status)).to.deep.equal([0, 0]);
  });

  it('sends a truncated JSON body with malformed', async () => {
    emulator = await startEmulator();
    emulator.inject('token', { malformed: true });
    const res = await fetch(emulator.tokenEndpoint, { method: 'POST', headers: { authorization: BASIC } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json');
    expect((await failure(res.json())).name).to.equal('SyntaxError');
  });

  it('patches the real answer after handling it: the refresh token rotates, the answer is malformed', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.inject('token', { patch: { expires_in: 'abc', access_token: undefined } });
    const res = await refresh(emulator, issued.refreshToken);
    expect(res.status).to.equal(200);
    const body = res.body as Record<string, unknown>;
    expect(body).to.not.have.property('access_token');
    expect(body).to.include({
      expires_in: 'abc',
      token_type: 'Bearer',
      refresh_token: emulator.family(issued.familyId)!.currentRefreshToken,
    });
    expect(emulator.tokenState(issued.refreshToken)).to.equal('rotated');
    expect(res.headers.get('cache-control')).to.equal('no-store');
  });

  it('truncates the (patched) real answer', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.inject('token', { patch: { scope: undefined }, truncate: 1 });
    const res = await refresh(emulator, issued.refreshToken);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json');
    expect(res.body).to.equal(undefined);
    expect(res.text).to.match(/"refresh_token":"[^"]+"$/);
    expect(emulator.tokenState(issued.refreshToken)).to.equal('rotated');
  });

  it('delays with the global setTimeout, so fake timers drive it', async () => {
    const clock = fakeClock();
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.inject('resource', { delayMS: 5_000 });
    let settled = false;
    const pending = getResource(emulator, issued.accessToken).then((res) => {
      settled = true;
      return res;
    });
    // Wait (on real I/O) until the request has arrived and its delay timer is set.
    while (emulator.requests('resource').length === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.tickAsync(4_999);
    for (let i = 0; i < 100; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).to.equal(false);
    expect(emulator.lastRequest('resource')?.status).to.equal(0);
    await clock.tickAsync(1);
    const res = await pending;
    expect(res.status).to.equal(200);
  });

  it('can lose the answer after handling (afterHandling), so the rotation happened', async () => {
    emulator = await startEmulator();
    const issued = emulator.issueTokens();
    emulator.inject('token', { reset: true, afterHandling: true });
    await failure(refresh(emulator, issued.refreshToken));
    expect(emulator.tokenState(issued.refreshToken)).to.equal('rotated');
    expect(emulator.family(issued.familyId)?.refreshCount).to.equal(1);
  });

  it('clearFaults drops queued faults', async () => {
    emulator = await startEmulator();
    emulator.inject('resource', { status: 503, times: 5 });
    emulator.clearFaults();
    expect((await getResource(emulator)).status).to.equal(401);
  });

  it('validates faults', async () => {
    emulator = await startEmulator();
    expect(() => emulator.inject('resource', { status: 42 })).to.throw(TypeError, '`faults[0].status`');
    expect(() => emulator.inject('resource', { times: 0 })).to.throw(TypeError, '`faults[0].times`');
    expect(() => emulator.inject('resource', { hang: true, reset: true })).to.throw(TypeError, 'combines');
    expect(() => emulator.inject('token', { status: 500, patch: {} })).to.throw(TypeError, 'combines');
    expect(() => emulator.inject('token', { patch: [] as never })).to.throw(TypeError, '`faults[0].patch`');
    expect(() => emulator.inject('token', { truncate: 0 })).to.throw(TypeError, '`faults[0].truncate`');
    expect(() => emulator.inject('nope' as 'token', {})).to.throw(TypeError, '`endpoint`');
  });
});

describe('emulator: random faults', () => {
  let emulator: Emulator;
  let other: Emulator | undefined;

  afterEach(async () => {
    await emulator?.close();
    await other?.close();
    other = undefined;
    sinon.restore();
  });

  async function statuses(target: Emulator, n: number): Promise<number[]> {
    const result: number[] = [];
    for (let i = 0; i < n; i += 1) {
      try {
        result.push((await getResource(target)).status);
      } catch {
        result.push(0);
      }
    }
    return result;
  }

  it('is reproducible from its seed and mixes kinds at the given rate', async () => {
    emulator = await startEmulator();
    other = await startEmulator();
    const settings = { rate: 0.5, kinds: ['5xx', '429', 'reset'] as Array<'5xx' | '429' | 'reset'>, seed: 42 };
    emulator.setRandomFaults('*', settings);
    other.setRandomFaults('resource', settings);
    const first = await statuses(emulator, 40);
    const second = await statuses(other, 40);
    expect(first).to.deep.equal(second);
    const faulted = first.filter((status) => status !== 401).length;
    expect(faulted).to.be.within(8, 32);
    expect(first.some((status) => status >= 500)).to.equal(true);
    expect(first).to.include(429);
  });

  it('answers a random hang with 503 after hangMS, 401 with a Bearer challenge, and can be turned off', async () => {
    emulator = await startEmulator();
    emulator.setRandomFaults('resource', { rate: 1, kinds: ['hang'], hangMS: 20 });
    const hung = await getResource(emulator);
    expect(hung.status).to.equal(503);
    emulator.setRandomFaults('resource', { rate: 1, kinds: ['401'] });
    const denied = await getResource(emulator);
    expect(denied.headers.get('www-authenticate')).to.match(/error="invalid_token"/);
    expect(emulator.counts.unauthorized).to.equal(0);
    emulator.setRandomFaults('resource', undefined);
    expect((await getResource(emulator)).body.error).to.equal('unauthorized');
    expect(() => emulator.setRandomFaults('*', { rate: 2, kinds: ['5xx'] })).to.throw(TypeError, '`rate`');
    expect(() => emulator.setRandomFaults('*', { rate: 1, kinds: [] })).to.throw(TypeError, '`kinds`');
  });
});
