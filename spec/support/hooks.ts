import sinon from 'sinon';
import { scanAll } from './secrets.js';

/** Root hooks for the whole suite (registered in .mocharc.json). */
export const mochaHooks = {
  afterEach(): void {
    sinon.restore();
  },
  afterAll(): void {
    const { outputs, secrets, leaks } = scanAll();
    if (leaks.length > 0) {
      throw new Error(`secret scan: ${leaks.length} of ${outputs} recorded outputs contain one of ${secrets} tokens; first: ${leaks[0]}`);
    }
    process.stdout.write(`secret scan: ${outputs} outputs checked against ${secrets} tokens, 0 leaks\n`);
  },
};
