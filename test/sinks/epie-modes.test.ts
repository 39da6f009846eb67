// Mixed-state probes in the epie sink: data measured with two incoherent
// modes (simulated here, N = 32, noise-free) reconstruct better with
// probe_modes: 2 than with one mode; modes read from a file that carries
// them fit the data exactly and are written to the output NPZ.
import path from 'node:path';
import test from 'ava';
import { writeNpz } from '../../src/io/npz-writer.js';
import epie from '../../src/sinks/epie.js';
import { runSink, testContext } from '../../src/testing/index.js';
import { N, readResult, score, tempDir, twoModeScan } from './engine-helpers.js';

test('two-mode data: probe_modes 2 (grown from one, refined) beats one mode', async (t) => {
  const dir = await tempDir(t);
  const { stream } = await twoModeScan();
  const results: Record<number, { ssim: [number, number]; error: number; power: number[] }> = {};
  for (const M of [1, 2]) {
    const out = path.join(dir, `m${M}`);
    const r = (await runSink(
      epie,
      { probe_modes: M, refine_probe: 2, epochs: 40, final_step: 1 },
      [stream],
      testContext({ id: 'epie', outDir: out }),
    )) as Record<string, unknown>;
    const s = score(stream.meta.scan!, (await readResult(path.join(out, 'epie.npz'))).object);
    results[M] = { ssim: [s.amplitude.ssim, s.phase.ssim], error: r['fourier_error'] as number, power: r['mode_power'] as number[] };
    t.log(
      `${M} mode(s): SSIM ${s.amplitude.ssim.toFixed(4)} / ${s.phase.ssim.toFixed(4)}, Fourier error ${(r['fourier_error'] as number).toExponential(2)}, mode power ${JSON.stringify(r['mode_power'])}`,
    );
  }
  const one = results[1]!,
    two = results[2]!;
  t.true(two.error < one.error / 3, `Fourier error ${one.error} (1 mode) vs ${two.error} (2 modes)`);
  t.true(two.ssim[0] > one.ssim[0] && two.ssim[1] > one.ssim[1], `SSIM ${one.ssim.join('/')} vs ${two.ssim.join('/')}`);
  t.is(two.power.length, 2);
  t.true(two.power[1]! > 0.1 && two.power[1]! < 0.4, `second mode holds ${two.power[1]}`);
});

test('modes read from a file (probeModes) are used as the known probe and written out', async (t) => {
  const dir = await tempDir(t);
  const { stream, modes } = await twoModeScan();
  const data = new Float32Array(2 * 2 * N * N);
  modes.forEach((m, k) => {
    for (let q = 0; q < N * N; q++) {
      data[2 * (k * N * N + q)] = m.re[q]!;
      data[2 * (k * N * N + q) + 1] = m.im[q]!;
    }
  });
  await writeNpz(path.join(dir, 'modes.npz'), { probeModes: { shape: [2, N, N], data, descr: '<c8' } });
  const r = (await runSink(
    epie,
    { probe: 'modes.npz', epochs: 40, final_step: 1 },
    [stream],
    testContext({ id: 'epie', outDir: dir, baseDir: dir }),
  )) as Record<string, unknown>;
  t.is(r['probe_modes'], 2);
  t.regex(r['probe_from'] as string, /modes\.npz:probeModes$/);
  const res = await readResult(path.join(dir, 'epie.npz'));
  t.deepEqual(res.arrays.get('probe_modes')!.shape, [2, N, N]);
  const s = score(stream.meta.scan!, res.object);
  t.log(`SSIM ${s.amplitude.ssim.toFixed(4)} / ${s.phase.ssim.toFixed(4)}, Fourier error ${String(r['fourier_error'])}`);
  t.true(s.amplitude.ssim > 0.85 && s.phase.ssim > 0.97, `SSIM ${s.amplitude.ssim} / ${s.phase.ssim}`);
  t.true((r['fourier_error'] as number) < 1e-3);
});
