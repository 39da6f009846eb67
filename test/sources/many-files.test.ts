// Issue #17: several files as one stream of scans (`paths`, globs), and a
// canonical file's scan_index as several scans. Tiny generated NPZs.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataError, OptionsError } from '../../src/errors.js';
import { writeNpz } from '../../src/io/npz-writer.js';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import { StreamPool } from '../../src/sources/many-files.js';
import npzSource from '../../src/sources/npz.js';
import group from '../../src/transforms/group.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';

const N = 4;

/** File f: n frames whose pixels all equal 100·f + i, on a 3-wide raster; optional scan_index. */
async function writeScan(file: string, f: number, n: number, opts: { scanIndex?: number[]; probe?: number } = {}): Promise<void> {
  const data = new Float32Array(n * N * N);
  for (let i = 0; i < n; i++) data.fill(100 * f + i, i * N * N, (i + 1) * N * N);
  await writeNpz(file, {
    diffraction: { shape: [n, N, N], data },
    xcoords: { shape: [n], data: Float64Array.from({ length: n }, (_, i) => 10 + (i % 3)) },
    ycoords: { shape: [n], data: Float64Array.from({ length: n }, (_, i) => 10 + Math.floor(i / 3)) },
    probeGuess: { shape: [N, N], data: new Float32Array(2 * N * N).fill(opts.probe ?? 1), descr: '<c8' },
    ...(opts.scanIndex === undefined ? {} : { scan_index: { shape: [n], data: Float64Array.from(opts.scanIndex) } }),
  });
}

test('paths with a glob: files in name order, global frame numbers, one scan per file (and per scan_index value), random access equal to the pass', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-many-'));
  try {
    await writeScan(path.join(dir, 'b.npz'), 1, 6);
    await writeScan(path.join(dir, 'a.npz'), 0, 5);
    // Two scans in one canonical file.
    await writeScan(path.join(dir, 'c.npz'), 2, 8, { scanIndex: [0, 0, 0, 0, 1, 1, 1, 1] });
    const ctx = testContext({ id: 'scan', baseDir: dir });
    const s = (await createStage(npzSource, { paths: ['*.npz'] }, [], ctx)) as Stream<Frame>;
    try {
      const scan = s.meta.scan!;
      t.is(scan.count, 19);
      t.deepEqual(Array.from(scan.scanIndex!), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
      const frames = await collectStream(s);
      t.deepEqual(
        frames.map((f) => f.index),
        Array.from({ length: 19 }, (_, i) => i),
      );
      t.deepEqual(
        frames.map((f) => f.scanIndex),
        Array.from(scan.scanIndex!),
      );
      t.deepEqual(
        frames.map((f) => f.amplitude[0]),
        [0, 1, 2, 3, 4, 100, 101, 102, 103, 104, 105, 200, 201, 202, 203, 204, 205, 206, 207],
      );
      const picked = await s.frames!.readMany([18, 0, 7, 12]);
      t.deepEqual(
        picked.map((a) => a[0]),
        [207, 0, 102, 201],
      );
      // group reads by index and never puts two scans in one group.
      const g = (await createStage(group, { gridsize: 2, k: 4, seed: 3 }, [s], testContext({ id: 'g', baseDir: dir }))) as Stream<Group>;
      const groups = await collectStream(g);
      t.true(groups.length > 0);
      for (const gr of groups) t.is(new Set(Array.from(gr.indices, (i) => scan.scanIndex![i])).size, 1, `group ${gr.index}`);
      await g.close?.();
    } finally {
      await s.close?.();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('paths: another probe, an empty glob, path and paths together, a fractional scan_index are typed errors', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-many-'));
  try {
    await writeScan(path.join(dir, 'a.npz'), 0, 3);
    await writeScan(path.join(dir, 'p.npz'), 1, 3, { probe: 2 });
    await writeScan(path.join(dir, 'f.npz'), 2, 3, { scanIndex: [0, 0.5, 1] });
    const ctx = testContext({ id: 'scan', baseDir: dir });
    const e1 = await t.throwsAsync(createStage(npzSource, { paths: ['a.npz', 'p.npz'] }, [], ctx), { instanceOf: DataError });
    t.is(e1.code, 'PROBE_MISMATCH');
    t.true(e1.message.includes('p.npz'));
    const e2 = await t.throwsAsync(createStage(npzSource, { paths: ['*.h5'] }, [], ctx), { instanceOf: OptionsError });
    t.is(e2.code, 'FILE_NOT_FOUND');
    await t.throwsAsync(createStage(npzSource, { path: 'a.npz', paths: ['a.npz'] }, [], ctx), { instanceOf: OptionsError });
    const e3 = await t.throwsAsync(createStage(npzSource, { path: 'f.npz' }, [], ctx), { instanceOf: DataError });
    t.is(e3.code, 'BAD_SCAN_INDEX');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('StreamPool keeps at most its cap of idle files open, never closes one in use', async (t) => {
  let open = 0,
    peak = 0;
  const opener = async (): Promise<Stream<Frame>> => {
    open++;
    peak = Math.max(peak, open);
    return { meta: { record: 'frame' }, open: () => (async function* () {})(), close: async () => void open-- };
  };
  const pool = new StreamPool(opener, 2);
  for (let f = 0; f < 20; f++) await pool.use(f % 7, async () => undefined);
  t.is(peak, 3, 'one over the cap only while the new one is in use');
  t.true(open <= 2);
  const held = await pool.acquire(0);
  for (let f = 1; f < 6; f++) await pool.use(f, async () => undefined);
  t.true(open >= 1, 'the held stream stays open');
  await held.release();
  await pool.close();
  t.is(open, 0);
});
