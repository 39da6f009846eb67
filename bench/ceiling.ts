// What the unseen-scan benchmark (bench/unseen.ts) can score at all (issue #17):
// on its held-out scans, the classical engine with the known probe (`epie`)
// scored by `evaluate` exactly as the bench scores the network (default crop,
// registration), with and without Poisson noise; the truth itself and the
// truth with a phase plane, an amplitude factor and a sub-pixel shift through
// the same scoring (all must give 1); and how strongly the scored crop is lit.
//   npm run bench -- ceiling [--passes 150] [--held 3] [--backend wasm] [--amp-min 0.3,0.9] [--out DIR]
// --amp-min overrides the family's range of the smallest amplitude (the same objects, another contrast).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../src/components.js';
import { runPipelineFile } from '../src/pipeline/index.js';
import { evaluateObject, type CropBox } from '../src/physics/metrics.js';
import { shiftImage } from '../src/physics/register.js';
import simulate from '../src/sources/simulate.js';
import { scanCrop } from '../src/sinks/shared/object-frame.js';
import type { Complex2D, Frame, ScanMeta, Stream } from '../src/pipeline/types.js';
import { createStage, testContext } from '../src/testing/index.js';
import { arg, pairArg } from './args.js';
import { sim } from './unseen.js';

type Pair = { amp: number; phase: number };
const pair = (m: { amplitude: { ssim: number }; phase: { ssim: number } }): Pair => ({ amp: +m.amplitude.ssim.toFixed(4), phase: +m.phase.ssim.toFixed(4) });

let ampMin: [number, number] | undefined;

/** The bench's held-out scan, with the family's amplitude range overridden by --amp-min. */
function scanOptions(scanNo: number): Record<string, unknown> {
  return sim({ size: 72, scans: 1, first: scanNo, ampMin });
}

async function truthOf(scanNo: number): Promise<{ truth: Complex2D; scan: ScanMeta }> {
  const s = (await createStage(simulate, scanOptions(scanNo), [], testContext({ id: 'scan', seed: 2024 }))) as Stream<Frame>;
  const scan = s.meta.scan!;
  await s.close?.();
  return { truth: scan.object!, scan };
}

/** The truth under what scoring must ignore: a phase plane and offset and an amplitude factor (shift: a sub-pixel move as well). */
function disguised(t: Complex2D, shift = false): Complex2D {
  const { height: h, width: w } = t,
    re = new Float32Array(h * w),
    im = new Float32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x,
        a = 1.3 + 0.05 * x - 0.03 * y,
        c = Math.cos(a) * 0.6,
        s = Math.sin(a) * 0.6;
      re[i] = t.re[i]! * c - t.im[i]! * s;
      im[i] = t.re[i]! * s + t.im[i]! * c;
    }
  // The shift is periodic (Fourier), so it also wraps the object's edges round: a test of registration, not of the ceiling.
  return shift ? shiftImage({ height: h, width: w, re, im }, 0.1, -0.1) : { height: h, width: w, re, im };
}

/** Σ|P|² of every window on the object grid (a window starts at x − N/2, rounded to whole pixels). */
function illumination(scan: ScanMeta, h: number, w: number): Float64Array {
  const N = scan.N,
    p = scan.probe,
    map = new Float64Array(h * w);
  for (let k = 0; k < scan.xcoords.length; k++) {
    const cx = Math.round(scan.xcoords[k]! - N / 2),
      cy = Math.round(scan.ycoords[k]! - N / 2);
    for (let y = 0; y < N; y++)
      for (let x = 0; x < N; x++) {
        const oy = cy + y,
          ox = cx + x;
        if (oy < 0 || ox < 0 || oy >= h || ox >= w) continue;
        map[oy * w + ox]! += p.re[y * N + x]! ** 2 + p.im[y * N + x]! ** 2;
      }
  }
  return map;
}

/** The least lit pixel, the mean of the one-pixel rim, and the share below a tenth: all relative to the crop's median. */
function lightStats(map: Float64Array, w: number, c: CropBox): { min: number; rim: number; below10: number } {
  const vals: number[] = [];
  for (let y = c.y0; y < c.y1; y++) for (let x = c.x0; x < c.x1; x++) vals.push(map[y * w + x]!);
  const sorted = [...vals].sort((a, b) => a - b),
    median = sorted[Math.floor(sorted.length / 2)]!;
  const rim = vals.filter((_, i) => {
    const x = i % (c.x1 - c.x0),
      y = Math.floor(i / (c.x1 - c.x0));
    return x === 0 || y === 0 || x === c.x1 - c.x0 - 1 || y === c.y1 - c.y0 - 1;
  });
  return {
    min: +(sorted[0]! / median).toFixed(4),
    rim: +(rim.reduce((s, v) => s + v, 0) / rim.length / median).toFixed(4),
    below10: +(vals.filter((v) => v < 0.1 * median).length / vals.length).toFixed(4),
  };
}

const flat = (t: Complex2D): Complex2D => ({ ...t, re: new Float32Array(t.re.length).fill(1), im: new Float32Array(t.re.length) });

/** One pipeline: epie on the 1e5-count scan and on its noise-free twin, each scored on every crop. */
function epieDoc(scanNo: number, passes: number, crops: Record<string, CropBox>, backend: string, out: string): unknown {
  const source = scanOptions(scanNo);
  const sinks: Record<string, unknown> = {};
  let after: string[] = [];
  for (const [tag, input] of [
    ['noisy', 'scan'],
    ['clean', 'clean'],
  ] as const) {
    sinks[`epie_${tag}`] = { type: 'epie', inputs: [input], epochs: passes, score_every: 25, after, npz: `epie_${tag}.npz`, history: `epie_${tag}.json` };
    for (const [name, crop] of Object.entries(crops)) {
      const id = `eval_${tag}_${name}`;
      // 'bench' is the bench's own evaluate: the default crop (scan box ± N/4) and registration.
      const how = name === 'bench' ? {} : { crop };
      sinks[id] = {
        type: 'evaluate',
        inputs: [`epie_${tag}`],
        truth: 'scan',
        metrics: `${id}.json`,
        frc_png: `${id}_frc.png`,
        figure_png: `${id}.png`,
        ...how,
      };
      after = [id];
    }
  }
  return { seed: 2024, backend, output: out, sources: { scan: { type: 'simulate', ...source }, clean: { type: 'simulate', ...source, noise: 'none' } }, sinks };
}

export async function run(args: string[]): Promise<void> {
  const passes = Number(arg(args, 'passes', '150'));
  const held = Number(arg(args, 'held', '3'));
  const backend = arg(args, 'backend', 'wasm');
  const out = path.resolve(arg(args, 'out', path.join(os.tmpdir(), 'pf-ceiling')));
  ampMin = pairArg(args, 'amp-min');
  const rows: unknown[] = [];
  for (let j = 0; j < held; j++) {
    const scanNo = 1000 + j,
      dir = path.join(out, `scan${scanNo}`);
    await mkdir(dir, { recursive: true });
    const { truth, scan } = await truthOf(scanNo);
    const { height: h, width: w } = truth;
    // The bench's crop (margin N/4), the scan box itself, and the box shrunk by N/8.
    const m = scan.N / 4,
      box = scanCrop(scan, 0);
    const crops: Record<string, CropBox> = {
      bench: scanCrop(scan, m),
      box,
      inner: { x0: box.x0 + m / 2, y0: box.y0 + m / 2, x1: box.x1 - m / 2, y1: box.y1 - m / 2 },
    };
    const light = illumination(scan, h, w);
    const row: Record<string, unknown> = { scan: scanNo, crops };
    for (const [name, c] of Object.entries(crops)) {
      row[`light_${name}`] = lightStats(light, w, c);
      row[`truth_${name}`] = pair(evaluateObject(truth, truth, { crop: c }));
      row[`disguised_${name}`] = pair(evaluateObject(truth, disguised(truth), { crop: c }));
      row[`shifted_${name}`] = pair(evaluateObject(truth, disguised(truth, true), { crop: c }));
      row[`constant_${name}`] = pair(evaluateObject(truth, flat(truth), { crop: c, register: false }));
    }
    const file = path.join(dir, 'epie.json');
    await writeFile(file, JSON.stringify(epieDoc(scanNo, passes, crops, backend, dir), null, 1));
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    const { summary, error } = await runPipelineFile(file, { registry: builtinRegistry(), outDir: dir });
    if (error !== undefined) throw error instanceof Error ? error : new Error(JSON.stringify(error));
    const cpu = process.cpuUsage(c0);
    row['epie_seconds'] = +((performance.now() - t0) / 1000).toFixed(1);
    row['epie_cpu'] = +((cpu.user + cpu.system) / 1e6).toFixed(1);
    for (const [id, v] of Object.entries(summary.sinks)) {
      if (id.startsWith('eval_')) row[id] = pair(v as { amplitude: { ssim: number }; phase: { ssim: number } });
      else row[`${id}_fourier_error`] = (v as { fourier_error: number }).fourier_error;
    }
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  await writeFile(path.join(out, 'result.json'), JSON.stringify({ passes, backend, amp_min: ampMin ?? 'family default', rows }, null, 1));
  process.stdout.write(`${JSON.stringify({ passes, backend, rows })}\n`);
}
