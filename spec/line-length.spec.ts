// Every line of the TypeScript sources fits in 140 characters. Biome wraps code at 140 columns but cannot wrap long
// string literals, template literals or comments: this spec catches those.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'chai';

const ROOT = join(import.meta.dirname, '..');
const MAX_LINE_LENGTH = 140;

/** Every .ts file under `dir`, as paths relative to the repository root. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') ? [relative(ROOT, path)] : [];
  });
}

/** `file:line (N characters)` for each line of `text` longer than `max` characters. */
export function longLines(file: string, text: string, max = MAX_LINE_LENGTH): string[] {
  return text.split(/\r?\n/).flatMap((line, i) => (line.length > max ? [`${file}:${i + 1} (${line.length} characters)`] : []));
}

describe('line length', () => {
  it(`keeps every line of lib/, spec/, bench/ and reliability/ within ${MAX_LINE_LENGTH} characters`, () => {
    const files = ['lib', 'spec', 'bench', 'reliability'].flatMap((dir) => sources(join(ROOT, dir)));
    expect(files.length).to.be.greaterThan(100);
    const offenders = files.flatMap((file) => longLines(file, readFileSync(join(ROOT, file), 'utf8')));
    expect(offenders, `lines over ${MAX_LINE_LENGTH} characters:\n${offenders.join('\n')}`).to.deep.equal([]);
  });

  it('reports a line of 141 characters, and not one of 140', () => {
    const text = ['short', 'x'.repeat(140), 'y'.repeat(141), ''].join('\n');
    expect(longLines('some/file.ts', text)).to.deep.equal(['some/file.ts:3 (141 characters)']);
  });
});
