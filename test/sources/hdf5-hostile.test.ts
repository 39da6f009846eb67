// Hostile HDF5 structure, written here with h5wasm: a hard-link cycle (the walk
// never ended: `inspect` and `run` hung) and an external link into another
// file (followed before) are typed errors at open; the documented option lets
// the external link through. String-typed coordinates are BAD_DTYPE naming
// the file and dataset (before: a bare TypeError, "not a numeric array").
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { inspectFile } from '../../src/io/inspect.js';
import hdf5Source from '../../src/sources/hdf5.js';
import { createStage, testContext } from '../../src/testing/index.js';

interface H5File {
  create_group(name: string): unknown;
  create_dataset(o: { name: string; data: Float32Array | string[]; shape: number[]; maxshape?: (number | null)[]; chunks?: number[] }): unknown;
  get(name: string): { resize(shape: number[]): void };
  create_hard_link(target: string, name: string): unknown;
  create_external_link(file: string, target: string, name: string): unknown;
  close(): void;
}

async function write(file: string, build: (f: H5File) => void): Promise<void> {
  const lib = (await import('h5wasm/node')).default as unknown as { ready: Promise<unknown>; File: new (p: string, mode: string) => H5File };
  await lib.ready;
  const f = new lib.File(file, 'w');
  try {
    build(f);
  } finally {
    f.close();
  }
}

test.serial('a hard-link cycle and an external link are refused at open (run and inspect), typed', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pf-h5h-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cycle = path.join(dir, 'cycle.h5');
  await write(cycle, (f) => {
    f.create_group('g');
    f.create_dataset({ name: 'g/x', data: new Float32Array(4), shape: [4] });
    f.create_hard_link('/g', 'g/loop');
    f.create_hard_link('/g', 'g/again');
  });
  const ext = path.join(dir, 'ext.h5');
  await write(ext, (f) => {
    f.create_dataset({ name: 'xcoords', data: new Float32Array(4), shape: [4] });
    f.create_external_link(cycle, '/g/x', 'elsewhere');
  });
  const open = (file: string, allow = false): Promise<unknown> =>
    createStage(
      hdf5Source,
      { path: file },
      [],
      testContext({ id: 'scan', baseDir: dir, ...(allow ? { allow: { paths_outside: false, hdf5_external_links: true, plugins_outside: false } } : {}) }),
    );
  await t.throwsAsync(open(cycle), { code: 'HDF5_STRUCTURE', message: /cycle\.h5/ });
  await t.throwsAsync(inspectFile(cycle), { code: 'HDF5_STRUCTURE' });
  await t.throwsAsync(open(ext), { code: 'HDF5_EXTERNAL_LINK', message: /ext\.h5.*elsewhere/ });
  await t.throwsAsync(inspectFile(ext), { code: 'HDF5_EXTERNAL_LINK' });
  // Allowed, the link is walked (into the cyclic file's /g/x, a dataset): the file opens and is then not a scan layout.
  await t.throwsAsync(open(ext, true), { code: 'UNKNOWN_LAYOUT' });
});

test.serial('a huge unallocated dataset is not read whole: the source refuses it, inspect skips its statistics', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pf-h5u-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hollow.h5');
  await write(file, (f) => {
    f.create_dataset({ name: 'diffraction', data: new Float32Array(2 * 16 * 16).fill(1), shape: [2, 16, 16] });
    f.create_dataset({ name: 'xcoords', data: Float32Array.of(10, 11), shape: [2] });
    f.create_dataset({ name: 'ycoords', data: Float32Array.of(10, 10), shape: [2] });
    // Chunked and then grown: 16384² values declared, none stored.
    f.create_dataset({ name: 'probeGuess', data: new Float32Array(1), shape: [1, 1], maxshape: [null, null], chunks: [64, 64] });
    f.get('probeGuess').resize([16384, 16384]);
  });
  const t0 = performance.now();
  await t.throwsAsync(createStage(hdf5Source, { path: file }, [], testContext({ id: 'scan', baseDir: dir })), {
    code: 'HDF5_UNALLOCATED',
    message: /hollow\.h5 \[probeGuess\]/,
  });
  const report = await inspectFile(file);
  t.is(report.arrays.probeGuess?.size, 16384 * 16384);
  t.is(report.arrays.probeGuess?.mean, undefined);
  t.true(performance.now() - t0 < 30_000);
});

test.serial('string-typed coordinates are BAD_DTYPE naming the file and dataset', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pf-h5s-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'strings.h5');
  await write(file, (f) => {
    f.create_dataset({ name: 'diffraction', data: new Float32Array(2 * 16 * 16).fill(1), shape: [2, 16, 16] });
    f.create_dataset({ name: 'xcoords', data: ['10.0', '11.0'], shape: [2] });
    f.create_dataset({ name: 'ycoords', data: Float32Array.of(10, 10), shape: [2] });
    f.create_dataset({ name: 'probeGuess', data: new Float32Array(16 * 16).fill(1), shape: [16, 16] });
  });
  const e = await t.throwsAsync(createStage(hdf5Source, { path: file }, [], testContext({ id: 'scan', baseDir: dir })), { code: 'BAD_DTYPE' });
  t.is((e as { file?: string }).file, 'strings.h5');
  t.is((e as { key?: string }).key, 'xcoords');
  t.regex(e.message, /strings\.h5 \[xcoords\]: holds .+ values, not real numbers/);
});
