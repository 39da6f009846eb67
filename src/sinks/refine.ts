// The `refine` sink: iterative refinement of a stitched object directly
// against the measured patterns, with the same far-field forward model the
// network is trained through (SPEC §1). The object canvas itself is the only
// unknown: for every batch, each pattern's N×N window is cut out of the canvas
// at its scan position (bilinear for sub-pixel positions), multiplied by the
// probe, propagated, and its amplitude compared with the measured one (squared
// error on amplitudes, the variance-stabilised form of the Poisson
// likelihood); Adam updates the canvas. The probe stays fixed unless
// `refine_probe` names the pass from which it is updated too (as ePIE does
// once the object has taken shape; object and probe share one overall scale,
// so only their product is determined).
//
// It starts from what `infer` wrote (object, probe, canvas origin), so the
// network's reconstruction is the initial guess, or from a flat object. A first
// pass fits one real factor that scales the starting object to the data (the
// network's object and the data need not share units). The step size is
// relative to the object's mean amplitude and decays (cosine) over `epochs` or
// `max_minutes`, whichever ends first.
//
// Memory: the canvas, its Adam moments and one batch; the patterns stream in
// again on every pass, as in training.
import * as tf from '../tf.js';
import type { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import { linePlot } from '../io/png.js';
import { farFieldAmplitude } from '../physics/forward.js';
import { makeOptimizer } from '../model/optimizer.js';
import { defineSink, type Complex2D, type Json, type ScanMeta, type SinkOutput, type StageContext, type Stream } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { duration, rate, sig } from '../util/format.js';
import { placementFor, readComplex, writeReconstruction, type CanvasPlacement, type InferOutputs } from './shared/reconstruction.js';
import { budgetSpent, checkCosineRates, cosineLr, forEachBatch, inPath, outPath, readReconstruction, reconstructionOutput, savePng, secondsSince, setLearningRate, tensorBatchStream, trainingProgress } from './shared/util.js';
import { PassScorer, timeToSsim, type PassScore } from './shared/pass-score.js';
import { refineSpec, type refineOptions } from './shared/refine-spec.js';
import { fitSums, PassDriver } from './shared/refine-gradient.js';

export type RefineOptions = z.output<typeof refineOptions>;

/** Canvas indices and bilinear weights of every pattern window of a batch. */
interface Windows {
  /** One entry per bilinear tap that some window of the batch uses. */
  taps: { index: Int32Array; weight: Float32Array | undefined }[];
  patterns: number;
}

/**
 * The flat canvas indices of each pattern's N×N window (pattern p = b·C + c sits
 * at centre_b − offset_{b,c}, like infer's patches), for the bilinear taps the
 * batch needs; integer positions need only the first tap, unweighted.
 */
export function windowTaps(centers: Float64Array, coords: Float32Array, B: number, C: number, N: number, placement: CanvasPlacement, where: string): Windows {
  const P = B * C, NN = N * N, { width: W, height: H } = placement;
  const starts = new Int32Array(2 * P), fracs = new Float64Array(2 * P);
  let fractional = false;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const p = b * C + c;
      const x = centers[2 * b]! - coords[b * 2 * C + c]!, y = centers[2 * b + 1]! - coords[b * 2 * C + C + c]!;
      const sx = x - N / 2 - placement.originX, sy = y - N / 2 - placement.originY;
      const ix = Math.floor(sx), iy = Math.floor(sy);
      fracs[2 * p] = sx - ix;
      fracs[2 * p + 1] = sy - iy;
      if (fracs[2 * p] !== 0 || fracs[2 * p + 1] !== 0) fractional = true;
      const spillX = fracs[2 * p] === 0 ? 0 : 1, spillY = fracs[2 * p + 1] === 0 ? 0 : 1;
      if (ix < 0 || iy < 0 || ix + N + spillX > W || iy + N + spillY > H) {
        throw new DataError('OUTSIDE_CANVAS', `${where}: the window of the pattern at (${x}, ${y}) reaches outside the object canvas (${W}×${H} from (${placement.originX}, ${placement.originY}))`, {
          hint: 'refine the reconstruction that infer made from this same scan',
        });
      }
      starts[2 * p] = ix;
      starts[2 * p + 1] = iy;
    }
  }
  const offsets: [number, number][] = fractional ? [[0, 0], [1, 0], [0, 1], [1, 1]] : [[0, 0]];
  const taps = offsets.map(([dx, dy]) => {
    const index = new Int32Array(P * NN);
    const weight = fractional ? new Float32Array(P) : undefined;
    for (let p = 0; p < P; p++) {
      const x0 = starts[2 * p]! + dx, y0 = starts[2 * p + 1]! + dy;
      if (weight !== undefined) {
        const fx = fracs[2 * p]!, fy = fracs[2 * p + 1]!;
        weight[p] = (dx === 1 ? fx : 1 - fx) * (dy === 1 ? fy : 1 - fy);
      }
      for (let r = 0; r < N; r++) {
        // A zero-weight tap may point one pixel past the canvas; clamp it (its weight is 0).
        const row = Math.min(y0 + r, H - 1) * W;
        for (let c = 0; c < N; c++) index[p * NN + r * N + c] = row + Math.min(x0 + c, W - 1);
      }
    }
    return { index, weight };
  });
  return { taps, patterns: P };
}

/** The pattern windows of a canvas (H·W, flat) as (P, N, N, 1), bilinear where the taps say. */
export function cutWindows(canvas: tf.Tensor1D, taps: readonly { index: tf.Tensor; weight: tf.Tensor | undefined }[], P: number, N: number): tf.Tensor4D {
  let sum: tf.Tensor | undefined;
  for (const t of taps) {
    let v: tf.Tensor = tf.gather(canvas, t.index);
    if (t.weight !== undefined) v = v.mul(t.weight);
    sum = sum === undefined ? v : sum.add(v);
  }
  return sum!.reshape([P, N, N, 1]);
}

/** The measured amplitudes of a batch, (B,N,N,C) → (B·C,N,N,1) in pattern order b·C + c. */
export function measured(X: tf.Tensor4D): tf.Tensor4D {
  const [B, N, , C] = X.shape;
  return (C === 1 ? X : X.transpose([0, 3, 1, 2])).reshape([B * C, N, N, 1]);
}

export interface Start {
  object: Complex2D;
  probe: Complex2D;
  placement: CanvasPlacement;
  from: string;
}

export async function startingPoint(options: RefineOptions, scan: ScanMeta, ctx: StageContext, given: Stream<unknown> | undefined): Promise<Start> {
  if (given !== undefined) {
    if (options.reconstruction !== undefined) throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': give the starting reconstruction as input 1 or as the reconstruction option, not both`, { stage: ctx.id, key: 'reconstruction' });
    const r = await readReconstruction(given, ctx, 'input 1 (the starting reconstruction)');
    return { object: r.object, probe: r.probe, placement: { originX: r.origin[0], originY: r.origin[1], width: r.object.width, height: r.object.height }, from: r.file ?? 'input 1' };
  }
  if (options.reconstruction === undefined) {
    const placement = placementFor(scan);
    const n = placement.width * placement.height;
    return { object: { height: placement.height, width: placement.width, re: new Float32Array(n).fill(1), im: new Float32Array(n) }, probe: scan.probe, placement, from: 'flat' };
  }
  const file = inPath(ctx, options.reconstruction);
  const object = await readComplex(file, 'object', [], ctx.id);
  const probe = await readComplex(file, 'probe', [], ctx.id);
  if (object.origin === undefined) {
    throw new DataError('MISSING_KEY', `no 'origin' array: the canvas cannot be placed on the scan positions`, { stage: ctx.id, file, hint: 'refine an NPZ written by the infer sink' });
  }
  return { object, probe, placement: { originX: object.origin[0], originY: object.origin[1], width: object.width, height: object.height }, from: file };
}

export default defineSink({
  ...refineSpec,
  async create(options, { ctx, inputs }): Promise<SinkOutput> {
    const t0 = performance.now();
    const input = tensorBatchStream(inputs[0], ctx, 'input 0 (pattern batches)');
    const scan = input.meta.scan;
    if (scan === undefined) throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': its input carries no scan metadata (positions)`, { stage: ctx.id, hint: 'feed refine from a source through group/batch/tensorify' });
    checkCosineRates(ctx, options.lr, options.final_lr);
    const N = scan.N;
    const start = await startingPoint(options, scan, ctx, inputs[1]);
    const { placement, probe } = start;
    if (probe.height !== N || probe.width !== N) {
      throw new DataError('SHAPE_MISMATCH', `stage '${ctx.id}': the probe is ${probe.height}×${probe.width} but the patterns are ${N}×${N}`, { stage: ctx.id, file: start.from, hint: 'refine with the reconstruction of this scan' });
    }
    const HW = placement.width * placement.height;
    const where = `stage '${ctx.id}'`;

    // Checked before any tensor exists, so a refusal leaves nothing behind.
    let probeRms = 0;
    for (let i = 0; i < N * N; i++) probeRms += probe.re[i]! ** 2 + probe.im[i]! ** 2;
    probeRms = Math.sqrt(probeRms / (N * N));
    if (!(probeRms > 0)) {
      throw new DataError('NO_SIGNAL', `${where}: the probe is zero (or not finite): it lights nothing, so the object cannot be fitted`, { stage: ctx.id, file: start.from, hint: 'refine the NPZ infer wrote for this scan, whose probe the network used' });
    }
    const variable = <R extends tf.Rank>(values: Float32Array, shape: number[], name: string): tf.Variable<R> => {
      const init = tf.tensor(values, shape);
      try {
        return tf.variable(init, true, `${ctx.id}/${name}`) as tf.Variable<R>;
      } finally {
        init.dispose();
      }
    };
    const probeRe = variable<tf.Rank.R2>(probe.re, [N, N], 'probe_re');
    const probeIm = variable<tf.Rank.R2>(probe.im, [N, N], 'probe_im');
    const objRe = variable<tf.Rank.R1>(start.object.re, [HW], 'object_re');
    const objIm = variable<tf.Rank.R1>(start.object.im, [HW], 'object_im');
    const optimizer = makeOptimizer(options.lr);
    const probeOptimizer = makeOptimizer(options.lr);

    /** Runs `fn` on every batch with its windows as tensors (disposed after). */
    const eachBatch = (fn: (X: tf.Tensor4D, taps: { index: tf.Tensor; weight: tf.Tensor | undefined }[], P: number, raw: Windows) => void, onBatch?: (i: number) => void): Promise<number> =>
      forEachBatch(input, ctx.signal, async (batch, i) => {
        if (batch.N !== N) throw new DataError('SHAPE_MISMATCH', `${where}: batch has N=${batch.N}, the scan N=${N}`, { stage: ctx.id });
        const coords = (await batch.coords.data()) as Float32Array;
        const w = windowTaps(batch.centers, coords, batch.size, batch.C, N, placement, where);
        const taps = w.taps.map((t) => ({ index: tf.tensor3d(t.index, [w.patterns, N, N], 'int32'), weight: t.weight === undefined ? undefined : tf.tensor3d(t.weight, [w.patterns, 1, 1]) }));
        try {
          fn(batch.X, taps, w.patterns, w);
        } finally {
          for (const t of taps) {
            t.index.dispose();
            t.weight?.dispose();
          }
        }
        ctx.ledger.check(ctx.id);
        onBatch?.(i);
      });

    const predicted = (taps: { index: tf.Tensor; weight: tf.Tensor | undefined }[], P: number): tf.Tensor4D =>
      farFieldAmplitude(cutWindows(objRe, taps, P, N), cutWindows(objIm, taps, P, N), probeRe, probeIm);

    try {
      // Pass 0: the factor s minimising Σ(s·A − X)², the starting loss, and the illuminated pixels.
      let sAX = 0, sAA = 0, sXX = 0, values = 0;
      const lit = new Uint8Array(HW), centre = new Uint8Array(HW);
      const lo = Math.floor(N / 4), hi = lo + Math.floor(N / 2);
      const total = input.meta.count;
      await eachBatch((X, taps, P, raw) => {
        const [ax, aa, xx] = tf.tidy(() => fitSums(predicted(taps, P), measured(X)));
        sAX += ax; sAA += aa; sXX += xx; values += P * N * N;
        const first = raw.taps[0]!.index;
        for (let p = 0; p < P; p++) {
          for (let k = 0; k < N * N; k++) {
            const o = first[p * N * N + k]!;
            lit[o] = 1;
            const r = Math.floor(k / N), c = k % N;
            if (r >= lo && r < hi && c >= lo && c < hi) centre[o] = 1;
          }
        }
      }, (i) => ctx.progress({ label: 'fit scale', done: i + 1, ...(total !== undefined ? { total } : {}), unit: 'batches' }));
      if (values === 0) throw new DataError('EMPTY_INPUT', `${where}: the input yielded no batches`, { stage: ctx.id });
      if (!(sAA > 0) || !(sAX > 0)) {
        throw new DataError('NO_SIGNAL', `${where}: the starting object predicts no signal where the data has some (Σ A·X = ${sAX}, Σ A² = ${sAA})`, { stage: ctx.id, file: start.from, hint: 'check that the reconstruction and probe belong to this scan, or start flat (no reconstruction option)' });
      }
      const scale = sAX / sAA;
      const startLoss = (sXX - (sAX * sAX) / sAA) / values;
      for (const v of [objRe, objIm]) {
        const scaled = v.mul(scale);
        v.assign(scaled as tf.Tensor1D);
        scaled.dispose();
      }
      let ampSum = 0, litCount = 0;
      {
        const re = objRe.dataSync(), im = objIm.dataSync();
        for (let i = 0; i < HW; i++) if (lit[i] === 1) { ampSum += Math.hypot(re[i]!, im[i]!); litCount++; }
      }
      // step: pass keeps the object in float64 (shared/refine-gradient.ts); the variables hold it rounded.
      const passer = PassDriver.start(options, start.object, probe, scale, lit, [objRe, objIm]);
      const meanAmp = passer?.meanAmp ?? ampSum / Math.max(litCount, 1);
      if (!(meanAmp > 0)) throw new DataError('NO_SIGNAL', `${where}: the starting object is zero where the probe lights it`, { stage: ctx.id, file: start.from });
      const budget = options.max_minutes === undefined ? Infinity : options.max_minutes * 60;
      ctx.log.info(`starting from ${start.from}: scaled by ${scale.toPrecision(6)}, mean amplitude ${meanAmp.toPrecision(4)}, amplitude MSE ${sig(startLoss)}; lr cosine ${rate(options.lr)} → ${rate(options.final_lr)} over ${options.epochs} passes${Number.isFinite(budget) ? ` or ${duration(budget)}` : ''}`);

      const history: ({ epoch: number; loss: number; lr: number; seconds: number } & Partial<PassScore>)[] = [];
      const scorer = PassScorer.for(scan, options.score_every);
      let stopped: 'epochs' | 'time_budget' = 'epochs';
      let batches: number | undefined;
      const tr = performance.now();
      for (let epoch = 0; epoch < options.epochs; epoch++) {
        ctx.signal.throwIfAborted();
        const te = performance.now();
        let sum = 0, patterns = 0, step = 0, lr = options.lr;
        const label = 'pass';
        const pass = { index: epoch + 1, of: options.epochs };
        const probeOn = options.refine_probe > 0 && epoch + 1 >= options.refine_probe;
        const vars = probeOn ? [objRe, objIm, probeRe, probeIm] : [objRe, objIm];
        if (passer !== undefined) lr = passer.begin(options, epoch, secondsSince(tr), budget, probeOn);
        const seen = await eachBatch((X, taps, P, raw) => {
          if (passer !== undefined) {
            ({ sum, patterns } = tf.tidy(() => passer.add(cutWindows(objRe, taps, P, N), cutWindows(objIm, taps, P, N), probeRe, probeIm, measured(X), raw.taps)));
            return;
          }
          lr = cosineLr(options.lr, options.final_lr, trainingProgress({ epoch, batch: step, batches, epochs: options.epochs, seconds: secondsSince(tr), budget }));
          setLearningRate(optimizer, lr * meanAmp);
          step++;
          const { value: loss, grads } = tf.variableGrads(() => tf.tidy(() => predicted(taps, P).sub(measured(X)).square().mean<tf.Scalar>()), vars);
          let value: number;
          try {
            optimizer.applyGradients([objRe, objIm].map((v) => ({ name: v.name, tensor: grads[v.name]! })));
            if (probeOn) {
              setLearningRate(probeOptimizer, lr * probeRms);
              probeOptimizer.applyGradients([probeRe, probeIm].map((v) => ({ name: v.name, tensor: grads[v.name]! })));
            }
            value = loss.dataSync()[0]!;
          } finally {
            loss.dispose();
            for (const g of Object.values(grads)) g.dispose();
          }
          if (!Number.isFinite(value)) throw new DataError('LOSS_NOT_FINITE', `${where}: the loss became ${value} in pass ${epoch + 1}`, { stage: ctx.id, hint: 'lower lr' });
          sum += value * P;
          patterns += P;
        }, (i) => ctx.progress({ label, pass, done: i + 1, ...(batches !== undefined ? { total: batches } : {}), unit: 'batches', info: { loss: sum / Math.max(patterns, 1), lr } }));
        batches ??= seen;
        passer?.end(lr, vars, where, epoch);
        const record = { epoch: epoch + 1, loss: sum / patterns, lr, seconds: secondsSince(te) };
        const outOfTime = epoch + 1 < options.epochs && budgetSpent(secondsSince(tr), budget, record.seconds, true);
        const score = scorer?.due(epoch + 1, outOfTime || epoch + 1 === options.epochs) === true
          ? scorer.score({ height: placement.height, width: placement.width, re: objRe.dataSync(), im: objIm.dataSync() }, [placement.originX, placement.originY])
          : undefined;
        history.push({ ...record, ...score });
        ctx.progress({ label, pass, done: seen, total: seen, unit: 'batches', info: { loss: record.loss, lr, ...score }, finished: true });
        if (outOfTime) {
          stopped = 'time_budget';
          break;
        }
      }

      const end = history[history.length - 1]!;
      ctx.log.info(`${history.length} passes in ${duration(secondsSince(tr))}: amplitude MSE ${sig(startLoss)} → ${sig(end.loss)}, lr ${rate(end.lr)} at the end${stopped === 'time_budget' ? ' (time budget)' : ''}`);
      const object: Complex2D = { height: placement.height, width: placement.width, re: Float32Array.from(objRe.dataSync()), im: Float32Array.from(objIm.dataSync()) };
      const files: InferOutputs = { npz: outPath(ctx, options.npz), amplitude_png: outPath(ctx, options.amplitude_png), phase_png: outPath(ctx, options.phase_png) };
      const finalProbe: Complex2D = options.refine_probe > 0 ? { height: N, width: N, re: Float32Array.from(probeRe.dataSync()), im: Float32Array.from(probeIm.dataSync()) } : probe;
      await writeReconstruction(files, { object, covered: centre, placement }, finalProbe, ctx.id);
      await writeFileAtomic(outPath(ctx, options.history), JSON.stringify(history, null, 2) + '\n');
      await savePng(outPath(ctx, options.loss_plot), linePlot([{ name: 'amplitude MSE', x: [0, ...history.map((h) => h.epoch)], y: [startLoss, ...history.map((h) => h.loss)] }], { title: `${ctx.id} loss`, xlabel: 'pass', ylabel: 'loss' }));
      const last = history[history.length - 1]!;
      const summary: Json = {
        ...files,
        from: start.from,
        scale,
        passes: history.length,
        probe_refined_from: options.refine_probe > 0 && history.length >= options.refine_probe ? options.refine_probe : null,
        stopped,
        start_loss: startLoss,
        final_loss: last.loss,
        ...(scorer === undefined ? {} : { time_to_ssim: timeToSsim(history) }),
        history: outPath(ctx, options.history),
        loss_plot: outPath(ctx, options.loss_plot),
        seconds: secondsSince(t0),
      };
      return reconstructionOutput(summary, { object, probe: finalProbe, origin: [placement.originX, placement.originY], weights: centre, file: files.npz }, scan);
    } finally {
      optimizer.dispose();
      probeOptimizer.dispose();
      objRe.dispose();
      objIm.dispose();
      probeRe.dispose();
      probeIm.dispose();
    }
  },
});
