// Position correction in the epie sink on a small simulated scan (N = 32,
// 169 windows, noise-free): nominal positions off by σ = 1 px per axis (seed
// 11, as in test/sinks/epie-positions.test.ts), a flat start, correction
// from --from; and the same scan with the exact positions. Prints one JSON
// line: position error RMS / median / largest before and after (the mean
// shift taken out: it is not measurable), and both runs' SSIM.
//   npm run bench -- epie-positions [--object '{"kind":"grf","size":80,"correlation_length":2}'] [--epochs 40] [--from 10] [--options '{}']
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Frame, Stream } from '../src/pipeline/types.js';
import epie from '../src/sinks/epie.js';
import { runSink, testContext } from '../src/testing/index.js';
import { Rng } from '../src/util/rng.js';
import { centredErrors, readResult, score, simulatedScan } from '../test/sinks/engine-helpers.js';
import { arg } from './args.js';

/** RMS, median and largest distance from the truth after taking out the mean shift. */
function errors(ax: ArrayLike<number>, ay: ArrayLike<number>, tx: ArrayLike<number>, ty: ArrayLike<number>): { rms: number; median: number; max: number } {
  const e = centredErrors(ax, ay, tx, ty).sort((a, b) => a - b),
    n = e.length;
  const r = (v: number): number => +v.toFixed(3);
  return { rms: r(Math.sqrt(e.reduce((s, v) => s + v * v, 0) / n)), median: r(e[n >> 1]!), max: r(e[n - 1]!) };
}

export async function run(args: string[]): Promise<void> {
  const object = JSON.parse(arg(args, 'object', '{"kind":"grf","size":80,"correlation_length":2}')) as Record<string, unknown>;
  const epochs = Number(arg(args, 'epochs', '40')),
    from = Number(arg(args, 'from', '10'));
  const extra = JSON.parse(arg(args, 'options', '{}')) as Record<string, unknown>;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-positions-'));
  try {
    const exact = (await simulatedScan({ object, scan: { step: 4, jitter: 0.5 } })) as Stream<Frame>;
    const scan = exact.meta.scan!,
      rng = new Rng(11);
    const xcoords = scan.xcoords.map((x) => x + rng.normal()),
      ycoords = scan.ycoords.map((y) => y + rng.normal());
    const nominal: Stream<Frame> = { ...exact, meta: { ...exact.meta, scan: { ...scan, xcoords, ycoords } } };
    const t0 = performance.now();
    await runSink(epie, { epochs, npz: 'exact.npz', ...extra }, [exact], testContext({ id: 'exact', outDir: dir }));
    const t1 = performance.now();
    await runSink(epie, { epochs, refine_positions: from, ...extra }, [nominal], testContext({ id: 'epie', outDir: dir }));
    const t2 = performance.now();
    const base = score(scan, (await readResult(path.join(dir, 'exact.npz'))).object),
      res = await readResult(path.join(dir, 'epie.npz')),
      s = score(scan, res.object);
    const ssim = (e: typeof s): [number, number] => [+e.amplitude.ssim.toFixed(4), +e.phase.ssim.toFixed(4)];
    console.log(
      JSON.stringify({
        bench: 'epie-positions',
        object,
        epochs,
        refine_positions: from,
        options: extra,
        windows: scan.count,
        before: errors(xcoords, ycoords, scan.xcoords, scan.ycoords),
        after: errors(res.arrays.get('xcoords')!.data, res.arrays.get('ycoords')!.data, scan.xcoords, scan.ycoords),
        ssim: ssim(s),
        ssim_exact_positions: ssim(base),
        seconds: [+((t1 - t0) / 1000).toFixed(1), +((t2 - t1) / 1000).toFixed(1)],
      }),
    );
    await exact.close?.();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
