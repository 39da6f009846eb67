// Tile geometry, the shard model and the merge, without a server.
import test from 'ava';
import { planJob, shardDocument } from '../../src/scale/job.js';
import { mergePartials } from '../../src/scale/merge.js';
import type { Partial } from '../../src/scale/partial.js';
import { coreWeights, tileGeometry, tileGrid } from '../../src/scale/tiles.js';

test('tile grids are as square as K allows', (t) => {
  t.deepEqual([1, 3, 4, 6, 9].map(tileGrid), [
    { kx: 1, ky: 1 },
    { kx: 3, ky: 1 },
    { kx: 2, ky: 2 },
    { kx: 3, ky: 2 },
    { kx: 3, ky: 3 },
  ]);
  t.throws(() => tileGrid(0), { code: 'BAD_SHARDS' });
});

test('tile cores partition the canvas, and each tile reads the positions within its margin', (t) => {
  const xs = new Float64Array(49),
    ys = new Float64Array(49);
  for (let i = 0; i < 49; i++) {
    xs[i] = 8 + 4 * (i % 7);
    ys[i] = 8 + 4 * Math.floor(i / 7);
  }
  const placement = { height: 48, width: 48, originX: 0, originY: 0 };
  const sum = new Float32Array(48 * 48);
  for (let index = 0; index < 6; index++) {
    const g = tileGeometry(xs, ys, 16, { index, kx: 3, ky: 2 });
    coreWeights(g, placement).forEach((w, i) => (sum[i] = sum[i]! + w));
    for (let j = 0; j < 49; j++) {
      const near = xs[j]! >= g.x0 - 16 && xs[j]! < g.x1 + 16 && ys[j]! >= g.y0 - 16 && ys[j]! < g.y1 + 16;
      t.is(g.kept[j] === 1, near);
    }
  }
  t.true(sum.every((w) => w === 1));
});

const partial = (value: number, w: Float32Array): Partial => ({
  height: 1,
  width: w.length,
  origin: [0, 0],
  weight: w,
  sumRe: w.map((x) => x * value),
  sumIm: new Float32Array(w.length),
  covered: new Uint8Array(w.length).fill(1),
  probe: { height: 1, width: 1, re: new Float32Array(1), im: new Float32Array(1) },
});

test('merge divides weighted sums, keyed by shard id so a shard stored twice counts once', (t) => {
  const parts = new Map<string, Partial>([
    ['b', partial(3, Float32Array.of(0, 1, 1))],
    ['a', partial(1, Float32Array.of(1, 1, 0))],
  ]);
  parts.set('b', partial(3, Float32Array.of(0, 1, 1))); // the redelivered shard's second result replaces its first
  const m = mergePartials(parts);
  t.deepEqual([...m.object.re], [1, 2, 3]);
  t.deepEqual([...m.weightSum], [1, 2, 1]);
  t.deepEqual(m.shards, ['a', 'b']);
  const other = new Map(parts).set('c', { ...partial(1, Float32Array.of(1, 1, 1)), origin: [5, 0] });
  t.throws(() => mergePartials(other), { code: 'CANVAS_MISMATCH' });
});

test('a tile shard puts its tile stage in front of every group; per-scan shards set their input', (t) => {
  const doc = {
    sources: { scan: { type: 'npz', path: '/x.npz' } },
    transforms: { g: { type: 'group', inputs: ['scan'] } },
    sinks: { refine: { type: 'refine', inputs: ['g'] } },
  };
  const tiles = planJob({ job: 'j', doc, pipelineFile: 'p.yaml', shards: 'tiles:4' });
  t.is(tiles.shards.length, 4);
  const d = shardDocument(doc, tiles.shards[2]!) as typeof doc & { transforms: Record<string, { type: string; inputs: string[] }> };
  t.deepEqual(d.transforms.g.inputs, ['g__tile']);
  t.like(d.transforms.g__tile, { type: 'scale-tile', inputs: ['scan'], index: 2, kx: 2, ky: 2 });
  t.deepEqual(doc.transforms.g.inputs, ['scan'], 'the job document is left as it was');
  const scans = planJob({ job: 'j', doc, pipelineFile: 'p.yaml', shards: 'per-scan', inputs: ['/d/a.npz', '/e/a.npz'] });
  t.deepEqual(
    scans.shards.map((s) => [s.sets[0], s.output]),
    [
      ['sources.scan.path=/d/a.npz', 'a'],
      ['sources.scan.path=/e/a.npz', 'a-1'],
    ],
  );
  t.throws(() => planJob({ job: 'j', doc: { sources: {}, sinks: { t: { type: 'train' } } }, pipelineFile: 'p', shards: 'tiles:2' }), {
    code: 'NO_GROUP_STAGE',
  });
  t.throws(() => planJob({ job: 'bad id', doc, pipelineFile: 'p' }), { code: 'BAD_ID' });
});
