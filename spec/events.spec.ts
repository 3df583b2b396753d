import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { expect } from 'chai';
import type sinon from 'sinon';
import { authorizedFetch } from '../lib/fetch/authorized-fetch.js';
import type { Emulator } from '../lib/emulator/index.js';
import { ExpiredTokensError, TokenRequestError } from '../lib/errors.js';
import {
  DIAGNOSTICS_CHANNEL_PREFIX,
  PERSISTENT_SESSION_EVENT_NAMES,
  SESSION_EVENT_NAMES,
  USER_SESSION_EVENT_NAMES,
  diagnosticsChannel,
  type SessionEvent,
  type SessionEventName,
} from '../lib/events.js';
import { forgeRemoteExchanger } from '../lib/forge/forge-remote-exchanger.js';
import type { PersistentSession } from '../lib/session/persistent-session.js';
import { UserSession } from '../lib/session/user-session.js';
import { recordSeenTokens } from './fetch/table.js';
import { useFakeClock, waitFor } from './support/clock.js';
import { emulator, seed, sessionFor, token } from './support/oauth.js';
import { expectNoSecrets, recordSecret, rejection } from './support/secrets.js';

const KEY = 'events-key';
const HOUR = 3_600_000;

describe('session events', () => {
  let emu: Emulator;
  let session: PersistentSession;
  /** Everything published on the diagnostics channels, in order. */
  let published: Array<{ channel: string; message: SessionEvent }>;
  /** Everything emitted on the session's EventEmitter, in order. */
  let emitted: SessionEvent[];
  const listeners = new Map<string, (message: unknown, name: string | symbol) => void>();
  const of = (type: SessionEventName) => published.filter((p) => p.message.type === type).map((p) => p.message);

  beforeEach(async () => {
    emu = await emulator();
    published = [];
    emitted = [];
    for (const name of SESSION_EVENT_NAMES) {
      const fn = (message: unknown, channel: string | symbol) => {
        published.push({ channel: String(channel), message: message as SessionEvent });
      };
      listeners.set(name, fn);
      subscribe(`${DIAGNOSTICS_CHANNEL_PREFIX}${name}`, fn);
    }
    session = sessionFor(emu, { tokenInfo: seed(emu, { scope: 'read write' }).tokenInfo, key: KEY });
    for (const name of PERSISTENT_SESSION_EVENT_NAMES)
      session.on(name, (e: SessionEvent) => {
        emitted.push(e);
      });
  });

  afterEach(async () => {
    for (const [name, fn] of listeners) unsubscribe(`${DIAGNOSTICS_CHANNEL_PREFIX}${name}`, fn);
    listeners.clear();
    recordSeenTokens(emu);
    // Refresh tokens travel in form bodies, not in Authorization headers.
    for (const r of emu.requests('token')) recordSecret(...['refresh_token', 'subject_token'].map((f) => r.body[f] as string | undefined));
    for (const f of emu.families()) recordSecret(f.currentRefreshToken);
    // No payload, in any form a logger or tracer would use, carries a token.
    for (const { message } of published) {
      expectNoSecrets(JSON.stringify(message));
      expectNoSecrets(inspect(message, { depth: 10, showHidden: true }));
    }
    await emu.close();
  });

  it('names one channel per event type, persistent-session:<type>', () => {
    expect(SESSION_EVENT_NAMES).to.have.members([
      'refresh',
      'refreshError',
      'grantDead',
      'exchange',
      'revoke',
      'expired',
      'mint',
      'mintError',
    ]);
    for (const name of SESSION_EVENT_NAMES) expect(diagnosticsChannel(name).name).to.equal(`persistent-session:${name}`);
  });

  it('each session class has its own event names, together all of them', () => {
    expect(PERSISTENT_SESSION_EVENT_NAMES).to.have.members(['refresh', 'refreshError', 'grantDead', 'exchange', 'revoke', 'expired']);
    expect(USER_SESSION_EVENT_NAMES).to.have.members(['mint', 'mintError', 'revoke', 'expired']);
    expect(new Set([...PERSISTENT_SESSION_EVENT_NAMES, ...USER_SESSION_EVENT_NAMES])).to.deep.equal(new Set(SESSION_EVENT_NAMES));
    // Listening for an event the class never emits does not type-check (checked by `npm run typecheck`).
    const users = new UserSession({
      exchanger: {
        exchange: async () => {
          throw new Error('not called');
        },
        describe: () => 'ns',
      },
    });
    // @ts-expect-error a PersistentSession never mints
    session.on('mint', () => {});
    // @ts-expect-error a UserSession never refreshes
    users.on('refreshError', () => {});
  });

  it('N forced refreshes publish N refresh messages with the key, on the channel and on the emitter alike', async () => {
    const N = 5;
    const tokens: string[] = [];
    for (let i = 0; i < N; i++) tokens.push(await token(session, { forceRefresh: true }));
    expect(emu.counts.refresh).to.equal(N);
    const refreshes = of('refresh');
    expect(refreshes).to.have.length(N);
    expect(published.filter((p) => p.message.type === 'refresh').every((p) => p.channel === 'persistent-session:refresh')).to.equal(true);
    for (const e of refreshes) {
      expect(e).to.include({ type: 'refresh', key: KEY, source: 'server', rotated: true });
      expect((e as { durationMS: number }).durationMS).to.be.at.least(0);
      expect((e as { expiresAtMS: number }).expiresAtMS).to.be.greaterThan(e.atMS);
    }
    // The emitter gets the very same objects, in the same order.
    expect(emitted).to.have.length(published.length);
    for (const [i, e] of emitted.entries()) expect(e).to.equal(published[i]!.message);
  });

  it('a refused refresh publishes refreshError with the code and status', async () => {
    const dead = seed(emu, { expired: true });
    emu.revokeToken(dead.issued.refreshToken);
    const s = sessionFor(emu, { tokenInfo: dead.tokenInfo, key: 'dead-key' });
    await rejection(s.getAccessToken());
    const errors = of('refreshError');
    expect(errors).to.have.length(1);
    expect(errors[0]).to.include({ type: 'refreshError', key: 'dead-key', code: 'ERR_EXPIRED_TOKENS', status: 400 });
  });

  it('token exchange publishes exchange with the outcome, success and failure', async () => {
    recordSecret((await session.exchangeToken(['read'], 'https://api.example')).accessToken);
    await rejection(session.exchangeToken('admin'));
    expect(of('exchange')).to.deep.equal([
      { type: 'exchange', key: KEY, atMS: of('exchange')[0]!.atMS, outcome: 'ok', scope: 'read', resource: 'https://api.example' },
      { type: 'exchange', key: KEY, atMS: of('exchange')[1]!.atMS, outcome: 'ERR_TOKEN_REQUEST', scope: 'admin' },
    ]);
  });

  it('revocation publishes revoke', async () => {
    await token(session);
    await session.revokeTokens();
    expect(of('revoke')).to.have.length(1);
    expect(of('revoke')[0]).to.include({ type: 'revoke', key: KEY, sentToServer: true });
  });

  it('handleExpiredTokensError publishes expired with what was cleared', async () => {
    await session.handleExpiredTokensError(new TokenRequestError('Token refresh failed: 503', { status: 503, transient: true }));
    await session.handleExpiredTokensError(new ExpiredTokensError('refused', { status: 401 }));
    await session.handleExpiredTokensError(new ExpiredTokensError('dead grant', { status: 400, error: 'invalid_grant' }));
    expect(of('expired').map((e) => (e as { cleared: string }).cleared)).to.deep.equal(['none', 'access', 'all']);
    expect(of('expired').every((e) => e.key === KEY)).to.equal(true);
  });

  it('a 401 through authorizedFetch publishes expired (access) and then one refresh', async () => {
    emu.revokeToken(await token(session));
    const res = await authorizedFetch(session, emu.resourceUrl);
    expect(res.status).to.equal(200);
    expect(published.map((p) => p.message.type)).to.deep.equal(['expired', 'refresh']);
    expect(of('expired')[0]).to.include({ cleared: 'access', reason: 'ERR_EXPIRED_TOKENS' });
  });

  describe('automatic refreshes (lesson 15)', () => {
    const AUTO = 'auto-key';
    let clock: sinon.SinonFakeTimers | undefined;
    afterEach(() => {
      clock?.restore();
      clock = undefined;
    });

    /** A session of its own over a fresh 1 h token, and the refresh events its EventEmitter emits. */
    const autoSession = (options: { refreshAheadRatio?: number } = {}) => {
      const { tokenInfo } = seed(emu, { ttlSeconds: 3600 });
      const s = sessionFor(emu, { tokenInfo, key: AUTO, ...options });
      const onEmitter: SessionEvent[] = [];
      s.on('refresh', (e) => {
        onEmitter.push(e);
      });
      return { s, tokenInfo, onEmitter };
    };
    const onChannel = () => of('refresh').filter((e) => e.key === AUTO);

    it('a refresh caused by expiry (no 401, no force) publishes exactly one refresh, source server', async () => {
      clock = useFakeClock();
      const { s, tokenInfo, onEmitter } = autoSession({ refreshAheadRatio: 0 });
      expect(await token(s)).to.equal(tokenInfo.accessToken);
      await clock.tickAsync(HOUR + 1_000);
      const next = await Promise.all(Array.from({ length: 10 }, () => token(s)));
      expect(new Set(next).size).to.equal(1);
      expect(next[0]).to.not.equal(tokenInfo.accessToken);
      expect(emu.counts).to.include({ refresh: 1, unauthorized: 0 });
      expect(onChannel()).to.have.length(1);
      expect(onChannel()[0]).to.include({ type: 'refresh', key: AUTO, source: 'server', rotated: true });
      expect(onEmitter).to.have.length(1);
      expect(onEmitter[0]).to.equal(onChannel()[0]);
    });

    it('a background refresh ahead (soft window) publishes exactly one refresh, source server', async () => {
      clock = useFakeClock();
      const { s, tokenInfo, onEmitter } = autoSession(); // refreshAheadRatio 0.25: the soft window is the last 15 minutes
      expect(await token(s)).to.equal(tokenInfo.accessToken);
      await clock.tickAsync(0.8 * HOUR);
      expect(await token(s)).to.equal(tokenInfo.accessToken); // served at once; the refresh runs in the background
      await waitFor(() => onChannel().length > 0, 'the background refresh');
      for (let i = 0; i < 20; i++) expect(await token(s)).to.not.equal(tokenInfo.accessToken);
      expect(emu.counts).to.include({ refresh: 1, unauthorized: 0 });
      expect(onChannel()).to.have.length(1);
      expect(onChannel()[0]).to.include({ type: 'refresh', key: AUTO, source: 'server', rotated: true });
      expect(onEmitter).to.have.length(1);
      expect(onEmitter[0]).to.equal(onChannel()[0]);
    });
  });

  it('a UserSession publishes mint per minted user token', async () => {
    const contextAri = 'ari:cloud:jira::site/cloud-events';
    const systemToken = emu.forge.issueSystemToken({ contextAri });
    recordSecret(systemToken);
    const users = new UserSession({ exchanger: forgeRemoteExchanger({ systemToken, contextAri, gatewayUrl: emu.graphqlUrl }) });
    const mints: SessionEvent[] = [];
    users.on('mint', (e) => {
      mints.push(e);
    });
    recordSecret(await users.getAccessToken('acc-1'), await users.getAccessToken('acc-2'), await users.getAccessToken('acc-1'));
    expect(emu.counts.mint).to.equal(2);
    expect(of('mint').map((e) => (e as { accountId: string }).accountId)).to.deep.equal(['acc-1', 'acc-2']);
    expect(of('mint')[0]).to.include({ type: 'mint', source: 'server' });
    expect(mints).to.deep.equal(of('mint'));
  });

  it('a refused mint publishes mintError (not refreshError) with the account, code and status', async () => {
    const contextAri = 'ari:cloud:jira::site/cloud-events';
    const systemToken = emu.forge.issueSystemToken({ contextAri, users: ['acc-1'] });
    recordSecret(systemToken);
    const users = new UserSession({ exchanger: forgeRemoteExchanger({ systemToken, contextAri, gatewayUrl: emu.graphqlUrl }) });
    const emittedErrors: SessionEvent[] = [];
    users.on('mintError', (e) => {
      emittedErrors.push(e);
    });
    await rejection(users.getAccessToken('mallory'));
    expect(of('refreshError')).to.have.length(0);
    expect(of('mintError')).to.have.length(1);
    expect(of('mintError')[0]).to.include({
      type: 'mintError',
      accountId: 'mallory',
      namespace: users.namespace,
      key: `${users.namespace}:mallory`,
      code: 'ERR_IMPERSONATION',
    });
    expect(emittedErrors).to.deep.equal(of('mintError'));
  });
});
