// lib/ has no import circles: each folder can be read, tested and changed from its imports down. The
// graph holds every relative import of lib/**/*.ts, static (`import`/`export … from`, type-only ones
// included) and dynamic (`import('…')` with a literal specifier), as TypeScript's own pre-processor
// finds them (comments and strings that merely look like imports are not imports).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect } from 'chai';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..');
const LIB = join(ROOT, 'lib');

/** Every .ts file under `dir`, as paths relative to the repository root. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [relative(ROOT, path)] : [];
  });
}

/** The lib/ files each lib/ file imports (relative specifiers only, `.js` mapped to the `.ts` source). */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = new Set<string>();
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('./') && !fileName.startsWith('../')) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), fileName)).replace(/\.js$/, '.ts');
      if (!known.has(target)) throw new Error(`${file} imports ${fileName}, which is not a .ts file under lib/`);
      targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/**
 * One circle per strongly connected component of more than one file (or a file that imports
 * itself), each written `a.ts → b.ts → … → a.ts` (Tarjan's algorithm, then a shortest way back).
 */
export function importCircles(graph: Map<string, string[]>): string[] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => circleThrough(component[0]!, new Set(component), graph).join(' → '));
}

/** A shortest path from `start` back to itself, staying inside `members`. */
function circleThrough(start: string, members: Set<string>, graph: Map<string, string[]>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = previous.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe('layout: imports of lib/', () => {
  const graph = importGraph(sources(LIB));

  it('finds the imports, static and dynamic', () => {
    expect(graph.get('lib/errors.ts')).to.include('lib/redact.ts');
    expect(graph.get('lib/cli/demo.ts'), 'a dynamic import').to.include('lib/cli/demo-run.ts');
    expect(graph.size).to.be.greaterThan(50);
  });

  it('finds a circle when there is one', () => {
    const circular = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(importCircles(circular)).to.deep.equal(['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']);
    expect(
      importCircles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).to.deep.equal([]);
  });

  it('has no import circle', () => {
    const circles = importCircles(graph);
    expect(circles, `import circles in lib/:\n${circles.join('\n')}`).to.deep.equal([]);
  });
});
