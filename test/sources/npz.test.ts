// The npz source over the fixtures: canonical stored/deflated scans, the legacy
// fixes (diff3d, integer counts, (N, N, n), (n, N, N, 1)), refusals naming file
// and key, bad patterns under each error policy, re-iteration, the FrameStore,
// and the CRC check of a full sequential pass.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataError, FormatError, OptionsError } from '../../src/errors.js';
import { encodeNpy } from '../../src/io/npy.js';
import { openNpz } from '../../src/io/npz.js';
import { writeNpz } from '../../src/io/npz-writer.js';
import type { Frame, Group, Stream, StreamMeta } from '../../src/pipeline/types.js';
import npzSource from '../../src/sources/npz.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';
import { createLogger } from '../../src/util/log.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/npz');

function ctxWithLog(lines: string[]): ReturnType<typeof testContext> {
  return testContext({ id: 'scan', baseDir: FIX, log: createLogger('info', (_l, _s, m) => lines.push(m)) });
}

async function source(options: Record<string, unknown>, ctx = testContext({ id: 'scan', baseDir: FIX })): Promise<Stream<Frame>> {
  return (await createStage(npzSource, options, [], ctx)) as Stream<Frame>;
}

async function close(s: Stream<unknown>): Promise<void> {
  await s.close?.();
}

for (const file of ['canonical_stored.npz', 'canonical_deflated.npz']) {
  test(`${file}: frames, scan meta and frame store match the archive`, async (t) => {
    const s = await source({ path: file });
    const npz = await openNpz(path.join(FIX, file));
    try {
      const meta: StreamMeta = s.meta;
      t.is(meta.record, 'frame');
      t.is(meta.count, 36);
      const scan = meta.scan!;
      t.is(scan.N, 32);
      t.is(scan.count, 36);
      t.is(scan.origin, path.join(FIX, file));
      t.is(scan.probe.width, 32);
      t.is(scan.object?.height, 96);
      const diff = (await npz.readArray('diffraction')).data as Float32Array;
      const xc = (await npz.readArray('xcoords')).data as Float64Array;
      const frames = await collectStream(s);
      t.is(frames.length, 36);
      for (const f of frames) {
        t.is(f.x, xc[f.index]!);
        t.deepEqual(f.amplitude, diff.subarray(f.index * 1024, (f.index + 1) * 1024));
      }
      const again = await collectStream(s);
      t.deepEqual(
        again.map((f) => f.index),
        frames.map((f) => f.index),
        're-iterable',
      );
      const store = s.frames!;
      const picked = await store.readMany([30, 2, 3, 4, 2]);
      t.deepEqual(
        picked.map((a) => a[0]),
        [30, 2, 3, 4, 2].map((i) => diff[i * 1024]),
      );
      t.deepEqual(await store.read(35), diff.subarray(35 * 1024));
      await t.throwsAsync(store.read(36), { instanceOf: DataError });
    } finally {
      await npz.close();
      await close(s);
    }
  });
}

test('legacy diff3d with integer counts: accepted with notes; input: intensity takes the square root', async (t) => {
  const lines: string[] = [];
  const s = await source({ path: 'legacy_diff3d.npz', input: 'intensity' }, ctxWithLog(lines));
  const npz = await openNpz(path.join(FIX, 'legacy_diff3d.npz'));
  try {
    const raw = (await npz.readArray('diff3d')).data as Uint16Array;
    const frames = await collectStream(s);
    t.is(frames.length, 36);
    const f = frames[7]!;
    for (let k = 0; k < 1024; k += 37) t.is(f.amplitude[k], Math.fround(Math.sqrt(raw[7 * 1024 + k]!)));
    t.true(
      lines.some((l) => l.includes("legacy key 'diff3d'")),
      lines.join('\n'),
    );
    t.true(
      lines.some((l) => l.includes('integer data')),
      lines.join('\n'),
    );
  } finally {
    await npz.close();
    await close(s);
  }
});

test('(N, N, n) is transposed and (n, N, N, 1) squeezed, each with a note', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-npzsrc-'));
  try {
    const n = 5,
      N = 4;
    const frames = new Float32Array(n * N * N).map((_, k) => k);
    const nnN = new Float32Array(n * N * N);
    for (let j = 0; j < n; j++) for (let p = 0; p < N * N; p++) nnN[p * n + j] = frames[j * N * N + p]!;
    const common = {
      xcoords: { shape: [n], data: Float64Array.of(1, 2, 3, 4, 5) },
      ycoords: { shape: [n], data: Float64Array.of(5, 4, 3, 2, 1) },
      probeGuess: { shape: [N, N], data: new Float32Array(2 * N * N).fill(1), descr: '<c8' },
    };
    await writeNpz(path.join(dir, 'nnn.npz'), { diffraction: { shape: [N, N, n], data: nnN }, ...common });
    await writeNpz(path.join(dir, 'sq.npz'), { diffraction: { shape: [n, N, N, 1], data: frames, descr: '<f8' }, ...common });
    for (const [file, note] of [
      ['nnn.npz', 'transposed'],
      ['sq.npz', 'squeezed'],
    ] as const) {
      const lines: string[] = [];
      const s = await source({ path: file }, testContext({ id: 'scan', baseDir: dir, log: createLogger('info', (_l, _s, m) => lines.push(m)) }));
      try {
        const got = await collectStream(s);
        t.is(got.length, n);
        for (const f of got) t.deepEqual(f.amplitude, frames.subarray(f.index * N * N, (f.index + 1) * N * N), `${file} frame ${f.index}`);
        t.deepEqual(await s.frames!.read(3), frames.subarray(3 * N * N, 4 * N * N));
        const into = [new Float32Array(N * N), new Float32Array(N * N)];
        await s.frames!.readInto!([4, 1], into);
        t.deepEqual(into, [frames.slice(4 * N * N, 5 * N * N), frames.slice(N * N, 2 * N * N)], `${file}: readInto`);
        t.true(
          lines.some((l) => l.includes(note)),
          lines.join('\n'),
        );
      } finally {
        await close(s);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const refused: [string, RegExp, string][] = [
  ['bad_missing_diffraction.npz', /missing/, 'diffraction'],
  ['bad_coords_length.npz', /33 entries but there are 36 patterns/, 'xcoords'],
  ['bad_object_array.npz', /pickle/, 'obj'],
  ['bad_header.npz', /header/, 'diffraction'],
];
for (const [file, message, key] of refused) {
  test(`${file} is refused naming file and key`, async (t) => {
    const e = await t.throwsAsync(source({ path: file }), { instanceOf: DataError, message });
    t.is(e.key, key);
    t.true(e.message.startsWith(`${file} [${key}]`), e.message);
  });
}

test('bad_truncated.npz and bad_not_a_zip.npz are refused as FormatErrors naming the file', async (t) => {
  for (const file of ['bad_truncated.npz', 'bad_not_a_zip.npz']) {
    const e = await t.throwsAsync(source({ path: file }), { instanceOf: FormatError });
    t.true(e.message.startsWith(file), e.message);
  }
});

test('bad_crc.npz: a full sequential pass reports the CRC mismatch of diffraction', async (t) => {
  const s = await source({ path: 'bad_crc.npz' });
  try {
    const e = await t.throwsAsync(collectStream(s), { instanceOf: FormatError, message: /CRC-32/ });
    t.is(e.key, 'diffraction');
  } finally {
    await close(s);
  }
});

test('bad_nan_frames.npz: route yields 34 good frames and routes 5 and 9; fail throws; skip counts', async (t) => {
  const ctx = testContext({ id: 'scan', baseDir: FIX });
  const s = await source({ path: 'bad_nan_frames.npz', on_error: 'route' }, ctx);
  try {
    const frames = await collectStream(s);
    t.is(frames.length, 34);
    t.false(frames.some((f) => f.index === 5 || f.index === 9));
    t.is(ctx.stats.errors, 2);
    t.deepEqual(
      ctx.stats.routed.map((r) => r.record),
      [5, 9],
    );
    t.regex(ctx.stats.routed[0]!.message, /NaN/);
    t.regex(ctx.stats.routed[1]!.message, /negative/);
  } finally {
    await close(s);
  }
  const failing = await source({ path: 'bad_nan_frames.npz' });
  try {
    const e = await t.throwsAsync(collectStream(failing), { instanceOf: DataError, message: /pattern 5: .*NaN/ });
    t.true(e.message.startsWith('bad_nan_frames.npz [diffraction]'), e.message);
  } finally {
    await close(failing);
  }
  const skipCtx = testContext({ id: 'scan', baseDir: FIX });
  const skipping = await source({ path: 'bad_nan_frames.npz', on_error: 'skip' }, skipCtx);
  try {
    t.is((await collectStream(skipping)).length, 34);
    t.is(skipCtx.stats.errors, 2);
    t.is(skipCtx.stats.routed.length, 0);
  } finally {
    await close(skipping);
  }
});

test('bad_nan_frames.npz: frames read by index are checked too, and a bad one is an error naming file, key and pattern', async (t) => {
  // Even under on_error: route — a grouping stage cannot leave a member out.
  const s = await source({ path: 'bad_nan_frames.npz', on_error: 'route' });
  try {
    const store = s.frames!;
    const good = await store.readMany([3, 4, 6]);
    t.is(good.length, 3);
    const e = await t.throwsAsync(store.readMany([4, 5, 6]), { instanceOf: DataError, message: /pattern 5: .*NaN/ });
    t.true(e.message.startsWith('bad_nan_frames.npz [diffraction]'), e.message);
    t.is(e.key, 'diffraction');
    await t.throwsAsync(store.read(9), { instanceOf: DataError, message: /pattern 9: .*negative/ });
  } finally {
    await close(s);
  }
});

test('bad_nan_frames.npz under route: the source drops 5 and 9 and group leaves them out, with or without a pass before it', async (t) => {
  const lines: string[] = [];
  const ctx = ctxWithLog(lines);
  const s = await source({ path: 'bad_nan_frames.npz', on_error: 'route' }, ctx);
  try {
    const norm = (await createStage(normalize, {}, [s], testContext({ id: 'normalize' }))) as Stream<Frame>;
    const gctx = ctxWithLog(lines);
    const grouped = (await createStage(group, { gridsize: 2, k: 7 }, [norm], { ...gctx, id: 'group' })) as Stream<Group>;
    const groups = await collectStream(grouped);
    t.is(groups.length, 34);
    for (const g of groups) {
      t.false(g.indices.includes(5) || g.indices.includes(9), `group ${g.index}: ${[...g.indices].join(',')}`);
      t.false(g.amplitudes.some((v) => !Number.isFinite(v) || v < 0));
    }
    t.deepEqual(
      ctx.stats.routed.map((r) => r.record),
      [5, 9],
    );
    t.true(
      lines.some((l) => /2 position\(s\) left out.*5, 9/.test(l)),
      lines.join('\n'),
    );
  } finally {
    await close(s);
  }
  // With the factor given there is no streamed pass first: the source still knows its exclusions (it checks the rest when asked).
  const dctx = testContext({ id: 'scan', baseDir: FIX });
  const direct = await source({ path: 'bad_nan_frames.npz', on_error: 'route' }, dctx);
  try {
    const norm = (await createStage(normalize, { factor: 1 }, [direct])) as Stream<Frame>;
    const grouped = (await createStage(group, { gridsize: 2, k: 7 }, [norm])) as Stream<Group>;
    t.is((await collectStream(grouped)).length, 34);
    t.deepEqual(
      dctx.stats.routed.map((r) => r.record),
      [5, 9],
    );
  } finally {
    await close(direct);
  }
});

test('probe: a probe from another file (.npy, .npz, FILE.npz:KEY) replaces probeGuess; wrong size, missing file or key are clear errors', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-npzprobe-'));
  try {
    const n = 3,
      N = 4;
    const probe = Float32Array.from({ length: 2 * N * N }, (_, k) => (k % 7) - 3);
    await writeNpz(path.join(dir, 'scan.npz'), {
      diffraction: { shape: [n, N, N], data: new Float32Array(n * N * N).fill(1) },
      xcoords: { shape: [n], data: Float64Array.of(1, 2, 3) },
      ycoords: { shape: [n], data: Float64Array.of(3, 2, 1) },
      probeGuess: { shape: [N, N], data: new Float32Array(2 * N * N).fill(1), descr: '<c8' },
    });
    await writeFile(path.join(dir, 'p.npy'), encodeNpy({ shape: [N, N], data: probe, descr: '<c8' }));
    await writeNpz(path.join(dir, 'recon.npz'), {
      object: { shape: [2, 2], data: new Float32Array(8), descr: '<c8' },
      probe: { shape: [N, N], data: probe, descr: '<c8' },
      refined: { shape: [N, N], data: probe.map((v) => 2 * v), descr: '<c8' },
    });
    await writeNpz(path.join(dir, 'small.npz'), { probeGuess: { shape: [2, 2], data: new Float32Array(8), descr: '<c8' } });
    const open = (o: Record<string, unknown>, lines: string[] = []): Promise<Stream<Frame>> =>
      createStage(
        npzSource,
        { path: 'scan.npz', ...o },
        [],
        testContext({ id: 'scan', baseDir: dir, log: createLogger('info', (_l, _s, m) => lines.push(m)) }),
      ) as Promise<Stream<Frame>>;
    for (const [spec, factor] of [
      ['p.npy', 1],
      ['recon.npz', 1],
      ['recon.npz:refined', 2],
    ] as const) {
      const lines: string[] = [];
      const s = await open({ probe: spec }, lines);
      try {
        const got = s.meta.scan!.probe;
        t.deepEqual([got.width, got.height], [N, N]);
        for (let i = 0; i < N * N; i++) {
          t.is(got.re[i], factor * probe[2 * i]!);
          t.is(got.im[i], factor * probe[2 * i + 1]!);
        }
        t.true(
          lines.some((l) => l.includes('instead of scan.npz')),
          spec,
        );
      } finally {
        await close(s);
      }
    }
    const size = await t.throwsAsync(open({ probe: 'small.npz' }), { instanceOf: OptionsError, message: /2×2 but the patterns are 4×4/ });
    t.is(size.key, 'probe');
    const missing = await t.throwsAsync(open({ probe: 'nope.npy' }), { instanceOf: OptionsError, message: /probe file not found/ });
    t.is(missing.key, 'probe');
    await t.throwsAsync(open({ probe: 'recon.npz:nokey' }), { instanceOf: DataError, message: /no nokey array.*object, probe, refined/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('limit reads the first patterns only; unknown options are rejected', async (t) => {
  const s = await source({ path: 'canonical_stored.npz', limit: 10 });
  try {
    t.is(s.meta.scan!.count, 10);
    t.is(s.meta.scan!.xcoords.length, 10);
    t.is((await collectStream(s)).length, 10);
  } finally {
    await close(s);
  }
  await t.throwsAsync(source({ path: 'canonical_stored.npz', bogus: 1 }));
  await t.throwsAsync(source({ path: 'nope.npz' }), { instanceOf: DataError, message: /not found/ });
});

test('close() closes the store; reads after close are refused', async (t) => {
  const s = await source({ path: 'canonical_deflated.npz' });
  await s.frames!.read(0);
  await close(s);
  await t.throwsAsync(s.frames!.read(0), { instanceOf: DataError, message: /closed/ });
  await close(s);
});

// readInto is group's read path (into fixed frame slots): it must give what
// readMany gives on every layout — float32 read in place (stored and deflated),
// integer counts converted through a scratch block, square roots for
// intensities — whether the targets lie back to back or not.
for (const [file, options] of [
  ['canonical_stored.npz', {}],
  ['canonical_deflated.npz', {}],
  ['legacy_diff3d.npz', { input: 'intensity' }],
] as const) {
  test(`${file}: readInto gives what readMany gives, into back-to-back and scattered targets`, async (t) => {
    const s = await source({ path: file, ...options });
    try {
      const store = s.frames!;
      const NN = store.N * store.N;
      const ids = [4, 5, 6, 7, 20, 2, 3, 35, 0];
      const want = await store.readMany(ids);
      // Back to back, in ascending order (one read per run, straight into place).
      const sorted = [...ids].sort((a, b) => a - b);
      const block = new Float32Array(sorted.length * NN).fill(-1);
      await store.readInto!(
        sorted,
        sorted.map((_, j) => block.subarray(j * NN, (j + 1) * NN)),
      );
      sorted.forEach((id, j) => t.deepEqual(block.subarray(j * NN, (j + 1) * NN), want[ids.indexOf(id)], `frame ${id}, back to back`));
      // Scattered: every other slot of a larger array, in the order asked.
      const sparse = new Float32Array(2 * ids.length * NN).fill(-1);
      await store.readInto!(
        ids,
        ids.map((_, j) => sparse.subarray(2 * j * NN, (2 * j + 1) * NN)),
      );
      ids.forEach((id, j) => {
        t.deepEqual(sparse.subarray(2 * j * NN, (2 * j + 1) * NN), want[j], `frame ${id}, scattered`);
        t.true(
          sparse.subarray((2 * j + 1) * NN, (2 * j + 2) * NN).every((v) => v === -1),
          'nothing written between targets',
        );
      });
      await t.throwsAsync(store.readInto!([1, 2], [block.subarray(0, NN)]), { instanceOf: RangeError });
      await t.throwsAsync(store.readInto!([36], [block.subarray(0, NN)]), { instanceOf: DataError });
    } finally {
      await close(s);
    }
  });
}

test('readInto checks the frames it reads: a NaN pattern is an error naming file, key and pattern', async (t) => {
  const s = await source({ path: 'bad_nan_frames.npz', on_error: 'route' });
  try {
    const store = s.frames!;
    const NN = store.N * store.N;
    const out = [0, 1, 2].map(() => new Float32Array(NN));
    await store.readInto!([3, 4, 6], out);
    await t.throwsAsync(store.readInto!([4, 5, 6], out), { instanceOf: DataError, message: /bad_nan_frames\.npz \[diffraction\].*pattern 5: .*NaN/ });
  } finally {
    await close(s);
  }
});

test('openBorrowed: the same frames as open, over reused blocks (valid until the next), and the CRC is still checked', async (t) => {
  const s = await source({ path: 'canonical_stored.npz' });
  try {
    const plain = await collectStream(s);
    const copies: Float32Array[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const f of s.openBorrowed!(new AbortController().signal)) {
      copies.push(f.amplitude.slice());
      buffers.add(f.amplitude.buffer);
    }
    t.deepEqual(
      copies,
      plain.map((f) => f.amplitude),
    );
    t.true(buffers.size <= 2, `${buffers.size} blocks for 36 patterns`);
  } finally {
    await close(s);
  }
  const bad = await source({ path: 'bad_crc.npz' });
  try {
    await t.throwsAsync(
      (async () => {
        for await (const _ of bad.openBorrowed!(new AbortController().signal));
      })(),
      { instanceOf: FormatError, message: /CRC-32/ },
    );
  } finally {
    await close(bad);
  }
});
