// Position correction in the epie sink. Scans simulated at their true
// positions (N = 32, noise-free), handed to epie with nominal positions off by
// σ = 1 px per axis. (1) Starting from the true object (kept almost fixed), the
// per-window correction (trial positions, then one Gauss–Newton step each)
// brings most positions to within 0.3 px; corrected and nominal positions are
// in the NPZ and the summary. (2) From a flat object, on an object with
// texture everywhere (a Gaussian random field), the joint problem reaches the
// issue's target: ≤ 0.3 px RMS (the unmeasurable mean shift removed) and an
// object as good as the exact-position run's (SSIM within 0.02). Where the
// object has featureless regions (the camera/phantom images) windows there
// are not located by any data and the target is not reached: docs/RESULTS.md.
import path from 'node:path';
import test from 'ava';
import type { Complex2D, Frame, Stream } from '../../src/pipeline/types.js';
import epie from '../../src/sinks/epie.js';
import { placementFor, writeReconstruction } from '../../src/sinks/shared/reconstruction.js';
import { runSink, testContext } from '../../src/testing/index.js';
import { Rng } from '../../src/util/rng.js';
import { centredErrors, readResult, score, simulatedScan, tempDir } from './engine-helpers.js';

test('with a good object, positions jittered by σ = 1 px are recovered (median ≤ 0.3 px), written to the NPZ and summary', async (t) => {
  const dir = await tempDir(t);
  const exact = (await simulatedScan({ object: { kind: 'image', size: 80 }, scan: { step: 4, jitter: 0.5 } })) as Stream<Frame>;
  const scan = exact.meta.scan!,
    rng = new Rng(11);
  const xcoords = scan.xcoords.map((x) => x + rng.normal()),
    ycoords = scan.ycoords.map((y) => y + rng.normal());
  const nominal: Stream<Frame> = { ...exact, meta: { ...exact.meta, scan: { ...scan, xcoords, ycoords } } };
  // The truth on the canvas the nominal positions need.
  const pl = placementFor(nominal.meta.scan!),
    truth = scan.object!;
  const object: Complex2D = { height: pl.height, width: pl.width, re: new Float32Array(pl.width * pl.height), im: new Float32Array(pl.width * pl.height) };
  for (let y = 0; y < pl.height; y++) {
    for (let x = 0; x < pl.width; x++) {
      const ty = y + pl.originY,
        tx = x + pl.originX;
      if (ty < 0 || tx < 0 || ty >= truth.height || tx >= truth.width) continue;
      object.re[y * pl.width + x] = truth.re[ty * truth.width + tx]!;
      object.im[y * pl.width + x] = truth.im[ty * truth.width + tx]!;
    }
  }
  await writeReconstruction(
    { npz: path.join(dir, 'start.npz'), amplitude_png: path.join(dir, 'a.png'), phase_png: path.join(dir, 'p.png') },
    { object, covered: new Uint8Array(object.re.length).fill(1), placement: pl },
    scan.probe,
    'start',
  );
  const r = (await runSink(
    epie,
    { reconstruction: 'start.npz', step: 0.001, final_step: 0.001, refine_positions: 1, epochs: 10 },
    [nominal],
    testContext({ id: 'epie', outDir: dir }),
  )) as Record<string, unknown>;
  const res = await readResult(path.join(dir, 'epie.npz'));
  const cx = res.arrays.get('xcoords')!.data,
    cy = res.arrays.get('ycoords')!.data;
  const error = (ax: ArrayLike<number>, ay: ArrayLike<number>): number[] =>
    Array.from({ length: scan.count }, (_, i) => Math.hypot(ax[i]! - scan.xcoords[i]!, ay[i]! - scan.ycoords[i]!)).sort((a, b) => a - b);
  const rms = (e: number[]): number => Math.sqrt(e.reduce((s, v) => s + v * v, 0) / e.length);
  const before = error(xcoords, ycoords),
    after = error(cx, cy),
    median = after[Math.floor(after.length / 2)]!;
  const s = score(scan, res.object);
  t.log(
    `position error RMS ${rms(before).toFixed(3)} → ${rms(after).toFixed(3)} px, median ${before[Math.floor(before.length / 2)]!.toFixed(3)} → ${median.toFixed(3)} px; SSIM ${s.amplitude.ssim.toFixed(4)}/${s.phase.ssim.toFixed(4)}`,
  );
  t.true(rms(before) > 1.2, `the nominal positions really are off by about 1 px per axis: ${rms(before)}`);
  t.true(median <= 0.3, `median position error after correction ${median}`);
  t.true(rms(after) < rms(before) / 2, `RMS ${rms(before)} → ${rms(after)}`);
  t.true(s.amplitude.ssim > 0.99 && s.phase.ssim > 0.99);
  t.is(r['positions_refined_from'], 1);
  t.true((r['position_rms_shift'] as number) > 0.5 && (r['position_max_shift'] as number) >= (r['position_rms_shift'] as number));
  t.deepEqual(Array.from(res.arrays.get('xcoords_start')!.data), Array.from(xcoords));
  await exact.close?.();
});

test('from a flat object, positions jittered by σ = 1 px are recovered to ≤ 0.3 px RMS, the object within 0.02 SSIM of the exact-position run', async (t) => {
  const dir = await tempDir(t);
  const exact = (await simulatedScan({ object: { kind: 'grf', size: 80, correlation_length: 2 }, scan: { step: 4, jitter: 0.5 } })) as Stream<Frame>;
  const scan = exact.meta.scan!,
    rng = new Rng(11);
  const xcoords = scan.xcoords.map((x) => x + rng.normal()),
    ycoords = scan.ycoords.map((y) => y + rng.normal());
  const nominal: Stream<Frame> = { ...exact, meta: { ...exact.meta, scan: { ...scan, xcoords, ycoords } } };
  const common = { epochs: 40, score_every: 0 };
  await runSink(epie, { ...common, npz: 'exact.npz' }, [exact], testContext({ id: 'exact', outDir: dir }));
  await runSink(epie, { ...common, refine_positions: 10 }, [nominal], testContext({ id: 'epie', outDir: dir }));
  const base = score(scan, (await readResult(path.join(dir, 'exact.npz'))).object);
  const res = await readResult(path.join(dir, 'epie.npz'));
  const s = score(scan, res.object);
  const rms = (e: number[]): number => Math.sqrt(e.reduce((a, v) => a + v * v, 0) / e.length);
  const before = rms(centredErrors(xcoords, ycoords, scan.xcoords, scan.ycoords));
  const after = rms(centredErrors(res.arrays.get('xcoords')!.data, res.arrays.get('ycoords')!.data, scan.xcoords, scan.ycoords));
  t.log(
    `position error RMS ${before.toFixed(3)} → ${after.toFixed(3)} px; SSIM ${s.amplitude.ssim.toFixed(4)}/${s.phase.ssim.toFixed(4)} against ${base.amplitude.ssim.toFixed(4)}/${base.phase.ssim.toFixed(4)} with the exact positions`,
  );
  t.true(before > 1.2, `the nominal positions really are off by about 1 px per axis: ${before}`);
  t.true(after <= 0.3, `RMS position error after correction ${after} px`);
  t.true(
    s.amplitude.ssim >= base.amplitude.ssim - 0.02 && s.phase.ssim >= base.phase.ssim - 0.02,
    'the corrected run scores within 0.02 of the exact-position run',
  );
  await exact.close?.();
});
