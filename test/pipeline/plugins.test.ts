// Plugins load wherever they are: a .mjs plugin in a directory outside the
// project (its own package.json, CommonJS by default) joins the registry, and
// a plugin that cannot load gets a hint that says what to do.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { isPtychoflowError } from '../../src/errors.js';
import { nodeStripsTypes, pluginLoadHint } from '../../src/pipeline/plugin-hint.js';
import { loadPlugins, Registry } from '../../src/pipeline/registry.js';

const zodUrl = pathToFileURL(path.resolve(import.meta.dirname, '../../node_modules/zod/index.js')).href;

test('a .mjs plugin in a CommonJS project outside the repository loads', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pf-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'elsewhere', type: 'commonjs' }));
  writeFileSync(
    path.join(dir, 'echo.mjs'),
    `import { z } from '${zodUrl}';
export const echo = { kind: 'transform', type: 'echo', description: 'passes records on', options: z.object({}), create: async (_o, { inputs }) => inputs[0] };
`,
  );
  const reg = new Registry();
  await loadPlugins(['./echo.mjs'], dir, reg);
  t.deepEqual(reg.types(), ['echo']);
  t.is(reg.origin('echo'), 'plugin ./echo.mjs');
});

test('a plugin that does not exist: PLUGIN_LOAD naming it, with a hint about the path', async (t) => {
  const e = await t.throwsAsync(loadPlugins(['./nope.mjs'], tmpdir(), new Registry()));
  t.true(isPtychoflowError(e) && e.code === 'PLUGIN_LOAD');
  t.regex(e.message, /nope\.mjs/);
  t.regex(e.message, /relative to the pipeline file/);
});

test('hints: a .ts plugin on a Node without type stripping says how to load it; CommonJS trouble says rename to .mjs', (t) => {
  const unknownExt = Object.assign(new TypeError('Unknown file extension ".ts"'), { code: 'ERR_UNKNOWN_FILE_EXTENSION' });
  const ts = pluginLoadHint('./my-stage.ts', true, unknownExt, '20.20.2');
  t.regex(ts, /--import tsx/);
  t.regex(ts, /22\.18/);
  t.regex(ts, /\.js\/\.mjs/);
  // A Node that strips types still refuses .ts under node_modules.
  t.regex(pluginLoadHint('./node_modules/x/my-stage.ts', true, unknownExt, '24.1.0'), /only outside node_modules/);
  const cycle = Object.assign(new Error('Cannot require() ES Module /x/dist/index.js in a cycle.'), { code: 'ERR_REQUIRE_CYCLE_MODULE' });
  t.regex(pluginLoadHint('./my-stage.ts', true, cycle), /\.mjs.*"type": "module"/);
  t.regex(pluginLoadHint('some-package', false, new Error('Cannot find package')), /install the package/);
});

test('nodeStripsTypes: Node 22.18+, 23.6+ and 24+ load .ts themselves', (t) => {
  t.false(nodeStripsTypes('20.20.2'));
  t.false(nodeStripsTypes('22.17.0'));
  t.true(nodeStripsTypes('22.18.0'));
  t.false(nodeStripsTypes('23.5.0'));
  t.true(nodeStripsTypes('23.6.0'));
  t.true(nodeStripsTypes('24.1.0'));
});
