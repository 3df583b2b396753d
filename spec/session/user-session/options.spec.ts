// UserSession's vocabulary: the exchanger is given as `exchanger` (the older `exchange` still works, with
// one DeprecationWarning per process), and the refresh margin as `refreshBufferMS`, as on
// PersistentSession (the older `refreshBufferSeconds` still works).
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DEFAULT_REFRESH_BUFFER_SECONDS, UserSession } from '../../../lib/session/user-session.js';
import { exited, startWorker } from '../../support/processes.js';
import { startForge, userToken, type Forge } from './support.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/deprecated-exchange.ts', import.meta.url));

describe('UserSession: option names', () => {
  let forge: Forge | undefined;
  afterEach(async () => {
    await forge?.emu.close();
    forge = undefined;
  });

  it('`exchange` still works, with one DeprecationWarning PERSISTENT_SESSION_DEP_EXCHANGE per process', async () => {
    const worker = startWorker(FIXTURE, {});
    type Seen = Array<{ name: string; code: string; message: string }>;
    const out = JSON.parse(await worker.nextLine()) as { namespaces: string[]; seen: Seen };
    expect(await exited(worker.child)).to.equal(0);
    expect(out.namespaces).to.deep.equal(['ns', 'ns', 'ns']);
    expect(out.seen).to.have.length(1);
    expect(out.seen[0]).to.include({ name: 'DeprecationWarning', code: 'PERSISTENT_SESSION_DEP_EXCHANGE' });
    expect(out.seen[0]!.message).to.include('`exchanger`');
  });

  /** Mints for alice, then asks again when her token (1 h) has 50 s left by the session's clock. */
  async function mintsWithFiftySecondsLeft(options: Record<string, number>): Promise<number> {
    forge = await startForge();
    let clock = Date.now();
    const users = forge.session({ ...options, now: () => clock });
    await userToken(users, 'alice');
    clock += 3_600_000 - 50_000;
    await userToken(users, 'alice');
    return forge.emu.counts.mint;
  }

  it('the default margin (60 s) mints a token with 50 s left again', async () => {
    expect(DEFAULT_REFRESH_BUFFER_SECONDS).to.equal(60);
    expect(await mintsWithFiftySecondsLeft({})).to.equal(2);
  });

  it('refreshBufferMS and refreshBufferSeconds give the same margin', async () => {
    expect(await mintsWithFiftySecondsLeft({ refreshBufferMS: 40_000 })).to.equal(1);
    await forge!.emu.close();
    expect(await mintsWithFiftySecondsLeft({ refreshBufferSeconds: 40 })).to.equal(1);
    await forge!.emu.close();
    expect(await mintsWithFiftySecondsLeft({ refreshBufferMS: 55_000 })).to.equal(2);
  });

  it('mint() mints even when a fresh token is held; exchangeToken() is the same call', async () => {
    forge = await startForge();
    const users = forge.session();
    const held = await userToken(users, 'alice');
    const minted = await users.mint('alice');
    const exchanged = await users.exchangeToken('alice');
    expect(new Set([held, minted.accessToken, exchanged.accessToken]).size).to.equal(3);
    expect(await users.getAccessToken('alice')).to.equal(exchanged.accessToken);
    expect(forge.emu.counts.mint).to.equal(3);
    const exchanger = forge.exchanger();
    expect(() => new UserSession({ exchanger, exchange: exchanger }))
      .to.throw()
      .with.property('field', 'exchange');
  });
});
