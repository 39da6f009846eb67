// Plugins run code when imported (also by `validate`): a plugin path outside
// the pipeline file's directory is refused before the import, unless the file
// sets allow.plugins_outside.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';

test('a plugin outside the pipeline directory is refused (and not run) unless allow.plugins_outside', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pf-plugin-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'pipes'));
  const marker = path.join(root, 'ran.txt');
  // The plugin leaves a marker when imported, so the test sees whether its code ran.
  await writeFile(
    path.join(root, 'evil.mjs'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport const x = 1;\n`,
  );
  const doc = (allow: boolean): string =>
    `${allow ? 'allow: { plugins_outside: true }\n' : ''}plugins: [../evil.mjs]\nsources:\n  s: { type: simulate, N: 16, object: { kind: image, size: 48 }, scan: { step: 4 } }\nsinks:\n  o: { type: write-npz, inputs: [s] }\n`;
  const file = path.join(root, 'pipes', 'p.yaml');
  const e = await t.throwsAsync(loadPlan(file, { registry: builtinRegistry(), text: doc(false) }));
  t.is((e as { code?: string }).code, 'PLUGIN_OUTSIDE');
  const { existsSync } = await import('node:fs');
  t.false(existsSync(marker), 'the plugin was not imported');
  // Allowed: it is imported (and refused for exporting no components, which shows it ran).
  await t.throwsAsync(loadPlan(file, { registry: builtinRegistry(), text: doc(true) }), { code: 'PLUGIN_EMPTY' });
  t.true(existsSync(marker));
});
