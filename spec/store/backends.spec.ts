import { createServer } from 'node:net';
import { expect } from 'chai';
import { KeyvTokenStore, createTokenStore } from '../../lib/store/keyv-token-store.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';

describe('KeyvTokenStore backend selection', () => {
  it('picks the backend from the URI scheme, connecting to nothing until the first operation', async () => {
    let accepted = 0;
    const server = createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const cases = [
      [`redis://${at}`, 'redis'],
      [`rediss://${at}/2`, 'redis'],
      [`REDIS://${at}`, 'redis'],
      [`postgresql://u@${at}/db`, 'postgres'],
      [`postgres://u@${at}/db`, 'postgres'],
    ] as const;
    for (const [uri, kind] of cases) {
      const store = createTokenStore(uri);
      expect(store.backend, uri).to.equal(kind);
      expect(store.withLock, uri).to.be.a('function');
      await store.close();
    }
    const used = createTokenStore(`redis://${at}`);
    await used.read('k').catch(() => {});
    await used.close();
    await new Promise((resolve) => server.close(resolve));
    expect(accepted).to.equal(1);
    expect(new KeyvTokenStore().backend).to.equal('memory');
  });

  it('rejects an unsupported scheme with ERR_INVALID_ARG_VALUE, quoting the scheme but not the credentials', () => {
    for (const uri of ['mysql://admin:hunter2-secret@db/x', 'no scheme at all']) {
      let err: unknown;
      try {
        createTokenStore(uri);
      } catch (e) {
        err = e;
      }
      expect(err).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
      expect((err as Error).message).not.to.include('hunter2');
    }
  });

  it('rejects a non-string prefix for keys()', async () => {
    const err = await new KeyvTokenStore().keys(42 as unknown as string).catch((e: unknown) => e);
    expect(err).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
  });

  it('rejects operations and locks on a closed store with ERR_TOKEN_STORE, for lazily opened backends too', async () => {
    const store = createTokenStore('redis://127.0.0.1:1');
    await store.close();
    for (const op of [
      () => store.read('k'),
      () => store.write('k', sampleTokenInfo()),
      () => store.keys(),
      () => store.withLock!('k', async () => 'ran'),
    ]) {
      const err = await op().then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(err).to.have.property('code', 'ERR_TOKEN_STORE');
      expect((err as Error).message).to.include('closed');
    }
  });
});
