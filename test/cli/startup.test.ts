// --help and --version answer without loading TensorFlow.js or the stages
// (they must stay fast), and --version is the package's version.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { main } from '../../src/cli/main.js';

const root = path.resolve(import.meta.dirname, '../..');

async function capture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await main(args, { stdout: out as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream });
  return { code, stdout, stderr };
}

/** tfjs packages are CommonJS, so loading them (even from ESM) lands in require.cache. */
function loadedTf(): string[] {
  return Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes(`${path.sep}@tensorflow${path.sep}`));
}

test.serial('--version prints the version from package.json', async (t) => {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const r = await capture(['--version']);
  t.is(r.code, 0);
  t.is(r.stdout.trim(), version);
});

test.serial('--help and run --help list the commands and options without loading TensorFlow.js', async (t) => {
  const top = await capture(['--help']);
  t.is(top.code, 0);
  for (const cmd of ['run', 'validate', 'stages', 'inspect']) t.regex(top.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'));
  const run = await capture(['run', '--help']);
  t.is(run.code, 0);
  t.regex(run.stdout, /--backend <name>\s+compute backend \(choices: "auto",/);
  t.deepEqual(loadedTf(), []);
});

test.serial('stages and validate read the stage specs without loading TensorFlow.js', async (t) => {
  const stages = await capture(['stages', '--json']);
  t.is(stages.code, 0);
  const types = (JSON.parse(stages.stdout) as { type: string; options: unknown[] }[]).map((d) => d.type);
  for (const lazy of ['train', 'infer', 'refine', 'tensorify']) t.true(types.includes(lazy), lazy);
  const one = await capture(['stages', 'train']);
  t.regex(one.stdout, /lr_schedule: "plateau" \| "cosine" = "plateau"/);
  const valid = await capture(['validate', path.join(root, 'pipelines/demo.yaml')]);
  t.is(valid.code, 0, valid.stderr);
  t.regex(valid.stdout, /^ok .*demo\.yaml \(\d+ stages: .*train/m);
  t.deepEqual(loadedTf(), []);
});

test.serial('(control) the check above sees TensorFlow.js once something loads it', async (t) => {
  await import('../../src/backend/select.js');
  t.true(loadedTf().length > 0);
});

test.serial('stages NAME with a typo exits 2 and suggests the stage meant', async (t) => {
  const r = await capture(['stages', 'simulat']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown stage type 'simulat'; did you mean 'simulate'\?/);
});

test.serial('run --json on an invalid file prints a JSON error object on stdout and exits 2', async (t) => {
  const r = await capture(['run', path.join(root, 'test/fixtures/pipelines/broken.yaml'), '--json']);
  t.is(r.code, 2);
  const out = JSON.parse(r.stdout.trim()) as { status: string; error: { code: string; message: string; file?: string } };
  t.is(out.status, 'invalid');
  t.is(out.error.code, 'PIPELINE_INVALID');
  t.regex(out.error.message, /did you mean 'test-count'/);
});
