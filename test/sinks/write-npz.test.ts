// The write-npz sink: a numpy-written scan read by the npz source and written
// back (stored and deflated) gives the same canonical arrays; a stream without
// a declared count goes through the spill path; a count that does not match
// and non-frame streams are refused; nothing is left behind on failure.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataError, OptionsError } from '../../src/errors.js';
import { openNpz } from '../../src/io/npz.js';
import type { Frame, ScanMeta, Stream } from '../../src/pipeline/types.js';
import writeNpzSink from '../../src/sinks/write-npz.js';
import npzSource from '../../src/sources/npz.js';
import { createStage, runSink, streamOf, testContext } from '../../src/testing/index.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/npz');
const haveNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-wnpz-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const compress of [false, true]) {
  test(`source → write-npz round-trips the canonical arrays (${compress ? 'deflated' : 'stored'})`, async (t) => {
    await withDir(async (dir) => {
      const ctx = testContext({ id: 'out', baseDir: FIX, outDir: dir });
      const src = (await createStage(npzSource, { path: 'canonical_deflated.npz' }, [], ctx)) as Stream<Frame>;
      try {
        const result = (await runSink(writeNpzSink, { path: 'sub/scan.npz', compress }, [src], ctx)) as { path: string; arrays: string[]; bytes: number };
        t.is(result.path, path.join(dir, 'sub/scan.npz'));
        t.deepEqual(result.arrays, ['diffraction', 'xcoords', 'ycoords', 'probeGuess', 'objectGuess', 'scan_index']);
        t.true(result.bytes > 0);
        const a = await openNpz(path.join(FIX, 'canonical_deflated.npz'));
        const b = await openNpz(result.path);
        try {
          for (const name of result.arrays) {
            const x = await a.readArray(name),
              y = await b.readArray(name);
            t.is(y.descr, x.descr, name);
            t.deepEqual(y.shape, x.shape, name);
            t.deepEqual(y.data, x.data, name);
            t.is(b.entryInfo(name).method, compress ? 8 : 0);
          }
        } finally {
          await a.close();
          await b.close();
        }
        t.deepEqual(await readdir(path.join(dir, 'sub')), ['scan.npz']);
      } finally {
        await src.close?.();
      }
    });
  });
}

const N = 4;
const scan: ScanMeta = {
  N,
  count: 3,
  xcoords: Float64Array.of(1, 2, 3),
  ycoords: Float64Array.of(4, 5, 6),
  origin: 'test',
  probe: { height: N, width: N, re: new Float32Array(N * N).fill(1), im: new Float32Array(N * N) },
};
const frame = (index: number): Frame => ({ index, x: index, y: -index, amplitude: new Float32Array(N * N).fill(index) });

test('a stream with no declared count is spilled first and written whole', async (t) => {
  await withDir(async (dir) => {
    const input = streamOf(() => [frame(0), frame(1), frame(2)], { record: 'frame', scan });
    t.is(input.meta.count, undefined);
    const result = (await runSink(writeNpzSink, { path: 'x.npz' }, [input], testContext({ id: 'out', outDir: dir }))) as { path: string };
    const r = await openNpz(result.path);
    try {
      t.deepEqual(r.header('diffraction').shape, [3, N, N]);
      t.deepEqual(
        [...((await r.readArray('diffraction')).data as Float32Array)].filter((_, k) => k % 16 === 0),
        [0, 1, 2],
      );
      t.deepEqual([...((await r.readArray('ycoords')).data as Float64Array)], [-0, -1, -2]);
      t.false(r.entries().includes('objectGuess'));
    } finally {
      await r.close();
    }
  });
});

test('fewer frames than declared (bad records skipped upstream) give a smaller diffraction that numpy reads', async (t) => {
  await withDir(async (dir) => {
    const ctx = testContext({ id: 'out', baseDir: FIX, outDir: dir });
    const src = (await createStage(npzSource, { path: 'bad_nan_frames.npz', on_error: 'skip' }, [], ctx)) as Stream<Frame>;
    try {
      for (const compress of [false, true]) {
        const out = (await runSink(writeNpzSink, { path: `clean-${compress}.npz`, compress }, [src], ctx)) as { path: string };
        const r = await openNpz(out.path);
        try {
          t.deepEqual(r.header('diffraction').shape, [34, 32, 32]);
          t.is((await r.readArray('xcoords')).shape[0], 34);
          const d = (await r.readArray('diffraction')).data as Float32Array;
          t.false(d.some((v) => Number.isNaN(v) || v < 0));
        } finally {
          await r.close();
        }
        if (haveNumpy) {
          const shape = execFileSync(
            'python3',
            ['-c', 'import sys, numpy as np; d = np.load(sys.argv[1], allow_pickle=False); print(d["diffraction"].shape, d["xcoords"].shape)', out.path],
            { encoding: 'utf8' },
          );
          t.is(shape.trim(), '(34, 32, 32) (34,)');
        }
      }
    } finally {
      await src.close?.();
    }
  });
});

test('bad frames and non-frame streams are refused and leave no file', async (t) => {
  await withDir(async (dir) => {
    const ctx = testContext({ id: 'out', outDir: dir });
    const long = streamOf([frame(0), frame(1)], { record: 'frame', scan, count: 1 });
    await t.throwsAsync(runSink(writeNpzSink, { path: 'a.npz' }, [long], ctx), { instanceOf: DataError, message: /more than the 1 frames/ });
    const wrong = streamOf([{ ...frame(0), amplitude: new Float32Array(5) }], { record: 'frame', scan });
    await t.throwsAsync(runSink(writeNpzSink, { path: 'b.npz' }, [wrong], ctx), { instanceOf: DataError, message: /5 values/ });
    await t.throwsAsync(runSink(writeNpzSink, { path: 'c.npz' }, [streamOf([1], { record: 'group', scan })], ctx), {
      instanceOf: OptionsError,
      message: /frame streams/,
    });
    t.deepEqual(await readdir(dir), []);
  });
});

test('a stream with no frames (on_error: skip dropped them all) is a typed error, and no file is written', async (t) => {
  await withDir(async (dir) => {
    const probe = { height: 4, width: 4, re: new Float32Array(16).fill(1), im: new Float32Array(16) };
    const scan = { N: 4, count: 0, xcoords: new Float64Array(0), ycoords: new Float64Array(0), probe, origin: 'test' } as ScanMeta;
    for (const declared of [true, false]) {
      const empty = declared ? streamOf<Frame>([], { record: 'frame', scan, count: 3 }) : streamOf<Frame>(() => [], { record: 'frame', scan });
      const e = await t.throwsAsync(runSink(writeNpzSink, { path: 'scan.npz' }, [empty], testContext({ id: 'out', outDir: dir })));
      t.true(e instanceof DataError);
      t.is((e as DataError).code, 'NO_FRAMES');
    }
    t.deepEqual(await readdir(dir), []);
  });
});
