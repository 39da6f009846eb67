// The json manifest source on a manifest generated in a temp dir: `file` and
// `stack` frames, positions and probe in the scan meta, random access through
// the frame store, and a missing pattern file refused naming the manifest entry.
import test, { type ExecutionContext } from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataError } from '../../src/errors.js';
import { encodeNpy } from '../../src/io/npy.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import jsonSource from '../../src/sources/json.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';

const N = 8;
const pattern = (j: number): Float32Array => new Float32Array(N * N).map((_, k) => j * 100 + k);

async function scene(t: ExecutionContext, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-json-'));
  try {
    await mkdir(path.join(dir, 'data'));
    const stack = new Float32Array(3 * N * N);
    for (let j = 0; j < 3; j++) stack.set(pattern(10 + j), j * N * N);
    await writeFile(path.join(dir, 'data', 'stack.npy'), encodeNpy({ shape: [3, N, N], data: stack }));
    await writeFile(path.join(dir, 'data', 'f0.npy'), encodeNpy({ shape: [N, N], data: pattern(0) }));
    await writeFile(path.join(dir, 'data', 'f1.npy'), encodeNpy({ shape: [N, N], data: Uint16Array.from(pattern(1)), descr: '<u2' }));
    const probe = new Float32Array(2 * N * N).map((_, k) => (k % 2 === 0 ? 1 : 0.5));
    await writeFile(path.join(dir, 'data', 'probe.npy'), encodeNpy({ shape: [N, N], data: probe, descr: '<c8' }));
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  t.pass();
}

async function open(
  dir: string,
  manifest: unknown,
  options: Record<string, unknown> = {},
  ctx = testContext({ id: 'scan', baseDir: dir }),
): Promise<Stream<Frame>> {
  await writeFile(path.join(dir, 'data', 'scan.json'), JSON.stringify(manifest));
  return (await createStage(jsonSource, { path: 'data/scan.json', ...options }, [], ctx)) as Stream<Frame>;
}

const frames = [
  { x: 10, y: 20, file: 'f0.npy' },
  { x: 11, y: 21, stack: 'stack.npy', index: 2 },
  { x: 12, y: 22, file: 'f1.npy' },
  { x: 13, y: 23, stack: 'stack.npy', index: 0 },
];

test('file and stack frames stream in order with positions, probe and a frame store', async (t) => {
  await scene(t, async (dir) => {
    const s = await open(dir, { probe: 'probe.npy', frames });
    try {
      const scan = s.meta.scan!;
      t.is(s.meta.record, 'frame');
      t.is(scan.N, N);
      t.is(scan.count, 4);
      t.deepEqual([...scan.xcoords], [10, 11, 12, 13]);
      t.deepEqual([...scan.ycoords], [20, 21, 22, 23]);
      t.is(scan.probe.im[0], 0.5);
      const got = await collectStream(s);
      t.deepEqual(
        got.map((f) => [f.index, f.x, f.y]),
        [
          [0, 10, 20],
          [1, 11, 21],
          [2, 12, 22],
          [3, 13, 23],
        ],
      );
      t.deepEqual(got[0]!.amplitude, pattern(0));
      t.deepEqual(got[1]!.amplitude, pattern(12));
      t.deepEqual(got[2]!.amplitude, pattern(1));
      t.deepEqual(got[3]!.amplitude, pattern(10));
      const store = s.frames!;
      t.deepEqual(await store.readMany([3, 1]), [pattern(10), pattern(12)]);
      t.is((await collectStream(s)).length, 4, 're-iterable');
    } finally {
      await s.close?.();
    }
  });
});

test('a missing pattern file is a typed error naming the manifest entry; route sets it aside', async (t) => {
  await scene(t, async (dir) => {
    const manifest = { probe: 'probe.npy', frames: [...frames, { x: 1, y: 2, file: 'gone.npy' }] };
    const s = await open(dir, manifest);
    try {
      const e = await t.throwsAsync(collectStream(s), { instanceOf: DataError, message: /gone\.npy: file not found/ });
      t.is(e.key, 'frames[4]');
      t.true(e.message.startsWith('scan.json [frames[4]]'), e.message);
    } finally {
      await s.close?.();
    }
    const ctx = testContext({ id: 'scan', baseDir: dir });
    const routed = await open(dir, manifest, { on_error: 'route' }, ctx);
    try {
      t.is((await collectStream(routed)).length, 4);
      t.deepEqual(
        ctx.stats.routed.map((r) => r.record),
        [4],
      );
    } finally {
      await routed.close?.();
    }
  });
});

test('a bad pattern is routed when streamed, reported as excluded, and refused when read by index', async (t) => {
  await scene(t, async (dir) => {
    const bad = pattern(2);
    bad[7] = Number.NaN;
    await writeFile(path.join(dir, 'data', 'nan.npy'), encodeNpy({ shape: [N, N], data: bad }));
    const ctx = testContext({ id: 'scan', baseDir: dir });
    const s = await open(dir, { probe: 'probe.npy', frames: [...frames, { x: 1, y: 2, file: 'nan.npy' }] }, { on_error: 'route' }, ctx);
    try {
      t.is((await collectStream(s)).length, 4);
      t.deepEqual(
        ctx.stats.routed.map((r) => r.record),
        [4],
      );
      t.regex(ctx.stats.routed[0]!.message, /pattern 4: .*NaN/);
      const store = s.frames!;
      t.deepEqual(await store.readMany([0]), [pattern(0)]);
      const e = await t.throwsAsync(store.readMany([0, 4]), { instanceOf: DataError, message: /pattern 4: .*NaN/ });
      t.is(e.key, 'frames[4]');
      t.deepEqual([...((await store.excluded?.(new AbortController().signal)) ?? [])], [4], 'the dropped frame is reported, so group can leave it out');
    } finally {
      await s.close?.();
    }
  });
});

test('malformed manifests are refused naming the entry or key', async (t) => {
  await scene(t, async (dir) => {
    await t.throwsAsync(open(dir, { probe: 'probe.npy', frames: [{ x: 1, file: 'f0.npy' }] }), { instanceOf: DataError, message: /\[frames\[0\]\].*x and y/ });
    await t.throwsAsync(open(dir, { probe: 'probe.npy', frames: [frames[0], { x: 1, y: 2, stack: 'stack.npy' }] }), {
      instanceOf: DataError,
      message: /\[frames\[1\]\].*index/,
    });
    await t.throwsAsync(open(dir, { frames }), { instanceOf: DataError, message: /\[probe\]/ });
    await t.throwsAsync(open(dir, { probe: 'missing.npy', frames }), { instanceOf: DataError, message: /\[probe\]: missing\.npy: file not found/ });
    await t.throwsAsync(open(dir, { probe: 'probe.npy', frames: [] }), { instanceOf: DataError, message: /\[frames\]/ });
    await writeFile(path.join(dir, 'data', 'broken.json'), '{"probe": "probe.npy", "frames": [{"x": 1,');
    await t.throwsAsync(createStage(jsonSource, { path: 'data/broken.json' }, [], testContext({ id: 'scan', baseDir: dir })), {
      instanceOf: DataError,
      message: /broken\.json.*JSON/,
    });
    const s = await open(dir, { probe: 'probe.npy', frames: [...frames, { x: 0, y: 0, stack: 'stack.npy', index: 9 }] }, { limit: 4 });
    t.is(s.meta.count, 4);
    await s.close?.();
  });
});
