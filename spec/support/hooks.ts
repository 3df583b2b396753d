import { subscribe } from 'node:diagnostics_channel';
import sinon from 'sinon';
import { ERROR_DIAGNOSTICS_CHANNEL } from '../../lib/errors.js';
import { DIAGNOSTICS_CHANNEL_PREFIX, SESSION_EVENT_NAMES } from '../../lib/events.js';
import { recordLater, scanAll } from './secrets.js';

// Every SessionError and every session event of the whole run goes into the final secret scan.
subscribe(ERROR_DIAGNOSTICS_CHANNEL, (err) => recordLater(err));
for (const name of SESSION_EVENT_NAMES) subscribe(`${DIAGNOSTICS_CHANNEL_PREFIX}${name}`, (event) => recordLater(event));

/** Root hooks for the whole suite (registered in .mocharc.json). */
export const mochaHooks = {
  afterEach(): void {
    sinon.restore();
  },
  afterAll(this: Mocha.Context): void {
    // The scan compares every recorded output with every recorded token.
    this.timeout(300_000);
    const { outputs, secrets, leaks } = scanAll();
    if (leaks.length > 0) {
      throw new Error(`secret scan: ${leaks.length} of ${outputs} recorded outputs contain one of ${secrets} tokens; first: ${leaks[0]}`);
    }
    process.stdout.write(`secret scan: ${outputs} outputs checked against ${secrets} tokens, 0 leaks\n`);
  },
};
