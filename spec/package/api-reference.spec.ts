// The API reference (`npm run docs`, TypeDoc) builds: typedoc.json treats every warning as an error,
// so a broken {@link}, an exported type that is not exported, or an undocumented entry fails here
// rather than on the day someone publishes the docs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT, sh } from './support.js';

const TYPEDOC = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');

describe('package: the API reference', function () {
  this.timeout(180_000);

  it('TypeDoc validates every entry point with warnings as errors (npm run docs)', async () => {
    const { stdout, stderr } = await sh(process.execPath, [TYPEDOC, '--emit', 'none'], ROOT);
    expect(`${stdout}${stderr}`).to.not.match(/\[warning\]|\[error\]/);
  });

  it('a link that resolves to nothing prints the warning the check above looks for, and fails the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ps-typedoc-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'broken', version: '1.0.0' }));
      writeFileSync(
        join(dir, 'broken.ts'),
        '/** Refreshes like a {@link NoSuchSession} does. */\nexport function broken(): number {\n  return 1;\n}\n',
      );
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true }, include: ['broken.ts'] }));
      const flags = ['--treatWarningsAsErrors', '--treatValidationWarningsAsErrors', '--disableGit', '--sourceLinkTemplate', 'x'];
      const args = [TYPEDOC, '--tsconfig', 'tsconfig.json', '--entryPoints', 'broken.ts', '--emit', 'none', ...flags];
      const failed = await sh(process.execPath, args, dir).then(
        () => undefined,
        (err: Error) => err.message,
      );
      expect(failed, 'typedoc exited 0 on a broken link').to.be.a('string');
      expect(failed).to.match(/\[warning\] Failed to resolve link to "NoSuchSession"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
