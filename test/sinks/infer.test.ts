// The infer sink: patches land at their absolute scan positions (a stand-in
// predictor that returns the true object patches must reproduce the object,
// for gridsize 1 and 2), every batch and prediction is disposed, and the sink
// run on a checkpoint writes the NPZ (object/amplitude/phase/probe) and PNGs.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { selectBackend } from '../../src/backend/select.js';
import { openNpz } from '../../src/io/npz.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { modelConfigSchema } from '../../src/model/config.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import type { Complex2D, ScanMeta, Stream, TensorBatch } from '../../src/pipeline/types.js';
import infer, { stitchPredictions, type PatchPredictor } from '../../src/sinks/infer.js';
import { placementFor } from '../../src/sinks/shared/reconstruction.js';
import { runSink, testContext } from '../../src/testing/index.js';

const N = 16;
const SIZE = 44;

/** An object with no symmetry, so a misplaced or mirrored patch cannot match. */
function truthObject(): Complex2D {
  const re = new Float32Array(SIZE * SIZE),
    im = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const a = 0.5 + 0.01 * x + (0.003 * y * y) / SIZE + 0.1 * Math.sin((x * y) / 37);
      const p = 0.05 * x - 0.03 * y + 0.4 * Math.cos(x / 5 + y / 7);
      re[y * SIZE + x] = a * Math.cos(p);
      im[y * SIZE + x] = a * Math.sin(p);
    }
  }
  return { height: SIZE, width: SIZE, re, im };
}

function flatProbe(): Complex2D {
  return { height: N, width: N, re: new Float32Array(N * N).fill(1), im: new Float32Array(N * N) };
}

/** A raster of integer positions, `step` apart, whose windows stay inside the object. */
function raster(step: number): { xs: number[]; ys: number[]; cols: number } {
  const xs: number[] = [],
    ys: number[] = [];
  let cols = 0;
  for (let y = N / 2; y <= SIZE - N / 2; y += step) {
    cols = 0;
    for (let x = N / 2; x <= SIZE - N / 2; x += step, cols++) {
      xs.push(x);
      ys.push(y);
    }
  }
  return { xs, ys, cols };
}

interface Fixture {
  scan: ScanMeta;
  stream: Stream<TensorBatch>;
  predictor: PatchPredictor;
  live: { batches: number; predictions: number };
}

/**
 * Groups of g×g neighbouring raster positions (every position in some group),
 * batched; the stand-in predictor answers each batch with the true object patches
 * of its members, looked up by the batch's X tensor.
 */
function fixture(gridsize: number, batchSize: number): Fixture {
  const object = truthObject();
  const { xs, ys, cols } = raster(4);
  const rows = xs.length / cols,
    C = gridsize * gridsize;
  const groups: number[][] = [];
  for (let r = 0; r + gridsize <= rows; r += gridsize === 1 ? 1 : gridsize - 1) {
    for (let c = 0; c + gridsize <= cols; c += gridsize === 1 ? 1 : gridsize - 1) {
      const g: number[] = [];
      for (let k = 0; k < C; k++) g.push((r + Math.floor(k / gridsize)) * cols + c + (k % gridsize));
      // Members in a scrambled channel order, so channel c ≠ grid cell c.
      groups.push(gridsize === 1 ? g : [g[2]!, g[0]!, g[3]!, g[1]!, ...g.slice(4)]);
    }
  }
  const scan: ScanMeta = { N, count: xs.length, xcoords: Float64Array.from(xs), ycoords: Float64Array.from(ys), probe: flatProbe(), object, origin: 'test' };
  const answers = new Map<number, { re: Float32Array; im: Float32Array; shape: [number, number, number, number] }>();
  const live = { batches: 0, predictions: 0 };
  const stream: Stream<TensorBatch> = {
    meta: { record: 'tensor-batch', scan, count: Math.ceil(groups.length / batchSize), normalization: 1, gridsize },
    open(signal: AbortSignal): AsyncIterable<TensorBatch> {
      return (async function* () {
        for (let s = 0; s < groups.length; s += batchSize) {
          signal.throwIfAborted();
          const members = groups.slice(s, s + batchSize),
            B = members.length;
          const coords = new Float32Array(B * 2 * C),
            centers = new Float64Array(2 * B);
          const pre = new Float32Array(B * N * N * C),
            pim = new Float32Array(B * N * N * C);
          members.forEach((g, b) => {
            const cx = g.reduce((a, j) => a + xs[j]!, 0) / C,
              cy = g.reduce((a, j) => a + ys[j]!, 0) / C;
            centers[2 * b] = cx;
            centers[2 * b + 1] = cy;
            g.forEach((j, c) => {
              coords[b * 2 * C + c] = cx - xs[j]!;
              coords[b * 2 * C + C + c] = cy - ys[j]!;
              for (let r = 0; r < N; r++) {
                for (let q = 0; q < N; q++) {
                  const o = (ys[j]! - N / 2 + r) * SIZE + xs[j]! - N / 2 + q,
                    p = ((b * N + r) * N + q) * C + c;
                  pre[p] = object.re[o]!;
                  pim[p] = object.im[o]!;
                }
              }
            });
          });
          const X = tf.zeros<tf.Rank.R4>([B, N, N, C]),
            ct = tf.tensor4d(coords, [B, 1, 2, C]);
          answers.set(X.id, { re: pre, im: pim, shape: [B, N, N, C] });
          live.batches++;
          let disposed = false;
          yield {
            size: B,
            N,
            C,
            X,
            coords: ct,
            centers,
            indices: Int32Array.from(members.flat()),
            groups: Int32Array.from(members.map((_, b) => s + b)),
            dispose(): void {
              if (disposed) return;
              disposed = true;
              live.batches--;
              answers.delete(X.id);
              X.dispose();
              ct.dispose();
            },
          };
        }
      })();
    },
  };
  const predictor: PatchPredictor = {
    predict(X) {
      const a = answers.get(X.id);
      if (a === undefined) throw new Error('predict called with an unknown or disposed batch');
      live.predictions++;
      return { re: tf.tensor4d(a.re, a.shape), im: tf.tensor4d(a.im, a.shape) };
    },
  };
  return { scan, stream, predictor, live };
}

// The model runs on wasm (conv on cpu is far too slow); tensor counts are global, so every test is serial.
test.before(async () => {
  await selectBackend('wasm');
});

for (const [gridsize, alignPhase] of [
  [1, false],
  [2, false],
  [2, true],
] as const) {
  test.serial(`stand-in predictions of the true patches reproduce the object (gridsize ${gridsize}${alignPhase ? ', phase alignment on' : ''})`, async (t) => {
    const before = tf.memory().numTensors;
    const f = fixture(gridsize, 3);
    const placement = placementFor(f.scan);
    t.deepEqual(placement, { originX: 0, originY: 0, width: SIZE, height: SIZE });
    const r = await stitchPredictions(f.stream, f.predictor, { N, M: N / 2, placement, signal: new AbortController().signal, alignPhase });
    // Consistent patches: alignment turns every overlapping patch by ~0.
    t.is(r.aligned > 0, alignPhase);
    t.true(r.meanAlignRadians < 1e-5, `mean turn ${r.meanAlignRadians}`);
    t.true(r.patches > 0);
    t.is(r.object.width, SIZE);
    let covered = 0,
      worst = 0;
    for (let i = 0; i < SIZE * SIZE; i++) {
      if (r.covered[i] === 0) continue;
      covered++;
      worst = Math.max(worst, Math.abs(r.object.re[i]! - f.scan.object!.re[i]!), Math.abs(r.object.im[i]! - f.scan.object!.im[i]!));
    }
    // The central M×M of windows from 8..36 step 4 covers object pixels 4..39.
    t.is(covered, 36 * 36);
    t.true(worst < (alignPhase ? 1e-5 : 1e-6), `largest difference ${worst}`);
    t.is(f.live.batches, 0, 'every batch disposed');
    t.is(tf.memory().numTensors, before, 'no tensor leaked');
  });
}

test('the canvas reaches below 0 when windows do, and covers the object', (t) => {
  const f = fixture(1, 4);
  const shifted: ScanMeta = { ...f.scan, xcoords: f.scan.xcoords.map((x) => x - 10), ycoords: f.scan.ycoords.map((y) => y + 3) };
  const p = placementFor(shifted);
  t.is(p.originX, -10);
  t.is(p.originY, 0);
  t.is(p.width, SIZE + 10);
  t.true(p.height >= SIZE + 3);
});

test.serial('an abort stops stitching and still disposes the batch in hand', async (t) => {
  const before = tf.memory().numTensors;
  const f = fixture(2, 2);
  const controller = new AbortController();
  const predictor: PatchPredictor = {
    predict(X, coords) {
      controller.abort(new Error('stop'));
      return f.predictor.predict(X, coords);
    },
  };
  await t.throwsAsync(stitchPredictions(f.stream, predictor, { N, M: 8, placement: placementFor(f.scan), signal: controller.signal }), { message: 'stop' });
  t.is(f.live.batches, 0);
  t.is(tf.memory().numTensors, before);
});

test.serial('infer on a checkpoint writes the NPZ and the PNGs, and leaks nothing', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-infer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const f = fixture(1, 8);
  const before = tf.memory().numTensors;
  const config = modelConfigSchema.parse({ N, gridsize: 1, n_filters_scale: 1 });
  const model = PtychoPINN.create(config, f.scan.probe, 3);
  try {
    await saveCheckpoint(path.join(dir, 'checkpoint'), model, {
      config,
      normalization: 1,
      intensityScale: model.intensityScale(),
      epoch: 0,
      seed: 3,
      history: [],
    });
  } finally {
    model.dispose();
  }
  // The real model ignores the stand-in's answers; only shapes and files matter here.
  const result = (await runSink(infer, {}, [f.stream], testContext({ id: 'infer', outDir: dir }))) as Record<string, unknown>;
  t.deepEqual(result.shape, [SIZE, SIZE]);
  t.is(result.patches, f.scan.count);
  const npz = await openNpz(result.npz as string);
  try {
    t.deepEqual(npz.entries().sort(), ['amplitude', 'object', 'origin', 'phase', 'probe']);
    t.deepEqual(npz.header('object').shape, [SIZE, SIZE]);
    t.is(npz.header('object').descr, '<c8');
    t.deepEqual(npz.header('probe').shape, [N, N]);
    const amp = (await npz.readArray('amplitude')).data as Float32Array;
    t.true(amp.every((v) => Number.isFinite(v)));
  } finally {
    await npz.close();
  }
  for (const png of [result.amplitude_png, result.phase_png] as string[]) {
    const bytes = await readFile(png);
    t.is(bytes.subarray(1, 4).toString('latin1'), 'PNG');
  }
  t.is(f.live.batches, 0);
  t.is(tf.memory().numTensors, before, 'no tensor leaked');
});
