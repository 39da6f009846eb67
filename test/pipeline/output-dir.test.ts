// The output directory is checked before any work: a path naming a file gets
// OUTPUT_NOT_A_DIRECTORY (before: a raw EEXIST), a directory the run cannot
// write gets OUTPUT_NOT_WRITABLE (before: EACCES/ENOENT from the first writer,
// after the first epoch of a training run). And the run records are replaced
// by rename, never rewritten in place.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { exitCodeFor } from '../../src/cli/io.js';
import { loadPlan, runPlan, type RunOptions } from '../../src/pipeline/index.js';
import { Registry } from '../../src/pipeline/registry.js';

const fixture = path.resolve(import.meta.dirname, '../fixtures/pipelines/ok.yaml');

function tempRoot(t: ExecutionContext): string {
  const root = mkdtempSync(path.join(tmpdir(), 'pf-outdir-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** Runs ok.yaml into `outDir`; `started` tells whether the run got as far as picking a backend. */
async function runInto(outDir: string): Promise<{ error: unknown; started: boolean; code: string | undefined }> {
  let started = false;
  const selectBackend: NonNullable<RunOptions['selectBackend']> = async () => {
    started = true;
    return { name: 'cpu' };
  };
  const plan = await loadPlan(fixture, { registry: new Registry() });
  const { error, summary } = await runPlan(plan, { outDir, selectBackend });
  return { error, started, code: summary.error?.code };
}

test('output naming an existing file, or under one, is OUTPUT_NOT_A_DIRECTORY before any work', async (t) => {
  const root = tempRoot(t);
  const file = path.join(root, 'results.txt');
  writeFileSync(file, 'keep me');
  for (const out of [file, path.join(file, 'sub')]) {
    const r = await runInto(out);
    t.is(r.code, 'OUTPUT_NOT_A_DIRECTORY', out);
    t.false(r.started, 'no backend was loaded, no stage created');
    t.is(exitCodeFor(r.error), 2);
    t.regex((r.error as Error).message, /results\.txt/);
    t.regex((r.error as Error).message, /\[--output\]/);
  }
  t.is(readFileSync(file, 'utf8'), 'keep me');
});

/** Makes `dir` unwritable even for root (chattr +i) or, not as root, by chmod; undefined when neither works here. */
function makeUnwritable(dir: string): (() => void) | undefined {
  if (process.getuid?.() !== 0) {
    execFileSync('chmod', ['555', dir]);
    return () => execFileSync('chmod', ['755', dir]);
  }
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
    return () => execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
}

/** Whether this machine can make a directory unwritable here (probed once, in a scratch directory). */
function canMakeUnwritable(): boolean {
  const probe = mkdtempSync(path.join(tmpdir(), 'pf-ro-probe-'));
  try {
    const undo = makeUnwritable(probe);
    undo?.();
    return undo !== undefined;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

// Running as root, chmod does not stop writes; without chattr (or on a file system without it) nothing here
// does: then the test is skipped, visibly (the reason is in its title).
const lockable = canMakeUnwritable();
(lockable ? test : test.skip)(
  `an unwritable output directory is OUTPUT_NOT_WRITABLE before the first stage${lockable ? '' : ' (skipped: root without chattr +i here)'}`,
  async (t) => {
    const root = tempRoot(t);
    const ro = path.join(root, 'ro');
    mkdirSync(ro);
    const undo = makeUnwritable(ro);
    if (undo === undefined) throw new Error('the directory could not be made unwritable, though the probe could');
    try {
      for (const out of [ro, path.join(ro, 'new', 'deeper')]) {
        const r = await runInto(out);
        t.is(r.code, 'OUTPUT_NOT_WRITABLE', out);
        t.false(r.started);
        t.is(exitCodeFor(r.error), 2);
        t.notRegex((r.error as Error).message, /ENOENT/);
      }
    } finally {
      undo();
    }
    t.deepEqual(readdirSync(ro), [], 'nothing was left in it');
  },
);

test('run records are replaced by rename, not rewritten in place', async (t) => {
  // A hard link shows the difference: an in-place write changes both names' content, a rename only replaces one.
  const root = tempRoot(t);
  const out = path.join(root, 'out');
  mkdirSync(out);
  for (const name of ['pipeline.yaml', 'run.json', 'summary.json']) {
    writeFileSync(path.join(root, `old-${name}`), 'earlier run');
    linkSync(path.join(root, `old-${name}`), path.join(out, name));
  }
  const r = await runInto(out);
  t.is(r.error, undefined);
  for (const name of ['pipeline.yaml', 'run.json', 'summary.json']) {
    t.is(readFileSync(path.join(root, `old-${name}`), 'utf8'), 'earlier run', `${name} was not written through the old inode`);
    t.not(readFileSync(path.join(out, name), 'utf8'), 'earlier run');
  }
  t.deepEqual(
    readdirSync(out).filter((n) => n.endsWith('.tmp') || n.startsWith('.ptychoflow-write-test')),
    [],
    'no temp or probe files left',
  );
});
