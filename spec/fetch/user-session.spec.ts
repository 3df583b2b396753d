import type { Emulator } from '../../lib/emulator/index.js';
import { forgeRemoteExchanger } from '../../lib/forge/forge-remote-exchanger.js';
import { UserSession } from '../../lib/session/user-session.js';
import { emulator } from '../support/oauth.js';
import { recordSecret } from '../support/secrets.js';
import { runTable } from './table.js';

const CLOUD_ID = 'cloud-af';
const CONTEXT_ARI = `ari:cloud:jira::site/${CLOUD_ID}`;

function usersFor(emu: Emulator, allowed: string[] | '*' = '*'): UserSession {
  const systemToken = emu.forge.issueSystemToken({ contextAri: CONTEXT_ARI, users: allowed });
  recordSecret(systemToken);
  const exchanger = forgeRemoteExchanger({
    systemToken,
    contextAri: CONTEXT_ARI,
    gatewayUrl: emu.graphqlUrl,
    retry: { baseDelayMS: 10, maxDelayMS: 40, timeoutMS: 2_000 },
  });
  return new UserSession({ exchanger });
}

runTable('UserSession.forUser()', async () => {
  const emu = await emulator();
  const url = `${emu.productApiUrl(CLOUD_ID)}/rest/api/3/myself`;
  const session = usersFor(emu).forUser('account-1');
  // The first token is minted here, so that renewals count re-mints only.
  recordSecret(await session.getAccessToken());
  const baseline = emu.counts.mint;
  return {
    emu,
    session,
    getUrl: url,
    getEndpoint: 'product',
    postUrl: `${emu.productApiUrl(CLOUD_ID)}/rest/api/3/issue`,
    postEndpoint: 'product',
    renewals: () => emu.counts.mint - baseline,
    // The installation may impersonate only someone else: every mint is refused.
    deadSession: async () => ({ session: usersFor(emu, ['someone-else']).forUser('account-1'), code: 'ERR_IMPERSONATION' }),
  };
});
