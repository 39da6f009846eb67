// Where an unseen-scan reconstruction loses its phase (issue #17): every patch
// a checkpoint predicts for a held-out scan of the unseen bench, against the
// truth's patch at the same position (central N/2 square, gridsize 1), and the
// scan stitched four ways: as infer stitches, each patch turned by its oracle
// constant phase (the one offset the far field leaves free), the truth's own
// patches (what the stitch alone costs), and the truth's amplitude with the
// predicted, oracle-turned phase.
//   npm run bench -- patches [--checkpoint /tmp/pf-unseen/train/checkpoint] [--held 3] [--amp-min 0.3,0.5]
//     [--backend wasm] [--json]
import os from 'node:os';
import path from 'node:path';
import { selectBackend, type BackendName } from '../src/backend/select.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { evaluateObject } from '../src/physics/metrics.js';
import { extractPatch } from '../src/physics/patch.js';
import { StitchCanvas } from '../src/physics/stitch.js';
import type { Complex2D, Frame, Stream, TensorBatch } from '../src/pipeline/types.js';
import { scanCrop, toObjectFrame } from '../src/sinks/shared/object-frame.js';
import { placementFor } from '../src/sinks/shared/reconstruction.js';
import simulate from '../src/sources/simulate.js';
import { createStage, testContext } from '../src/testing/index.js';
import batch from '../src/transforms/batch.js';
import group from '../src/transforms/group.js';
import normalize from '../src/transforms/normalize.js';
import tensorify from '../src/transforms/tensorify.js';
import { arg, pairArg, recordPrinter } from './args.js';
import { sim } from './unseen.js';

const mean = (a: readonly number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
function std(a: readonly number[]): number {
  const m = mean(a);
  return Math.sqrt(mean(a.map((v) => (v - m) ** 2)));
}
function corr(a: readonly number[], b: readonly number[]): number {
  const ma = mean(a),
    mb = mean(b);
  let ab = 0,
    aa = 0,
    bb = 0;
  a.forEach((v, i) => {
    ab += (v - ma) * (b[i]! - mb);
    aa += (v - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  });
  return ab / Math.sqrt(aa * bb + 1e-30);
}

/** One predicted patch against the truth's, over the central N/2 square; offset = the constant phase that best maps it onto the truth. */
function compare(re: Float32Array, im: Float32Array, t: Complex2D, N: number) {
  const ta: number[] = [],
    pa: number[] = [],
    tp: number[] = [],
    pp: number[] = [];
  let sr = 0,
    si = 0;
  for (let r = N / 4; r < (3 * N) / 4; r++)
    for (let c = N / 4; c < (3 * N) / 4; c++) {
      const p = r * N + c;
      ta.push(Math.hypot(t.re[p]!, t.im[p]!));
      pa.push(Math.hypot(re[p]!, im[p]!));
      tp.push(Math.atan2(t.im[p]!, t.re[p]!));
      pp.push(Math.atan2(im[p]!, re[p]!));
      sr += t.re[p]! * re[p]! + t.im[p]! * im[p]!;
      si += t.im[p]! * re[p]! - t.re[p]! * im[p]!;
    }
  const offset = Math.atan2(si, sr);
  const rms = Math.sqrt(mean(tp.map((v, i) => Math.atan2(Math.sin(pp[i]! + offset - v), Math.cos(pp[i]! + offset - v)) ** 2)));
  return { ampCorr: corr(ta, pa), phaseCorr: corr(tp, pp), phaseRms: rms, truthPhaseStd: std(tp), predPhaseStd: std(pp), offset };
}

function turned(re: Float32Array, im: Float32Array, phi: number): [Float32Array, Float32Array] {
  const c = Math.cos(phi),
    s = Math.sin(phi);
  return [re.map((v, p) => v * c - im[p]! * s), re.map((v, p) => v * s + im[p]! * c)];
}

async function scoreScan(ckpt: string, scanNo: number, ampMin: [number, number] | undefined): Promise<Record<string, unknown>> {
  const ctx = (id: string) => testContext({ id, seed: 2024 });
  const src = (await createStage(simulate, sim({ size: 72, scans: 1, first: scanNo, ampMin }), [], ctx('scan'))) as Stream<Frame>;
  const normed = await createStage(normalize, { checkpoint: ckpt }, [src], ctx('normalized'));
  const grouped = await createStage(group, { gridsize: 1 }, [normed], ctx('groups'));
  const batched = await createStage(batch, { batch_size: 32 }, [grouped], ctx('batches'));
  const tensors = (await createStage(tensorify, {}, [batched], ctx('tensors'))) as Stream<TensorBatch>;
  const scan = src.meta.scan!,
    truth = scan.object!;
  const { model } = await loadCheckpoint(ckpt);
  const N = model.config.N;
  const at = placementFor(tensors.meta.scan!);
  const canvas = () => new StitchCanvas(at.height, at.width, { N, M: N / 2, originX: at.originX, originY: at.originY, alignPhase: false, window: 'flat' });
  const views = { as_infer: canvas(), oracle_offset: canvas(), truth_patches: canvas(), truth_amp_oracle_phase: canvas() };
  const stats: ReturnType<typeof compare>[] = [];
  try {
    for await (const tb of tensors.open(new AbortController().signal)) {
      try {
        const out = model.predict(tb.X, tb.coords);
        const [pr, pi, co] = [out.re.dataSync(), out.im.dataSync(), tb.coords.dataSync()];
        out.re.dispose();
        out.im.dispose();
        for (let k = 0; k < tb.size; k++) {
          const cx = tb.centers[2 * k]! - co[2 * k]!,
            cy = tb.centers[2 * k + 1]! - co[2 * k + 1]!;
          const re = Float32Array.from(pr.subarray(k * N * N, (k + 1) * N * N)),
            im = Float32Array.from(pi.subarray(k * N * N, (k + 1) * N * N));
          const t = extractPatch(truth, cx, cy, N);
          const s = compare(re, im, t, N);
          stats.push(s);
          const [or, oi] = turned(re, im, s.offset);
          const phase = or.map((v, p) => Math.atan2(oi[p]!, v));
          const amp = t.re.map((v, p) => Math.hypot(v, t.im[p]!));
          views.as_infer.add(re, im, N, cx, cy);
          views.oracle_offset.add(or, oi, N, cx, cy);
          views.truth_patches.add(Float32Array.from(t.re), Float32Array.from(t.im), N, cx, cy);
          views.truth_amp_oracle_phase.add(
            amp.map((a, p) => a * Math.cos(phase[p]!)),
            amp.map((a, p) => a * Math.sin(phase[p]!)),
            N,
            cx,
            cy,
          );
        }
      } finally {
        tb.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  const crop = scanCrop(scan, 0);
  const stitched: Record<string, string> = {};
  for (const [name, v] of Object.entries(views)) {
    const r = evaluateObject(truth, toObjectFrame(v.result().object, at.originX, at.originY, truth.height, truth.width), { crop });
    stitched[name] = `${r.amplitude.ssim.toFixed(3)} / ${r.phase.ssim.toFixed(3)}`;
  }
  const avg = (k: keyof ReturnType<typeof compare>): number => +mean(stats.map((s) => s[k])).toFixed(3);
  return {
    scan: scanNo,
    patches: stats.length,
    amp_corr: avg('ampCorr'),
    phase_corr: avg('phaseCorr'),
    phase_rms_after_offset: avg('phaseRms'),
    phase_std_truth: avg('truthPhaseStd'),
    phase_std_predicted: avg('predPhaseStd'),
    ssim_amp_phase: stitched,
  };
}

export async function run(args: string[]): Promise<void> {
  const ckpt = path.resolve(arg(args, 'checkpoint', path.join(os.tmpdir(), 'pf-unseen', 'train', 'checkpoint')));
  const held = Number(arg(args, 'held', '3'));
  const ampMin = pairArg(args, 'amp-min');
  await selectBackend(arg(args, 'backend', 'wasm') as BackendName);
  const print = recordPrinter(args.includes('--json'));
  for (let j = 0; j < held; j++) print(await scoreScan(ckpt, 1000 + j, ampMin));
}
