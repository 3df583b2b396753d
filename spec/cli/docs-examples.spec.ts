// The code in README.md and docs/*.md must compile: every ```ts block must appear verbatim in a
// file under docs/examples/, and those files must type-check against lib/. In the docs, imports
// name the package (`'persistent-session'`); in docs/examples they name the source
// (`'../../lib/index.js'`), and the check maps one to the other.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ROOT } from './support.js';

const run = promisify(execFile);
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const EXAMPLES = join(ROOT, 'docs', 'examples');

/** The ```ts blocks of a markdown text, with package imports mapped to the source tree. */
export function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) =>
    m[1]!
      .replace(/from 'persistent-session\/emulator'/g, "from '../../lib/emulator/index.js'")
      .replace(/from 'persistent-session\/defaults'/g, "from '../../lib/defaults.js'")
      .replace(/from 'persistent-session\/testing'/g, "from '../../lib/testing/index.js'")
      .replace(/from 'persistent-session'/g, "from '../../lib/index.js'")
      .replace(/\s+$/, ''),
  );
}

/** Each guide whose code is one complete program, and the file that program is kept in. */
export const PROGRAMS: Readonly<Record<string, string>> = {
  'oauth-3lo-worker.md': 'oauth-3lo-worker.ts',
  'multiple-workers-redis.md': 'multiple-workers-redis.ts',
  'custom-token-store.md': 'custom-token-store.ts',
  'errors.md': 'errors.ts',
};

/**
 * How a guide's program differs from its file: its ```ts blocks, in order and separated by one blank
 * line, must be the file, except blocks that another example file holds (illustrations such as the
 * TokenStore contract).
 * @returns undefined when they are the same, else the first line that differs
 */
export function programDrift(markdown: string, program: string, others: string[]): string | undefined {
  const shown = tsBlocks(markdown)
    .filter((block) => !others.some((text) => text.includes(block)))
    .join('\n\n');
  const file = program.replace(/\s+$/, '');
  if (shown === file) return undefined;
  const a = shown.split('\n');
  const b = file.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? Math.min(a.length, b.length) : line;
  return `line ${at + 1}: the guide shows ${JSON.stringify(a[at] ?? '(the end)')}, the file has ${JSON.stringify(b[at] ?? '(the end)')}`;
}

/** The environment variables a program reads (`process.env.NAME`). */
export function envNames(program: string): string[] {
  return [...new Set([...program.matchAll(/process\.env\.([A-Z0-9_]+)/g)].map((m) => m[1]!))].sort();
}

/** The blocks that appear in no example file. */
export function missingBlocks(markdown: string, examples: string[]): string[] {
  return tsBlocks(markdown).filter((block) => !examples.some((text) => text.includes(block)));
}

/** Type-checks a project; resolves with tsc's output, rejects when it reports errors. */
async function typeCheck(project: string): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [TSC, '-p', project, '--noEmit', '--pretty', 'false'], { cwd: ROOT });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`tsc -p ${project} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

function docs(): Array<{ file: string; text: string }> {
  const files = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  return files.map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
}

function examples(): string[] {
  return readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join(EXAMPLES, f), 'utf8'));
}

describe('docs: code examples', () => {
  it('every ```ts block of README.md and docs/*.md appears verbatim in docs/examples/', () => {
    const sources = examples();
    let blocks = 0;
    for (const { file, text } of docs()) {
      blocks += tsBlocks(text).length;
      const missing = missingBlocks(text, sources);
      expect(
        missing,
        `${file}: blocks not found in docs/examples/*.ts:\n${missing.map((b) => b.slice(0, 300)).join('\n---\n')}`,
      ).to.deep.equal([]);
    }
    expect(blocks, 'the README and each guide have examples').to.be.at.least(12);
    for (const guide of [
      'forge-remote-worker.md',
      'oauth-3lo-worker.md',
      'multiple-workers-redis.md',
      'custom-token-store.md',
      'errors.md',
    ]) {
      expect(tsBlocks(readFileSync(join(ROOT, 'docs', guide), 'utf8')), guide).to.not.be.empty;
    }
  });

  it('each guide of PROGRAMS shows its whole program, block by block, and names every variable it reads', () => {
    for (const [guide, file] of Object.entries(PROGRAMS)) {
      const markdown = readFileSync(join(ROOT, 'docs', guide), 'utf8');
      const program = readFileSync(join(EXAMPLES, file), 'utf8');
      const others = readdirSync(EXAMPLES)
        .filter((f) => f.endsWith('.ts') && f !== file)
        .map((f) => readFileSync(join(EXAMPLES, f), 'utf8'));
      expect(programDrift(markdown, program, others), `${guide} vs docs/examples/${file}`).to.equal(undefined);
      const unnamed = envNames(program).filter((name) => !markdown.includes(name));
      expect(unnamed, `${guide} does not mention the environment variables its program reads`).to.deep.equal([]);
      expect(markdown, `${guide} shows how to run it against the emulator`).to.match(/persistent-session emulator/);
    }
  });

  it('the program check fails for a guide that drifts from its file', () => {
    const program = "import { x } from '../../lib/index.js';\n\nconsole.log(x);\n";
    const guide = "```ts\nimport { x } from 'persistent-session';\n```\n\ntext\n\n```ts\nconsole.log(x);\n```\n";
    expect(programDrift(guide, program, [])).to.equal(undefined);
    expect(programDrift(guide.replace('console.log(x)', 'console.log(y)'), program, [])).to.equal(
      'line 3: the guide shows "console.log(y);", the file has "console.log(x);"',
    );
    expect(programDrift(guide, `${program}\nmore();\n`, [])).to.match(/^line 4: the guide shows "\(the end\)"/);
    expect(programDrift(`${guide}\n\`\`\`ts\nillustration();\n\`\`\`\n`, program, ['illustration();'])).to.equal(undefined);
    expect(envNames('process.env.B ?? process.env.A_1; process.env.B')).to.deep.equal(['A_1', 'B']);
  });

  it('docs/examples/*.ts type-check against lib/', async function () {
    this.timeout(120_000);
    await typeCheck(join(EXAMPLES, 'tsconfig.json'));
  });

  it('the check fails for a block that is not in the examples, and for an example that does not compile', async function () {
    this.timeout(60_000);
    expect(missingBlocks('```ts\nconst notInAnyExample = 1;\n```\n', examples())).to.deep.equal(['const notInAnyExample = 1;']);
    const dir = mkdtempSync(join(tmpdir(), 'ps-docs-'));
    try {
      writeFileSync(join(dir, 'broken.ts'), "const port: number = 'eighty';\nexport { port };\n");
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, module: 'nodenext', target: 'es2022', types: [] },
          include: ['broken.ts'],
        }),
      );
      let failure: Error | undefined;
      await typeCheck(join(dir, 'tsconfig.json')).catch((err: Error) => {
        failure = err;
      });
      expect(failure?.message).to.match(/broken\.ts\(1,7\): error TS2322/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
