// The package's entry points: the root holds what users call and the types they write, the
// `defaults` subpath holds the default values and limits, and each `exports` entry names a module
// that exists in lib/.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import * as defaults from '../lib/defaults.js';
import * as emulator from '../lib/emulator/index.js';
import * as root from '../lib/index.js';

const ROOT = join(import.meta.dirname, '..');

describe('entry points', () => {
  it('the root exports no default values or limits; persistent-session/defaults does', () => {
    const constants = Object.keys(root).filter((name) => /^(DEFAULT|MAX|MIN)_/.test(name));
    expect(constants, 'default values belong in lib/defaults.ts').to.deep.equal([]);
    expect(Object.keys(defaults)).to.include.members(['DEFAULT_EXPIRED_BUFFER_MS', 'DEFAULT_MINTS_PER_MINUTE', 'DEFAULT_LOCK_TTL_MS']);
    for (const [name, value] of Object.entries(defaults)) {
      expect(['number', 'string'], name).to.include(typeof value);
      expect(root, `${name} is not also exported from the root`).not.to.have.property(name);
    }
  });

  it("the client's mint budget and the emulated gateway's have different names", () => {
    expect(defaults.DEFAULT_MINTS_PER_MINUTE).to.equal(1000);
    expect(emulator.DEFAULT_EMULATOR_MINTS_PER_MINUTE).to.equal(Number.POSITIVE_INFINITY);
    expect(emulator).not.to.have.property('DEFAULT_MINTS_PER_MINUTE');
  });

  it('every entry of the exports map is built from a module in lib/', () => {
    type Target = string | { types: string; import: string };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, Target> };
    const subpaths = Object.keys(pkg.exports);
    expect(subpaths).to.include.members(['.', './defaults', './emulator']);
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(target.types, subpath).to.equal(target.import.replace(/\.js$/, '.d.ts'));
      const source = target.import.replace(/^\.\/dist\//, 'lib/').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, source)), `${subpath} → ${source}`).to.equal(true);
    }
  });
});
