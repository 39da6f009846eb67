// A run killed with SIGKILL runs no cleanup: its spill directory stayed in
// TMPDIR for good. Spill directories now carry an owner marker (pid, host);
// the next run removes those whose owner is dead, and nothing else. Temp
// files of atomic writes carry their writer's pid in the name and go the same way.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { SpillDir, sweepStaleSpillDirs } from '../../src/io/spill.js';
import { OWNER_MARKER, pidAlive, sweepStaleAtomicTemps } from '../../src/io/temp-owner.js';

const spillUrl = new URL('../../src/io/spill.ts', import.meta.url).href;

/** A child that makes a spill file under `root`, says so, and waits to be killed. */
function spillingChild(root: string): Promise<{ pid: number; dir: string; kill: () => Promise<void> }> {
  const code = `const { SpillDir } = await import(${JSON.stringify(spillUrl)}); const f = await new SpillDir(${JSON.stringify(root)}).file('diffraction.npy'); (await import('node:fs')).writeFileSync(f, 'x'); console.log(f); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stdout.once('data', (d: Buffer) => {
      const dir = path.dirname(d.toString().trim());
      resolve({ pid: child.pid!, dir, kill: () => new Promise((done) => (child.once('exit', () => done()), child.kill('SIGKILL'))) });
    });
  });
}

function fakeDir(root: string, name: string, marker: string | undefined, files: string[] = ['0-entry.npy']): string {
  const dir = path.join(root, name);
  mkdirSync(dir);
  if (marker !== undefined) writeFileSync(path.join(dir, OWNER_MARKER), marker);
  for (const f of files) writeFileSync(path.join(dir, f), 'data');
  return dir;
}

test('spill dirs of a process killed with -9 are removed by the next run; live, foreign and unmarked ones stay', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pf-stale-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const killed = await spillingChild(root);
  const live = await spillingChild(root);
  t.teardown(live.kill);
  await killed.kill();
  t.false(pidAlive(killed.pid));
  const host = os.hostname();
  const dead = `ptychoflow temp dir\npid ${killed.pid}\nhost ${host}\n`;
  // Not ours: no marker, a marker naming another host, a stranger's file inside, another prefix, a marker in another format.
  const kept = [
    fakeDir(root, 'ptychoflow-spill-nomarker', undefined),
    fakeDir(root, 'ptychoflow-spill-otherhost', `ptychoflow temp dir\npid ${killed.pid}\nhost not-${host}\n`),
    fakeDir(root, 'ptychoflow-spill-stranger', dead, ['0-entry.npy', 'thesis.tex']),
    fakeDir(root, 'someone-elses-dir', dead),
    fakeDir(root, 'ptychoflow-spill-garbled', `pid ${killed.pid}\n`),
  ];
  const before = readdirSync(root).sort();
  t.true(before.includes(path.basename(killed.dir)), 'the killed run left its spill dir');

  const removed = await sweepStaleSpillDirs(root);
  t.deepEqual(removed, [killed.dir]);
  const after = readdirSync(root).sort();
  t.deepEqual(
    after,
    before.filter((n) => n !== path.basename(killed.dir)),
  );
  t.true(after.includes(path.basename(live.dir)), 'the live run keeps its spill dir');
  for (const k of kept) t.true(after.includes(path.basename(k)));

  // A new spill dir sweeps too (a run that spills cleans before it adds its own), and is marked.
  const again = fakeDir(root, 'ptychoflow-spill-again', dead);
  const spill = new SpillDir(root);
  const f = await spill.file('x');
  t.false(readdirSync(root).includes(path.basename(again)));
  t.true(readdirSync(path.dirname(f)).includes(OWNER_MARKER));
  await spill.remove();
});

test('atomic-write temp files of a dead writer are removed from the output directory; others stay', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pf-stale-tmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => gone.on('exit', resolve));
  const dead = gone.pid!;
  t.false(pidAlive(dead));
  const names = [
    `.history.json.${dead}.0123abcd.tmp`,
    `.history.json.${process.pid}.0123abcd.tmp`,
    `.notes.${dead}.tmp`,
    'results.tmp',
    `history.json.${dead}.0123abcd.tmp`,
  ];
  for (const n of names) writeFileSync(path.join(dir, n), 'x');
  mkdirSync(path.join(dir, `.sub.${dead}.0123abcd.tmp`));
  t.deepEqual(await sweepStaleAtomicTemps(dir), [path.join(dir, names[0]!)]);
  t.deepEqual(readdirSync(dir).sort(), [...names.slice(1), `.sub.${dead}.0123abcd.tmp`].sort());
});
