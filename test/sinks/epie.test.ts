// The epie sink on small simulated scans (simulate → epie, N = 32, noise-free):
// with the known probe it converges to the truth; its probe update repairs a
// distorted probe; it works on a stream without a frame store (shuffle
// buffer); every pass visits every frame once in a new seeded order; bad
// options, inputs and probe shapes get typed errors; no tensor is left.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { writeNpz } from '../../src/io/npz-writer.js';
import type { Complex2D, Frame, Stream } from '../../src/pipeline/types.js';
import epie from '../../src/sinks/epie.js';
import { framesInRandomOrder } from '../../src/sinks/shared/frame-order.js';
import { runSink, streamOf, testContext } from '../../src/testing/index.js';
import { N, readResult, score, simulatedScan, tempDir } from './engine-helpers.js';

/** min over complex c of |c·a − b| / |b|: a probe's error up to the scale and phase ePIE cannot fix. */
function probeError(a: { re: ArrayLike<number>; im: ArrayLike<number> }, b: Complex2D): number {
  let nr = 0,
    ni = 0,
    aa = 0,
    bb = 0;
  for (let t = 0; t < b.re.length; t++) {
    // Σ conj(a)·b
    nr += a.re[t]! * b.re[t]! + a.im[t]! * b.im[t]!;
    ni += a.re[t]! * b.im[t]! - a.im[t]! * b.re[t]!;
    aa += a.re[t]! ** 2 + a.im[t]! ** 2;
    bb += b.re[t]! ** 2 + b.im[t]! ** 2;
  }
  return Math.sqrt(Math.max(bb - (nr * nr + ni * ni) / aa, 0) / bb);
}

/** The same frames as a live stream would give them: in order, no random access. */
function withoutStore(scan: Stream<Frame>): Stream<Frame> {
  const meta = { ...scan.meta };
  delete (meta as { frames?: unknown }).frames;
  return { meta, open: (s) => scan.open(s) };
}

async function writeProbe(file: string, p: { re: ArrayLike<number>; im: ArrayLike<number> }, shape: number[]): Promise<void> {
  const data = new Float32Array(2 * p.re.length);
  for (let t = 0; t < p.re.length; t++) {
    data[2 * t] = p.re[t]!;
    data[2 * t + 1] = p.im[t]!;
  }
  await writeNpz(file, { probeGuess: { shape, data, descr: '<c8' } });
}

test('with the known probe, noise-free, ePIE converges to the truth; files and summary written; no tensor left', async (t) => {
  const before = tf.memory().numTensors;
  const dir = await tempDir(t);
  const scan = await simulatedScan();
  const r = (await runSink(epie, { epochs: 40, final_step: 1, score_every: 10 }, [scan], testContext({ id: 'epie', outDir: dir }))) as Record<string, unknown>;
  t.is(tf.memory().numTensors, before);
  t.is(r['passes'], 40);
  t.is(r['engine'], 'ePIE');
  t.is(r['probe_refined_from'], null);
  t.true((r['final_loss'] as number) < (r['start_loss'] as number) / 100, `misfit ${String(r['start_loss'])} → ${String(r['final_loss'])}`);
  const history = JSON.parse(readFileSync(path.join(dir, 'epie_history.json'), 'utf8')) as {
    fourier_error: number;
    amplitude_ssim?: number;
    phase_ssim?: number;
  }[];
  t.is(history.length, 40);
  // Scored after passes 10, 20, 30, 40 only.
  t.deepEqual(
    history.flatMap((h, k) => (h.amplitude_ssim === undefined ? [] : [k + 1])),
    [10, 20, 30, 40],
  );
  t.true(history[39]!.fourier_error < history[0]!.fourier_error / 10);
  const result = await readResult(path.join(dir, 'epie.npz'));
  t.deepEqual([...result.arrays.keys()].sort(), ['amplitude', 'object', 'origin', 'phase', 'probe']);
  const s = score(scan.meta.scan!, result.object);
  t.log(`SSIM amplitude ${s.amplitude.ssim.toFixed(4)}, phase ${s.phase.ssim.toFixed(4)}, ${String(r['seconds_per_pass'])} s/pass`);
  t.true(s.amplitude.ssim > 0.95, `amplitude SSIM ${s.amplitude.ssim}`);
  // The last pass's score is the final object's, scored as evaluate scores it.
  t.true(Math.abs(history[39]!.amplitude_ssim! - s.amplitude.ssim) < 1e-4 && Math.abs(history[39]!.phase_ssim! - s.phase.ssim) < 1e-4);
  const reached = (r['time_to_ssim'] as Record<string, Record<string, { pass: number; seconds: number } | null>>)['amplitude']!['0.95']!;
  t.true([10, 20, 30, 40].includes(reached.pass) && reached.seconds > 0, JSON.stringify(reached));
  t.true(s.phase.ssim > 0.95, `phase SSIM ${s.phase.ssim}`);
  for (const f of ['epie_amplitude.png', 'epie_phase.png', 'epie_error.png'])
    t.deepEqual([...readFileSync(path.join(dir, f)).subarray(1, 4)], [0x50, 0x4e, 0x47], f);
  await scan.close?.();
});

test('the probe update recovers a distorted probe (error falls at least 5×)', async (t) => {
  const dir = await tempDir(t);
  const scan = await simulatedScan({ scan: { pattern: 'random', count: 160 } });
  const truth = scan.meta.scan!.probe,
    c = (N - 1) / 2;
  // A defocus-like phase error and a tilt of the amplitude.
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const k = y * N + x,
        r2 = ((x - c) ** 2 + (y - c) ** 2) / (N / 4) ** 2,
        ph = 0.8 * r2,
        g = 1 + (0.3 * (x - c)) / (N / 2);
      re[k] = g * (truth.re[k]! * Math.cos(ph) - truth.im[k]! * Math.sin(ph));
      im[k] = g * (truth.re[k]! * Math.sin(ph) + truth.im[k]! * Math.cos(ph));
    }
  }
  await writeProbe(path.join(dir, 'distorted.npz'), { re, im }, [N, N]);
  const start = probeError({ re, im }, truth);
  const r = (await runSink(
    epie,
    { probe: 'distorted.npz', epochs: 60, refine_probe: 2, final_step: 1 },
    [scan],
    testContext({ id: 'epie', outDir: dir, baseDir: dir }),
  )) as Record<string, unknown>;
  t.is(r['probe_refined_from'], 2);
  const p = (await readResult(path.join(dir, 'epie.npz'))).arrays.get('probe')!;
  const pr = new Float32Array(N * N),
    pi = new Float32Array(N * N);
  for (let k = 0; k < N * N; k++) {
    pr[k] = p.data[2 * k]!;
    pi[k] = p.data[2 * k + 1]!;
  }
  const end = probeError({ re: pr, im: pi }, truth);
  t.log(`probe error ${start.toFixed(4)} → ${end.toFixed(4)}, Fourier error ${String(r['fourier_error'])}`);
  t.true(end < start / 5, `probe error ${start} → ${end}`);
  await scan.close?.();
});

test('without a frame store the frames come through the shuffle buffer, and it still converges', async (t) => {
  const dir = await tempDir(t);
  const scan = (await simulatedScan()) as Stream<Frame>;
  const live = withoutStore(scan);
  const r = (await runSink(epie, { epochs: 15, final_step: 1, shuffle_buffer: 16 }, [live], testContext({ id: 'epie', outDir: dir }))) as Record<
    string,
    number
  >;
  t.true(r['final_loss']! < r['start_loss']! / 30, `misfit ${r['start_loss']} → ${r['final_loss']}`);
  await scan.close?.();
});

test('each pass visits every frame once, in a new order per pass and the same order for the same seed', async (t) => {
  const scan = (await simulatedScan()) as Stream<Frame>;
  const signal = new AbortController().signal;
  const order = async (pass: number, seed: number, s: Stream<Frame> = scan): Promise<number[]> => {
    const out: number[] = [];
    for await (const f of framesInRandomOrder(s, { pass, seed, chunk: 7, buffer: 16, signal })) out.push(f.index);
    return out;
  };
  const count = scan.meta.scan!.count;
  const a = await order(1, 3),
    b = await order(2, 3);
  t.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: count }, (_, i) => i),
  );
  t.notDeepEqual(a, b);
  t.deepEqual(await order(1, 3), a);
  const live = withoutStore(scan);
  const c = await order(1, 3, live);
  t.deepEqual(
    [...c].sort((x, y) => x - y),
    Array.from({ length: count }, (_, i) => i),
  );
  t.notDeepEqual(
    c,
    Array.from({ length: count }, (_, i) => i),
  );
  await scan.close?.();
});

test('bad options, inputs and probe shapes get typed errors and write nothing', async (t) => {
  const dir = await tempDir(t);
  const scan = await simulatedScan({ object: { kind: 'grf', size: 48 } });
  const ctx = testContext({ id: 'epie', outDir: dir, baseDir: dir });
  t.false(epie.options.safeParse({ alpha: 0 }).success);
  t.false(epie.options.safeParse({ step: -1 }).success);
  t.false(epie.options.safeParse({ probe_modes: 0 }).success);
  t.false(epie.options.safeParse({ epochs: 3, typo: 1 }).success);
  await t.throwsAsync(runSink(epie, { step: 0.5, final_step: 0.9 }, [scan], ctx), { name: 'OptionsError', message: /final_step/ });
  const small = { re: new Float32Array(16 * 16).fill(1), im: new Float32Array(16 * 16) };
  await writeProbe(path.join(dir, 'small.npz'), small, [16, 16]);
  await t.throwsAsync(runSink(epie, { probe: 'small.npz' }, [scan], ctx), { name: 'DataError', message: /16×16 but the patterns are 32×32/ });
  await writeProbe(path.join(dir, 'flat.npz'), { re: new Float32Array(N * 2), im: new Float32Array(N * 2) }, [2, N]);
  await t.throwsAsync(runSink(epie, { probe: 'flat.npz' }, [scan], ctx), { name: 'DataError', message: /probe modes must be/ });
  await t.throwsAsync(runSink(epie, { probe: 'missing.npz' }, [scan], ctx), { name: 'OptionsError', message: /probe file not found/ });
  await t.throwsAsync(runSink(epie, {}, [streamOf([], { record: 'tensor-batch', scan: scan.meta.scan! })], ctx), {
    name: 'OptionsError',
    message: /not frames/,
  });
  await t.throwsAsync(runSink(epie, {}, [streamOf([], { record: 'frame' })], ctx), { name: 'OptionsError', message: /no scan metadata/ });
  await t.throwsAsync(runSink(epie, {}, [streamOf([], { record: 'frame', scan: scan.meta.scan! })], ctx), { name: 'DataError', message: /no frames/ });
  t.false(existsSync(path.join(dir, 'epie.npz')));
  await scan.close?.();
});

test('an abort stops it between patterns, with nothing written', async (t) => {
  const dir = await tempDir(t);
  const scan = await simulatedScan({ object: { kind: 'grf', size: 48 } });
  const ac = new AbortController();
  const ctx = testContext({ id: 'epie', outDir: dir, signal: ac.signal });
  setTimeout(() => ac.abort(new Error('stop now')), 50);
  await t.throwsAsync(runSink(epie, { epochs: 1000 }, [scan], ctx), { message: /stop now/ });
  t.false(existsSync(path.join(dir, 'epie.npz')));
  await scan.close?.();
});
