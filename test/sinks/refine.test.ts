// The refine sink on tiny simulated scans (simulate → normalize → group(1) →
// batch → tensorify; N = 16, wasm backend): from a flat start the object
// converges towards the truth and the data misfit falls; from a scaled truth the
// first pass recovers the scale (1/3 of the data's normalisation); a distorted
// probe is repaired by refine_probe; jittered
// (sub-pixel) positions work through the bilinear taps; the window indices are
// right; empty input, an abort and bad inputs give typed errors and write
// nothing; no tensor outlives the stage.
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { selectBackend } from '../../src/backend/select.js';
import { openNpz } from '../../src/io/npz.js';
import { evaluateObject } from '../../src/physics/metrics.js';
import { TensorLedger } from '../../src/pipeline/ledger.js';
import type { Complex2D, ScanMeta, StageContext, Stream, TensorBatch } from '../../src/pipeline/types.js';
import simulate from '../../src/sources/simulate.js';
import batch from '../../src/transforms/batch.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import tensorify from '../../src/transforms/tensorify.js';
import { scanCrop } from '../../src/sinks/shared/object-frame.js';
import { placementFor, writeReconstruction } from '../../src/sinks/shared/reconstruction.js';
import refine, { windowTaps } from '../../src/sinks/refine.js';
import { createStage, runSink, streamOf, testContext } from '../../src/testing/index.js';

const N = 16;

test.before(async () => {
  await selectBackend('wasm');
});

interface Chain {
  stream: Stream<TensorBatch>;
  scan: ScanMeta;
  normalization: number;
  close(): Promise<void>;
}

async function chain(jitter = 0): Promise<Chain> {
  const ledger = new TensorLedger();
  const ctx = (id: string): StageContext => testContext({ id, seed: 3, ledger });
  const scan = await createStage(simulate, { N, object: { kind: 'image', size: 40 }, scan: { step: 3, jitter }, nphotons: 1e8 }, [], ctx('scan'));
  const norm = await createStage(normalize, {}, [scan], ctx('normalize'));
  const groups = await createStage(group, { gridsize: 1 }, [norm], ctx('group'));
  const batches = await createStage(batch, { batch_size: 16 }, [groups], ctx('batch'));
  const stream = (await createStage(tensorify, {}, [batches], ctx('tensorify'))) as Stream<TensorBatch>;
  const all = [stream, batches, groups, norm, scan];
  return {
    stream,
    scan: stream.meta.scan!,
    normalization: stream.meta.normalization!,
    close: async () => {
      for (const st of all) await st.close?.();
    },
  };
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-refine-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function readObject(file: string): Promise<Complex2D & { origin: [number, number] }> {
  const npz = await openNpz(file);
  try {
    const a = await npz.readArray('object');
    const o = (await npz.readArray('origin')).data as Float64Array;
    const [h, w] = a.shape as [number, number];
    const d = a.data as Float32Array,
      re = new Float32Array(h * w),
      im = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) {
      re[i] = d[2 * i]!;
      im[i] = d[2 * i + 1]!;
    }
    return { height: h, width: w, re, im, origin: [o[0]!, o[1]!] };
  } finally {
    await npz.close();
  }
}

/** The truth cut to the canvas of `placement` (zero outside the object). */
function truthOnCanvas(scan: ScanMeta): Complex2D {
  const p = placementFor(scan),
    t = scan.object!;
  const re = new Float32Array(p.width * p.height),
    im = new Float32Array(p.width * p.height);
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const ty = y + p.originY,
        tx = x + p.originX;
      if (ty < 0 || tx < 0 || ty >= t.height || tx >= t.width) continue;
      re[y * p.width + x] = t.re[ty * t.width + tx]!;
      im[y * p.width + x] = t.im[ty * t.width + tx]!;
    }
  }
  return { height: p.height, width: p.width, re, im };
}

/** Writes a starting point the way infer does (NPZ with object, probe and origin on the scan's canvas). */
async function writeStart(dir: string, name: string, scan: ScanMeta, object: Complex2D, probe: Complex2D): Promise<void> {
  const files = { npz: path.join(dir, name), amplitude_png: path.join(dir, 'start-amplitude.png'), phase_png: path.join(dir, 'start-phase.png') };
  await writeReconstruction(files, { object, covered: new Uint8Array(object.re.length).fill(1), placement: placementFor(scan) }, probe, 'start');
}

const scoreOpts = (scan: ScanMeta) => ({ crop: scanCrop(scan, 0) });

test.serial('from a flat start the misfit falls and the object approaches the truth; files written, nothing leaks', async (t) => {
  const before = tf.memory().numTensors;
  const dir = await tempDir(t);
  const c = await chain();
  try {
    const r = (await runSink(refine, { epochs: 20, lr: 0.05, final_lr: 1e-3 }, [c.stream], testContext({ id: 'refine', outDir: dir }))) as Record<
      string,
      unknown
    >;
    t.is(r['passes'], 20);
    t.is(r['stopped'], 'epochs');
    t.true((r['final_loss'] as number) < (r['start_loss'] as number) / 10, `loss ${String(r['start_loss'])} → ${String(r['final_loss'])}`);
    const history = JSON.parse(readFileSync(path.join(dir, 'refine_history.json'), 'utf8')) as { loss: number }[];
    t.is(history.length, 20);
    const refined = await readObject(path.join(dir, 'refined.npz'));
    const p = placementFor(c.scan);
    t.deepEqual(refined.origin, [p.originX, p.originY]);
    const truth = c.scan.object!;
    // Score on object coordinates: the canvas starts at the object's pixel (0, 0) here.
    t.deepEqual([p.originX, p.originY], [0, 0]);
    const cropped: Complex2D = {
      height: truth.height,
      width: truth.width,
      re: new Float32Array(truth.height * truth.width),
      im: new Float32Array(truth.height * truth.width),
    };
    for (let y = 0; y < truth.height; y++) {
      cropped.re.set(refined.re.subarray(y * refined.width, y * refined.width + truth.width), y * truth.width);
      cropped.im.set(refined.im.subarray(y * refined.width, y * refined.width + truth.width), y * truth.width);
    }
    const score = evaluateObject(truth, cropped, scoreOpts(c.scan));
    t.log(
      `SSIM amplitude ${score.amplitude.ssim.toFixed(3)}, phase ${score.phase.ssim.toFixed(3)}; loss ${String(r['start_loss'])} → ${String(r['final_loss'])}`,
    );
    t.true(score.amplitude.ssim > 0.9, `amplitude SSIM ${score.amplitude.ssim}`);
    t.true(score.phase.ssim > 0.9, `phase SSIM ${score.phase.ssim}`);
    for (const f of ['refined_amplitude.png', 'refined_phase.png', 'refine_loss.png'])
      t.deepEqual([...readFileSync(path.join(dir, f)).subarray(1, 4)], [0x50, 0x4e, 0x47], f);
  } finally {
    await c.close();
  }
  t.is(tf.memory().numTensors, before);
});

test.serial('starting from 3× the truth: the scale fit divides by 3 (in normalised units) and the misfit starts near zero', async (t) => {
  const dir = await tempDir(t);
  const c = await chain();
  try {
    const truth = truthOnCanvas(c.scan);
    const object: Complex2D = { ...truth, re: truth.re.map((v) => 3 * v), im: truth.im.map((v) => 3 * v) };
    await writeStart(dir, 'start.npz', c.scan, object, c.scan.probe);
    const before = tf.memory().numTensors;
    const r = (await runSink(refine, { reconstruction: 'start.npz', epochs: 1 }, [c.stream], testContext({ id: 'refine', outDir: dir }))) as Record<
      string,
      number
    >;
    t.is(tf.memory().numTensors, before);
    // The data are the truth's far field (with counting noise at 1e8) times the normalisation factor.
    t.true(Math.abs(r['scale']! / (c.normalization / 3) - 1) < 2e-3, `scale ${r['scale']} vs ${c.normalization / 3}`);
    // Noise only: relative misfit ~ 1e-4 of the mean squared amplitude.
    t.true(r['start_loss']! < (1e-3 * (N / 2) ** 2) / N ** 2, `start loss ${r['start_loss']}`);
  } finally {
    await c.close();
  }
});

test.serial('refine_probe: with a distorted probe, refining it too fits the data far better than keeping it fixed', async (t) => {
  const dir = await tempDir(t);
  const c = await chain();
  try {
    const truth = truthOnCanvas(c.scan),
      p = c.scan.probe;
    // The true probe with a smooth amplitude ripple: wrong, but a fair start.
    const re = new Float32Array(N * N),
      im = new Float32Array(N * N);
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        const k = y * N + x,
          f = 1 + 0.4 * Math.cos((2 * Math.PI * x) / N) * Math.sin((2 * Math.PI * y) / N);
        re[k] = f * p.re[k]!;
        im[k] = f * p.im[k]!;
      }
    }
    const distorted: Complex2D = { height: N, width: N, re, im };
    await writeStart(dir, 'start.npz', c.scan, truth, distorted);
    const before = tf.memory().numTensors;
    const opts = { reconstruction: 'start.npz', epochs: 8, lr: 0.02, final_lr: 1e-3 };
    const fixed = (await runSink(refine, { ...opts, npz: 'fixed.npz' }, [c.stream], testContext({ id: 'refine', outDir: dir }))) as Record<
      string,
      number | null
    >;
    const joint = (await runSink(refine, { ...opts, refine_probe: 1, npz: 'joint.npz' }, [c.stream], testContext({ id: 'refine', outDir: dir }))) as Record<
      string,
      number | null
    >;
    t.is(tf.memory().numTensors, before);
    t.is(fixed['probe_refined_from'], null);
    t.is(joint['probe_refined_from'], 1);
    t.log(`misfit with the probe fixed ${fixed['final_loss']}, refined ${joint['final_loss']} (start ${joint['start_loss']})`);
    t.true(joint['final_loss']! < 0.5 * fixed['final_loss']!);
    // The joint NPZ holds the refined probe: closer to the truth's shape than the distorted start.
    const npz = await openNpz(path.join(dir, 'joint.npz'));
    let probeOut: Float32Array;
    try {
      probeOut = (await npz.readArray('probe')).data as Float32Array;
    } finally {
      await npz.close();
    }
    // Compare |P| up to one overall factor (object and probe share a scale).
    const amp = (r: number, i: number): number => Math.hypot(r, i);
    const misfit = (get: (k: number) => number): number => {
      let num = 0,
        den = 0;
      for (let k = 0; k < N * N; k++) {
        num += get(k) * amp(p.re[k]!, p.im[k]!);
        den += get(k) ** 2;
      }
      const s = num / den;
      let e = 0;
      for (let k = 0; k < N * N; k++) e += (s * get(k) - amp(p.re[k]!, p.im[k]!)) ** 2;
      return e;
    };
    const errStart = misfit((k) => amp(re[k]!, im[k]!)),
      errEnd = misfit((k) => amp(probeOut[2 * k]!, probeOut[2 * k + 1]!));
    t.log(`probe amplitude error: start ${errStart}, refined ${errEnd}`);
    t.true(errEnd < 0.5 * errStart);
  } finally {
    await c.close();
  }
});

test.serial('sub-pixel (jittered) positions: bilinear windows, the misfit falls', async (t) => {
  const dir = await tempDir(t);
  const c = await chain(0.7);
  try {
    t.false(Array.from(c.scan.xcoords).every(Number.isInteger));
    const before = tf.memory().numTensors;
    const r = (await runSink(refine, { epochs: 6, lr: 0.05, final_lr: 1e-3 }, [c.stream], testContext({ id: 'refine', outDir: dir }))) as Record<
      string,
      number
    >;
    t.is(tf.memory().numTensors, before);
    t.true(r['final_loss']! < r['start_loss']! / 3, `loss ${r['start_loss']} → ${r['final_loss']}`);
  } finally {
    await c.close();
  }
});

test.serial('a time budget stops after the pass that leaves less than half a pass', async (t) => {
  const dir = await tempDir(t);
  const c = await chain();
  try {
    const r = (await runSink(refine, { epochs: 50, max_minutes: 1e-6 }, [c.stream], testContext({ id: 'refine', outDir: dir }))) as Record<string, unknown>;
    t.is(r['passes'], 1);
    t.is(r['stopped'], 'time_budget');
  } finally {
    await c.close();
  }
});

test.serial('empty input is a typed error; an abort mid-run rethrows, writes nothing and leaves no tensor behind', async (t) => {
  const dir = await tempDir(t);
  const c = await chain();
  try {
    const before = tf.memory().numTensors;
    const empty = streamOf<TensorBatch>([], { record: 'tensor-batch', scan: c.scan });
    const e1 = await t.throwsAsync(runSink(refine, {}, [empty], testContext({ id: 'refine', outDir: dir })));
    t.regex(e1.message, /yielded no batches/);
    t.is((e1 as { code?: string }).code, 'EMPTY_INPUT');

    const controller = new AbortController();
    const ctx = testContext({
      id: 'refine',
      outDir: dir,
      signal: controller.signal,
      progress: (e) => {
        if (e.label === 'pass' && e.pass?.index === 2 && e.done >= 2) controller.abort(new Error('interrupted by test'));
      },
    });
    const e2 = await t.throwsAsync(runSink(refine, { epochs: 5 }, [c.stream], ctx));
    t.regex(e2.message, /interrupted by test/);
    t.is(tf.memory().numTensors, before);
    for (const f of ['refined.npz', 'refine_history.json', 'refined_amplitude.png']) t.false(existsSync(path.join(dir, f)), f);
  } finally {
    await c.close();
  }
});

test('windowTaps: integer positions need one tap of exact indices; sub-pixel ones four bilinear taps', (t) => {
  const placement = { originX: -2, originY: 1, width: 20, height: 12 };
  // Two groups of C = 2: centre − offset gives positions (6, 7), (5, 6) | (8.25, 8.5), (8, 7).
  const centers = Float64Array.of(6, 7, 8, 8);
  const coords = Float32Array.of(0, 1, 0, 1, -0.25, 0, -0.5, 1); // (B, 1, 2, C): [x offsets…, y offsets…] per group
  const N = 4;
  const whole = windowTaps(centers.slice(0, 2), coords.slice(0, 4), 1, 2, N, placement, 'test');
  t.is(whole.taps.length, 1);
  t.is(whole.taps[0]!.weight, undefined);
  // Pattern 0 at (6, 7): window from object (4, 5) = canvas column 6, row 4.
  t.is(whole.taps[0]!.index[0], 4 * 20 + 6);
  t.is(whole.taps[0]!.index[N * N - 1], 7 * 20 + 9);
  // Pattern 1 at (5, 6): window from object (3, 4) = canvas (5, 3).
  t.is(whole.taps[0]!.index[N * N], 3 * 20 + 5);
  const sub = windowTaps(centers, coords, 2, 2, N, placement, 'test');
  t.is(sub.taps.length, 4);
  t.is(sub.patterns, 4);
  // Pattern 2 at (8.25, 8.5): start (6.25, 6.5) − origin → (8.25, 5.5); weights (1−fx)(1−fy), fx(1−fy), (1−fx)fy, fx·fy.
  const w = sub.taps.map((tap) => tap.weight![2]!);
  t.deepEqual(w, [0.75 * 0.5, 0.25 * 0.5, 0.75 * 0.5, 0.25 * 0.5]);
  t.is(sub.taps[0]!.index[2 * N * N], 5 * 20 + 8);
  t.is(sub.taps[3]!.index[2 * N * N], 6 * 20 + 9);
  // Weights of every pattern sum to 1 (integer patterns: all on the first tap).
  for (let p = 0; p < 4; p++)
    t.is(
      sub.taps.reduce((s, tap) => s + tap.weight![p]!, 0),
      1,
    );
  t.is(sub.taps[0]!.weight![0], 1);
  const err = t.throws(() => windowTaps(Float64Array.of(-1, 7), Float32Array.of(0, 0), 1, 1, N, placement, 'test'));
  t.regex(err.message, /reaches outside the object canvas/);
});

test.serial('bad inputs: final_lr ≥ lr, an NPZ without origin, a probe of the wrong size or zero; no tensor left behind', async (t) => {
  const dir = await tempDir(t);
  const c = await chain();
  try {
    const ctx = testContext({ id: 'refine', outDir: dir });
    const before = tf.memory().numTensors;
    const e1 = await t.throwsAsync(runSink(refine, { lr: 0.01, final_lr: 0.01 }, [c.stream], ctx));
    t.regex(e1.message, /final_lr/);
    const { writeNpz } = await import('../../src/io/npz-writer.js');
    const p = placementFor(c.scan),
      n = p.width * p.height;
    await writeNpz(path.join(dir, 'no-origin.npz'), {
      object: { shape: [p.height, p.width], data: new Float32Array(2 * n).fill(1), descr: '<c8' },
      probe: { shape: [N, N], data: new Float32Array(2 * N * N), descr: '<c8' },
    });
    const e2 = await t.throwsAsync(runSink(refine, { reconstruction: 'no-origin.npz' }, [c.stream], ctx));
    t.regex(e2.message, /origin/);
    t.true(e2.message.includes('no-origin.npz') || JSON.stringify(e2).includes('no-origin.npz'));
    const object: Complex2D = { height: p.height, width: p.width, re: new Float32Array(n).fill(1), im: new Float32Array(n) };
    const smallProbe: Complex2D = { height: 8, width: 8, re: new Float32Array(64).fill(1), im: new Float32Array(64) };
    await writeStart(dir, 'small.npz', c.scan, object, smallProbe);
    const e3 = await t.throwsAsync(runSink(refine, { reconstruction: 'small.npz' }, [c.stream], ctx));
    t.regex(e3.message, /probe is 8×8 but the patterns are 16×16/);
    const zeroProbe: Complex2D = { height: N, width: N, re: new Float32Array(N * N), im: new Float32Array(N * N) };
    await writeStart(dir, 'zero.npz', c.scan, object, zeroProbe);
    for (const refineProbe of [0, 1]) {
      const e4 = await t.throwsAsync(runSink(refine, { reconstruction: 'zero.npz', refine_probe: refineProbe }, [c.stream], ctx));
      t.regex(e4.message, /probe is zero/);
    }
    t.is(tf.memory().numTensors, before);
  } finally {
    await c.close();
  }
});
