import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { KeyvTokenStore } from '../../lib/store/keyv-token-store.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';
import { pollUntil, runId, unreachable } from './helpers.js';
import { unavailable } from '../support/services.js';

const REDIS_URL = process.env.PERSISTENT_SESSION_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const POSTGRES_URL = process.env.PERSISTENT_SESSION_TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const OPERATION_TIMEOUT_MS = 1_000;

/** A TCP proxy whose open connections can be made to go silent without closing (a half-open connection). */
async function silenceableProxy(target: URL): Promise<{ uri: string; connections: () => number; silence(): void; close(): Promise<void> }> {
  const pairs: Array<[Socket, Socket]> = [];
  const server: Server = createServer((down) => {
    const up = connect(Number(target.port), target.hostname);
    down.on('error', () => {});
    up.on('error', () => {});
    down.pipe(up);
    up.pipe(down);
    pairs.push([down, up]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(target);
  proxied.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    uri: proxied.toString(),
    connections: () => pairs.length,
    silence: () => {
      for (const [down, up] of pairs) {
        down.unpipe(up);
        up.unpipe(down);
      }
    },
    close: async () => {
      for (const [down, up] of pairs) {
        down.destroy();
        up.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('KeyvTokenStore over a connection that goes silent (half-open)', function () {
  this.timeout(20_000);
  for (const [name, url] of [
    ['Redis', REDIS_URL],
    ['Postgres', POSTGRES_URL],
  ] as const) {
    it(`${name}: fails with ERR_TOKEN_STORE, then drops the dead connection and recovers by itself`, async function () {
      const why = await unreachable(url);
      if (why !== undefined) {
        unavailable(this, `${name} half-open test skipped: ${url} is unreachable (${why})`);
      }
      const proxy = await silenceableProxy(new URL(url));
      const store = new KeyvTokenStore(proxy.uri, { namespace: `half-open-${runId()}`, operationTimeoutMS: OPERATION_TIMEOUT_MS });
      try {
        const info = sampleTokenInfo();
        await store.write('k', info);
        const before = proxy.connections();
        proxy.silence();
        const first = await store.read('k').then(
          () => 'resolved',
          (e: unknown) => e,
        );
        expect(first).to.have.property('code', 'ERR_TOKEN_STORE');
        // Recovery needs the dead connection to be noticed (no answer within the operation timeout)
        // and replaced; reads fail with ERR_TOKEN_STORE meanwhile, never with a miss.
        const misses: unknown[] = [];
        const recovered = await pollUntil(
          async () =>
            store.read('k').then(
              (v) => {
                if (v === undefined) misses.push(v);
                return v !== undefined;
              },
              () => false,
            ),
          8_000,
          50,
        );
        expect(recovered).to.equal(true);
        expect(misses).to.deep.equal([]);
        expect(proxy.connections()).to.be.above(before);
        await store.clear('k');
      } finally {
        await store.close();
        await proxy.close();
      }
    });
  }
});
