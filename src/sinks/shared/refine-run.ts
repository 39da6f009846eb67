// The state of one `refine` run (sinks/refine.ts): the object canvas and the
// probe as variables with their optimizers, the pass over the pattern batches
// with their windows as tensors, pass 0 (the scale fit and the illuminated
// pixels) and one refinement pass in either step mode. dispose() frees every
// tensor it made.
import * as tf from '../../tf.js';
import { DataError } from '../../errors.js';
import { farFieldAmplitude } from '../../physics/forward.js';
import { makeOptimizer } from '../../model/optimizer.js';
import type { Complex2D, StageContext, Stream, TensorBatch } from '../../pipeline/types.js';
import { cosineLr, trainingProgress } from '../../model/schedule.js';
import { fitSums, PassDriver } from './refine-gradient.js';
import { cutWindows, measured, windowTaps, type RefineOptions, type Start, type Windows } from './refine-windows.js';
import { forEachBatch, setLearningRate } from './util.js';

type Taps = { index: tf.Tensor; weight: tf.Tensor | undefined }[];

/** Pass 0's results. */
export interface Fit {
  scale: number;
  startLoss: number;
  /** Canvas pixels under the central N/2 square of some pattern (the reconstruction's `weights`). */
  centre: Uint8Array;
  meanAmp: number;
  /** step: pass only: the float64 pass driver. */
  passer: PassDriver | undefined;
}

export class Refinement {
  readonly N: number;
  readonly where: string;
  readonly probeRms: number;
  private readonly probeRe: tf.Variable<tf.Rank.R2>;
  private readonly probeIm: tf.Variable<tf.Rank.R2>;
  private readonly objRe: tf.Variable<tf.Rank.R1>;
  private readonly objIm: tf.Variable<tf.Rank.R1>;
  private readonly optimizer: tf.Optimizer;
  private readonly probeOptimizer: tf.Optimizer;

  /** `probeRms` is checked by the caller before any tensor exists. */
  constructor(
    private readonly ctx: StageContext,
    private readonly options: RefineOptions,
    private readonly input: Stream<TensorBatch>,
    private readonly start: Start,
    probeRms: number,
  ) {
    this.N = start.probe.height;
    this.where = `stage '${ctx.id}'`;
    this.probeRms = probeRms;
    const { N } = this;
    const HW = start.placement.width * start.placement.height;
    const variable = <R extends tf.Rank>(values: Float32Array, shape: number[], name: string): tf.Variable<R> => {
      const init = tf.tensor(values, shape);
      try {
        return tf.variable(init, true, `${ctx.id}/${name}`) as tf.Variable<R>;
      } finally {
        init.dispose();
      }
    };
    this.probeRe = variable(start.probe.re, [N, N], 'probe_re');
    this.probeIm = variable(start.probe.im, [N, N], 'probe_im');
    this.objRe = variable(start.object.re, [HW], 'object_re');
    this.objIm = variable(start.object.im, [HW], 'object_im');
    this.optimizer = makeOptimizer(options.lr);
    this.probeOptimizer = makeOptimizer(options.lr);
  }

  /** Runs `fn` on every batch with its windows as tensors (disposed after). */
  private eachBatch(fn: (X: tf.Tensor4D, taps: Taps, P: number, raw: Windows) => void, onBatch?: (i: number) => void): Promise<number> {
    const { N, ctx, where } = this;
    return forEachBatch(this.input, ctx.signal, async (batch, i) => {
      if (batch.N !== N) throw new DataError('SHAPE_MISMATCH', `${where}: batch has N=${batch.N}, the scan N=${N}`, { stage: ctx.id });
      const coords = (await batch.coords.data()) as Float32Array;
      const w = windowTaps(batch.centers, coords, batch.size, batch.C, N, this.start.placement, where);
      const taps = w.taps.map((t) => ({
        index: tf.tensor3d(t.index, [w.patterns, N, N], 'int32'),
        weight: t.weight === undefined ? undefined : tf.tensor3d(t.weight, [w.patterns, 1, 1]),
      }));
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
  }

  private predicted(taps: Taps, P: number): tf.Tensor4D {
    return farFieldAmplitude(cutWindows(this.objRe, taps, P, this.N), cutWindows(this.objIm, taps, P, this.N), this.probeRe, this.probeIm);
  }

  /** Pass 0: the factor s minimising Σ(s·A − X)² (applied to the object), the starting loss, and the illuminated pixels. */
  async fit(): Promise<Fit> {
    const { N, ctx, where, start } = this;
    const HW = start.placement.width * start.placement.height;
    let sAX = 0,
      sAA = 0,
      sXX = 0,
      values = 0;
    const lit = new Uint8Array(HW),
      centre = new Uint8Array(HW);
    const lo = Math.floor(N / 4),
      hi = lo + Math.floor(N / 2);
    const total = this.input.meta.count;
    await this.eachBatch(
      (X, taps, P, raw) => {
        const [ax, aa, xx] = tf.tidy(() => fitSums(this.predicted(taps, P), measured(X)));
        sAX += ax;
        sAA += aa;
        sXX += xx;
        values += P * N * N;
        const first = raw.taps[0]!.index;
        for (let p = 0; p < P; p++) {
          for (let k = 0; k < N * N; k++) {
            const o = first[p * N * N + k]!;
            lit[o] = 1;
            const r = Math.floor(k / N),
              c = k % N;
            if (r >= lo && r < hi && c >= lo && c < hi) centre[o] = 1;
          }
        }
      },
      (i) => ctx.progress({ label: 'fit scale', done: i + 1, ...(total !== undefined ? { total } : {}), unit: 'batches' }),
    );
    if (values === 0) throw new DataError('EMPTY_INPUT', `${where}: the input yielded no batches`, { stage: ctx.id });
    if (!(sAA > 0) || !(sAX > 0)) {
      throw new DataError('NO_SIGNAL', `${where}: the starting object predicts no signal where the data has some (Σ A·X = ${sAX}, Σ A² = ${sAA})`, {
        stage: ctx.id,
        file: start.from,
        hint: 'check that the reconstruction and probe belong to this scan, or start flat (no reconstruction option)',
      });
    }
    const scale = sAX / sAA;
    for (const v of [this.objRe, this.objIm]) {
      const scaled = v.mul(scale);
      v.assign(scaled as tf.Tensor1D);
      scaled.dispose();
    }
    let ampSum = 0,
      litCount = 0;
    const re = this.objRe.dataSync(),
      im = this.objIm.dataSync();
    for (let i = 0; i < HW; i++)
      if (lit[i] === 1) {
        ampSum += Math.hypot(re[i]!, im[i]!);
        litCount++;
      }
    // step: pass keeps the object in float64 (shared/refine-gradient.ts); the variables hold it rounded.
    const passer = PassDriver.start(this.options, start.object, start.probe, scale, lit, [this.objRe, this.objIm]);
    const meanAmp = passer?.meanAmp ?? ampSum / Math.max(litCount, 1);
    if (!(meanAmp > 0))
      throw new DataError('NO_SIGNAL', `${where}: the starting object is zero where the probe lights it`, { stage: ctx.id, file: start.from });
    return { scale, startLoss: (sXX - (sAX * sAX) / sAA) / values, centre, meanAmp, passer };
  }

  /**
   * One refinement pass (0-based `epoch`): Adam steps per batch on the object
   * (and the probe from `refine_probe` on) with the cosine rate, or one
   * update from the whole pass's gradient with step: pass.
   */
  async pass(
    epoch: number,
    fit: Fit,
    t: { seconds: () => number; budget: number; batches: number | undefined },
  ): Promise<{ loss: number; lr: number; seen: number }> {
    const { N, ctx, where, options } = this;
    const { passer } = fit;
    let sum = 0,
      patterns = 0,
      step = 0,
      lr = options.lr;
    const pass = { index: epoch + 1, of: options.epochs };
    const probeOn = options.refine_probe > 0 && epoch + 1 >= options.refine_probe;
    const vars = probeOn ? [this.objRe, this.objIm, this.probeRe, this.probeIm] : [this.objRe, this.objIm];
    if (passer !== undefined) lr = passer.begin(options, epoch, t.seconds(), t.budget, probeOn);
    const seen = await this.eachBatch(
      (X, taps, P, raw) => {
        if (passer !== undefined) {
          ({ sum, patterns } = tf.tidy(() =>
            passer.add(cutWindows(this.objRe, taps, P, N), cutWindows(this.objIm, taps, P, N), this.probeRe, this.probeIm, measured(X), raw.taps),
          ));
          return;
        }
        lr = cosineLr(
          options.lr,
          options.final_lr,
          trainingProgress({ epoch, batch: step, batches: t.batches, epochs: options.epochs, seconds: t.seconds(), budget: t.budget }),
        );
        step++;
        const value = this.step(taps, P, X, vars, lr * fit.meanAmp, probeOn ? lr * this.probeRms : undefined);
        if (!Number.isFinite(value))
          throw new DataError('LOSS_NOT_FINITE', `${where}: the loss became ${value} in pass ${epoch + 1}`, { stage: ctx.id, hint: 'lower lr' });
        sum += value * P;
        patterns += P;
      },
      (i) =>
        ctx.progress({
          label: 'pass',
          pass,
          done: i + 1,
          ...(t.batches !== undefined ? { total: t.batches } : {}),
          unit: 'batches',
          info: { loss: sum / Math.max(patterns, 1), lr },
        }),
    );
    passer?.end(lr, vars, where, epoch);
    return { loss: sum / patterns, lr, seen };
  }

  /** One Adam step on the object (and on the probe when `probeLr` is given); returns the batch's loss. */
  private step(taps: Taps, P: number, X: tf.Tensor4D, vars: tf.Variable[], objectLr: number, probeLr: number | undefined): number {
    setLearningRate(this.optimizer, objectLr);
    const { value: loss, grads } = tf.variableGrads(() => tf.tidy(() => this.predicted(taps, P).sub(measured(X)).square().mean<tf.Scalar>()), vars);
    try {
      this.optimizer.applyGradients([this.objRe, this.objIm].map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      if (probeLr !== undefined) {
        setLearningRate(this.probeOptimizer, probeLr);
        this.probeOptimizer.applyGradients([this.probeRe, this.probeIm].map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      }
      return loss.dataSync()[0]!;
    } finally {
      loss.dispose();
      for (const g of Object.values(grads)) g.dispose();
    }
  }

  /** The object canvas as it stands. */
  object(): Complex2D {
    const { placement } = this.start;
    return { height: placement.height, width: placement.width, re: Float32Array.from(this.objRe.dataSync()), im: Float32Array.from(this.objIm.dataSync()) };
  }

  /** The probe: refined when refine_probe is on, else the starting one. */
  probe(): Complex2D {
    if (!(this.options.refine_probe > 0)) return this.start.probe;
    return { height: this.N, width: this.N, re: Float32Array.from(this.probeRe.dataSync()), im: Float32Array.from(this.probeIm.dataSync()) };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.probeOptimizer.dispose();
    tf.dispose([this.objRe, this.objIm, this.probeRe, this.probeIm]);
  }
}
