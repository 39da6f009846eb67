// The evaluate sink end to end on small NPZ files written here: a reconstruction
// canvas with an origin (as the infer sink writes it) against the scan's
// objectGuess or a truth NPZ; metrics.json and both PNGs must exist and be valid.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { writeNpz } from '../../src/io/npz-writer.js';
import { relativeInside } from '../../src/io/paths.js';
import type { Complex2D, Reconstruction, ScanMeta, Stream } from '../../src/pipeline/types.js';
import evaluate from '../../src/sinks/evaluate.js';
import { runSink, streamOf, testContext } from '../../src/testing/index.js';

const H = 48,
  W = 52,
  N = 16;

function truthObject(): Complex2D {
  const re = new Float32Array(H * W),
    im = new Float32Array(H * W);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const a = 1 + 0.4 * Math.sin(x / 3) * Math.cos(y / 4),
        p = 0.8 * Math.sin((x + 2 * y) / 6);
      re[y * W + x] = a * Math.cos(p);
      im[y * W + x] = a * Math.sin(p);
    }
  return { height: H, width: W, re, im };
}

function scanMeta(object?: Complex2D): ScanMeta {
  const xs: number[] = [],
    ys: number[] = [];
  for (let y = 16; y <= 32; y += 4)
    for (let x = 16; x <= 36; x += 4) {
      xs.push(x);
      ys.push(y);
    }
  return {
    N,
    count: xs.length,
    xcoords: Float64Array.from(xs),
    ycoords: Float64Array.from(ys),
    probe: { height: N, width: N, re: new Float32Array(N * N), im: new Float32Array(N * N) },
    origin: 'test',
    ...(object === undefined ? {} : { object }),
  };
}

/** The truth ×2 with a phase offset of 1 rad, on a canvas whose pixel (0,0) is object pixel (−4, −3). */
function reconCanvas(t: Complex2D): { shape: number[]; data: Float32Array; descr: string } {
  const ch = H + 6,
    cw = W + 8,
    data = new Float32Array(2 * ch * cw),
    c = Math.cos(1),
    s = Math.sin(1);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x,
        o = 2 * ((y + 3) * cw + (x + 4));
      data[o] = 2 * (t.re[i]! * c - t.im[i]! * s);
      data[o + 1] = 2 * (t.re[i]! * s + t.im[i]! * c);
    }
  return { shape: [ch, cw], data, descr: '<c8' };
}

/** reconCanvas as the record infer emits. */
function reconRecord(t: Complex2D): Reconstruction {
  const { shape, data } = reconCanvas(t);
  const [height, width] = shape as [number, number];
  const re = new Float32Array(height * width),
    im = new Float32Array(height * width);
  for (let i = 0; i < re.length; i++) {
    re[i] = data[2 * i]!;
    im[i] = data[2 * i + 1]!;
  }
  const probe = { height: N, width: N, re: new Float32Array(N * N), im: new Float32Array(N * N) };
  return { object: { height, width, re, im }, probe, origin: [-4, -3], weights: new Uint8Array(height * width).fill(1) };
}

test('scores the reconstruction record (inputs: [infer]) against the scan objectGuess and writes valid outputs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-eval-'));
  try {
    const truth = truthObject();
    const ctx = testContext({ id: 'evaluate', outDir: dir, baseDir: dir });
    const input = streamOf([reconRecord(truth)], { record: 'reconstruction', scan: scanMeta(truth) });
    const result = (await runSink(evaluate, {}, [input], ctx)) as Record<string, unknown>;
    const amp = result.amplitude as Record<string, number>,
      ph = result.phase as Record<string, number>;
    t.deepEqual(result.crop, { x0: 12, y0: 12, x1: 40, y1: 36 }); // scan box ± N/4
    t.deepEqual(result.shift, [0, 0]);
    t.true(amp.ssim! > 0.99999 && ph.ssim! > 0.99999, JSON.stringify({ amp, ph }));
    t.true(amp.mse! < 1e-10 && ph.mse! < 1e-10);
    t.true(Math.abs((result.amplitude_factor as number) - 0.5) < 1e-5);
    const frc = result.frc as { curve: number[] };
    t.true(frc.curve.every((v) => v > 0.9999));
    const json = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as unknown;
    // The file names its neighbours relative to the output directory; the result keeps absolute paths.
    t.deepEqual(json, JSON.parse(JSON.stringify(relativeInside(result, dir))));
    t.deepEqual((json as { files: unknown }).files, { metrics: 'metrics.json', frc_png: 'frc.png', figure_png: 'comparison.png' });
    for (const f of ['frc.png', 'comparison.png']) {
      const png = PNG.sync.read(await readFile(join(dir, f)));
      t.true(png.width > 200 && png.height > 200, `${f}: ${png.width}×${png.height}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an NPZ of an earlier run and a truth NPZ path work; no scan objectGuess is a DataError that says what to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-eval-'));
  try {
    const truth = truthObject(),
      inter = new Float32Array(2 * H * W);
    for (let i = 0; i < H * W; i++) {
      inter[2 * i] = truth.re[i]!;
      inter[2 * i + 1] = truth.im[i]!;
    }
    await writeNpz(join(dir, 'truth.npz'), { objectGuess: { shape: [H, W], data: inter, descr: '<c8' } }, {});
    await writeNpz(join(dir, 'out', 'recon.npz'), { object: reconCanvas(truth), origin: { shape: [2], data: Float64Array.of(-4, -3), descr: '<f8' } }, {});
    const ctx = testContext({ id: 'evaluate', outDir: join(dir, 'out'), baseDir: dir });
    // No input: the reconstruction is an NPZ of an earlier run, and there is no scan to take the truth from.
    const input: Stream<unknown>[] = [];
    const r = (await runSink(evaluate, { truth: 'truth.npz', reconstruction: 'recon.npz', crop: 'none', metrics: 'm/metrics.json' }, input, ctx)) as Record<
      string,
      unknown
    >;
    t.deepEqual(r.crop, { x0: 0, y0: 0, x1: W, y1: H });
    t.true((r.phase as Record<string, number>).mse! < 1e-10);
    t.truthy(await readFile(join(dir, 'out', 'm', 'metrics.json')));
    const err = await t.throwsAsync(runSink(evaluate, { reconstruction: 'recon.npz' }, input, ctx), { name: 'DataError' });
    t.regex(err.message, /objectGuess/);
    t.regex(err.message, /truth/);
    await t.throwsAsync(runSink(evaluate, { truth: 'truth.npz', truth_key: 'nope', reconstruction: 'recon.npz' }, input, ctx), {
      name: 'DataError',
      message: /nope/,
    });
    t.throws(() => evaluate.options.parse({ bogus: 1 }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
