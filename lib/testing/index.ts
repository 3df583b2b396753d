/**
 * `persistent-session/testing`: the TokenStore contract as a test suite, for authors of custom
 * stores. It needs only the test runner's `describe` and `it`, and asserts with node:assert.
 *
 * @example
 * ```ts
 * import { describe, it } from 'node:test';
 * import { tokenStoreContract } from 'persistent-session/testing';
 *
 * tokenStoreContract('DbTokenStore', () => new DbTokenStore(db), { describe, it });
 * ```
 *
 * @module
 */
export { tokenStoreContract, sampleTokenInfo } from './token-store-contract.js';
export type { ContractTestFunctions, TokenStoreContractOptions } from './token-store-contract.js';
