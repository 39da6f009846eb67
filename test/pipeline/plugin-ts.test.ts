// A TypeScript plugin next to a pipeline file loads where no TypeScript loader
// is registered (an installed ptychoflow runs compiled JavaScript under plain
// Node 20: before, ERR_UNKNOWN_FILE_EXTENSION), through tsx's tsImport when
// tsx resolves; without tsx the error says how to load it. The test bundles
// the plugin loader to JavaScript (esbuild) and runs it in a plain `node`.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { build } from 'esbuild';

const repo = path.resolve(import.meta.dirname, '../..');

// Type annotations (Node 20 cannot parse them) and no imports: the plugin's own dependencies are not what is tested.
const plugin = (type: string): string => `interface Options { max: number }
const schema = { safeParse: (v: unknown): { success: true; data: Options } => ({ success: true, data: v as Options }) };
export const stage = { kind: 'transform' as const, type: '${type}', description: 'a TypeScript plugin', accepts: ['frame'], emits: 'frame', options: schema, create: async (): Promise<never> => { throw new Error('not run'); } };
`;

/** Sets up `root/pipes/plugins/{clip.ts,clip.mts}` and the bundled loader in `root`; returns the loader's result. */
async function loadInPlainNode(withTsx: boolean): Promise<{ types?: string[]; code?: string; message?: string; hint?: string }> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pf-plugin-ts-'));
  try {
    mkdirSync(path.join(root, 'pipes', 'plugins'), { recursive: true });
    writeFileSync(path.join(root, 'pipes', 'plugins', 'clip.ts'), plugin('ts-clip'));
    writeFileSync(path.join(root, 'pipes', 'plugins', 'clip.mts'), plugin('mts-clip'));
    const bundle = path.join(root, 'registry.mjs');
    await build({
      entryPoints: [path.join(repo, 'src/pipeline/registry.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      outfile: bundle,
      logLevel: 'silent',
    });
    // tsx resolves from the bundle's directory only when node_modules is there.
    if (withTsx) symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    const code = `const { loadPlugins, Registry } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
const r = new Registry();
try { await loadPlugins(['./plugins/clip.ts', './plugins/clip.mts'], ${JSON.stringify(path.join(root, 'pipes'))}, r); console.log(JSON.stringify({ types: r.types() })); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }`;
    const { NODE_OPTIONS: _drop, ...env } = process.env;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => child.on('exit', resolve));
    return JSON.parse(out) as { types?: string[] };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('.ts and .mts plugins outside the package load in plain Node when tsx resolves', async (t) => {
  const r = await loadInPlainNode(true);
  t.deepEqual(r, { types: ['mts-clip', 'ts-clip'] });
});

// Node ≥ 22.18 strips types itself (process.features.typescript): there a .ts plugin needs no loader at all.
const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);

test('without tsx the error says how to load a TypeScript plugin (or Node loads it itself)', async (t) => {
  const r = await loadInPlainNode(false);
  if (stripsTypes) {
    t.log(`node ${process.version} strips types: the plugins load without tsx`);
    t.deepEqual(r, { types: ['mts-clip', 'ts-clip'] });
    return;
  }
  t.is(r.code, 'PLUGIN_LOAD');
  t.regex(r.message ?? '', /clip\.ts/);
  t.regex(r.hint ?? '', /tsx|Node ≥ 22\.18|compile the plugin/);
});
