// What importing the package root loads, in a fresh process (the figures are in
// `npm run bench -- import-cost`; here only which packages load).
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { expect } from 'chai';
import { JOSE_PACKAGES, loadedPackages } from '../../bench/import-cost.js';
import { ROOT } from './support.js';

const TSX = ['--import', 'tsx'];
const source = (path: string) => pathToFileURL(join(ROOT, path)).href;

describe('package: importing the root', function () {
  this.timeout(60_000);

  it("loads no JOSE library (a JWT's expiry is read by hand)", async () => {
    const loaded = await loadedPackages(source('lib/index.ts'), TSX);
    expect(loaded, 'the root reaches undici').to.include('undici');
    expect(loaded.filter((p) => JOSE_PACKAGES.includes(p))).to.deep.equal([]);
  });

  it('the check sees jose where it is loaded: the emulator verifies JWTs with it', async () => {
    expect(await loadedPackages(source('lib/emulator/index.ts'), TSX)).to.include('jose');
  });
});
