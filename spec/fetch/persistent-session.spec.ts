import { emulator, seed, sessionFor } from '../support/oauth.js';
import { runTable } from './table.js';

runTable('PersistentSession', async () => {
  const emu = await emulator();
  const { tokenInfo } = seed(emu);
  const session = sessionFor(emu, { tokenInfo });
  return {
    emu,
    session,
    getUrl: emu.resourceUrl,
    getEndpoint: 'resource',
    // The protected resource answers 405 to anything but GET; the product API takes any method and OAuth tokens.
    postUrl: `${emu.productApiUrl('cloud-1')}/rest/api/3/issue`,
    postEndpoint: 'product',
    renewals: () => emu.counts.refresh,
    deadSession: async () => {
      const { tokenInfo: dead, issued } = seed(emu, { expired: true });
      emu.revokeToken(issued.refreshToken);
      return { session: sessionFor(emu, { tokenInfo: dead }), code: 'ERR_EXPIRED_TOKENS' };
    },
  };
});
