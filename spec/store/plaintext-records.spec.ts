// An encrypted store reads plaintext records as absent (UNENCRYPTED_RECORD), so that whoever can
// write to the backend cannot plant tokens, unless `allowPlaintextRecords` is set for a migration;
// misspelt options (`encryptionkey`) are refused rather than silently storing plaintext.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import Keyv from 'keyv';
import sinon from 'sinon';
import { KeyvTokenStore, createTokenStore, type StoreWarning } from '../../lib/store/keyv-token-store.js';
import { sampleTokenInfo } from '../support/token-store-suite.js';

describe('KeyvTokenStore: plaintext records and unknown options', () => {
  const key = randomBytes(32);
  /** A plain and an encrypted store over one Keyv Map, namespace `ns`. */
  const pair = (allowPlaintextRecords?: boolean) => {
    const map = new Map<unknown, unknown>();
    const warnings: StoreWarning[] = [];
    const plain = new KeyvTokenStore(new Keyv({ store: map, namespace: 'ns' }));
    const encrypted = new KeyvTokenStore(new Keyv({ store: map, namespace: 'ns' }), {
      encryptionKey: key,
      onWarning: (w) => warnings.push(w),
      ...(allowPlaintextRecords === undefined ? {} : { allowPlaintextRecords }),
    });
    return { map, plain, encrypted, warnings };
  };

  it('an encrypted store reads a plaintext record as absent and warns UNENCRYPTED_RECORD, by default', async () => {
    const { plain, encrypted, warnings } = pair();
    const info = sampleTokenInfo();
    await plain.write('k', info);
    expect(await encrypted.read('k')).to.equal(undefined);
    expect(warnings.map((w) => [w.code, w.key])).to.deep.equal([['UNENCRYPTED_RECORD', 'k']]);
    expect(warnings[0]!.message).to.include('allowPlaintextRecords');
    expect(warnings[0]!.message).not.to.include(info.accessToken);
    expect(warnings[0]!.message).not.to.include(info.refreshToken!);
  });

  it('goes to process.emitWarning with code PERSISTENT_SESSION_UNENCRYPTED_RECORD when no handler is given', async () => {
    const map = new Map<unknown, unknown>();
    await new KeyvTokenStore(new Keyv({ store: map, namespace: 'ns' })).write('k', sampleTokenInfo());
    const encrypted = new KeyvTokenStore(new Keyv({ store: map, namespace: 'ns' }), { encryptionKey: key });
    const warn = sinon.stub(process, 'emitWarning');
    expect(await encrypted.read('k')).to.equal(undefined);
    warn.restore();
    expect(warn.getCalls().map((c) => (c.args[1] as { code?: string } | undefined)?.code)).to.deep.equal([
      'PERSISTENT_SESSION_UNENCRYPTED_RECORD',
    ]);
  });

  it('with allowPlaintextRecords: true, reads it (migration) and encrypts it on the next write', async () => {
    const { map, plain, encrypted, warnings } = pair(true);
    const info = sampleTokenInfo();
    await plain.write('k', info);
    expect({ ...(await encrypted.read('k')) }).to.deep.equal(info);
    expect(warnings).to.deep.equal([]);
    await encrypted.write('k', info);
    const stored = String(map.get('ns:k'));
    expect(stored).to.include('aes-256-gcm');
    expect(stored).not.to.include(info.accessToken);
  });

  it('allowPlaintextRecords changes nothing without an encryptionKey, and must be a boolean', async () => {
    const map = new Map<unknown, unknown>();
    const store = new KeyvTokenStore(new Keyv({ store: map, namespace: 'ns' }), { allowPlaintextRecords: false });
    const info = sampleTokenInfo();
    await store.write('k', info);
    expect({ ...(await store.read('k')) }).to.deep.equal(info);
    let caught: unknown;
    try {
      new KeyvTokenStore(undefined, { allowPlaintextRecords: 'yes' as unknown as boolean });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
    expect(caught).to.have.property('field', 'allowPlaintextRecords');
  });

  it('refuses unknown options, naming them: `encryptionkey` never silently means plaintext', () => {
    for (const make of [
      () => new KeyvTokenStore(undefined, { encryptionkey: key } as never),
      () => createTokenStore(undefined, { encryptionkey: key } as never),
    ]) {
      let caught: unknown;
      try {
        make();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.have.property('code', 'ERR_INVALID_ARG_VALUE');
      expect(caught).to.have.property('field', 'options.encryptionkey');
      expect((caught as Error).message).to.include('`encryptionKey`');
    }
  });
});
