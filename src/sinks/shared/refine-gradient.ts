// The TensorFlow.js side of refine's `step: pass` mode (refine-pass.ts): a
// batch's gradient of Σ(A − Y)² added into the pass's float64 sums, and the
// float64 state copied back into the variables. Used by refine and by a
// rounds job's tiles (scale/contribution.ts), so both add the same terms.
//
// Why per pattern: the gradient is taken with respect to each pattern's own
// window and probe copy, not the canvas, so every term is the same float32
// number whichever patterns share its batch (a tile batches other patterns
// together than the whole scan does). Each term is then multiplied by its
// bilinear weight and added into the canvas sums here in float64, where the
// order of addition changes the sum only at the 1e-16 level. Taking the
// gradient of the canvas inside TensorFlow.js would add a batch's terms in
// float32 first, and Adam's first steps (m̂/√v̂ ≈ sign g) turn such rounding
// into whole steps wherever a pixel's gradient nearly cancels.
import * as tf from '../../tf.js';
import { farFieldAmplitude } from '../../physics/forward.js';
import type { Complex2D } from '../../pipeline/types.js';
import { DataError } from '../../errors.js';
import { emptyGradient, PassRefiner, type PassGradient, type PassSchedule } from './refine-pass.js';

/**
 * Adds one batch. `wr`, `wi`: the object windows (P,N,N,1) cut along `taps`
 * (the canvas indices and bilinear weights refine cuts them with); `Y` the
 * measured amplitudes (P,N,N,1). The probe gradient is added when `acc` has one.
 */
export function addBatchGradient(
  acc: PassGradient,
  wr: tf.Tensor4D,
  wi: tf.Tensor4D,
  probeRe: tf.Tensor2D,
  probeIm: tf.Tensor2D,
  Y: tf.Tensor4D,
  taps: readonly { index: Int32Array; weight: Float32Array | undefined }[],
): void {
  const [P, N] = wr.shape,
    NN = N * N;
  const [value, gr, gi, gpr, gpi] = tf.tidy(() => {
    const pr = probeRe.reshape<tf.Tensor4D>([1, N, N, 1]).tile([P, 1, 1, 1]);
    const pi = probeIm.reshape<tf.Tensor4D>([1, N, N, 1]).tile([P, 1, 1, 1]);
    const one = tf.ones<tf.Rank.R2>([N, N]),
      zero = tf.zeros<tf.Rank.R2>([N, N]);
    // ψ = P·O formed here, then propagated with a unit probe: the same float32 numbers as farFieldAmplitude(O, P).
    // Per pattern Σ(A − Y)² (P values; dy = 1 makes its gradient that of their sum), so the loss adds per pattern too.
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor): tf.Tensor1D => {
      const psiRe = a.mul(c).sub<tf.Tensor4D>(b.mul(d)),
        psiIm = a.mul(d).add<tf.Tensor4D>(b.mul(c));
      return farFieldAmplitude(psiRe, psiIm, one, zero).sub(Y).square().sum([1, 2, 3]);
    };
    const { value: v, grads } = tf.valueAndGrads(f)([wr, wi, pr, pi], tf.ones([P]));
    let loss = 0;
    for (const x of v.dataSync()) loss += x;
    return [loss, ...grads.map((g) => g.dataSync() as Float32Array)] as [number, Float32Array, Float32Array, Float32Array, Float32Array];
  });
  for (const t of taps) {
    for (let p = 0; p < P; p++) {
      const w = t.weight === undefined ? 1 : t.weight[p]!;
      if (w === 0) continue;
      for (let k = p * NN; k < (p + 1) * NN; k++) {
        const i = t.index[k]!;
        acc.objRe[i] = acc.objRe[i]! + w * gr[k]!;
        acc.objIm[i] = acc.objIm[i]! + w * gi[k]!;
      }
    }
  }
  if (acc.probeRe !== undefined && acc.probeIm !== undefined) {
    for (let k = 0; k < P * NN; k++) {
      acc.probeRe[k % NN] = acc.probeRe[k % NN]! + gpr[k]!;
      acc.probeIm[k % NN] = acc.probeIm[k % NN]! + gpi[k]!;
    }
  }
  acc.loss += value;
  acc.values += P * NN;
}

/**
 * refine's scale-fit sums of a batch, [Σ A·Y, Σ A², Σ Y²]: per pattern in
 * float32 (the same numbers whatever the batch), then added in float64, so a
 * tile job's sums match the whole scan's to float64 rounding.
 */
export function fitSums(A: tf.Tensor4D, Y: tf.Tensor4D): [number, number, number] {
  const per = tf.tidy(() => [A.mul(Y), A.square(), Y.square()].map((t) => t.sum([1, 2, 3]).dataSync()));
  return per.map((v) => {
    let s = 0;
    for (const x of v) s += x;
    return s;
  }) as [number, number, number];
}

/** Sets a variable to float32 values (the float64 state rounded). */
export function assignValues(v: tf.Variable, values: Float64Array): void {
  const t = tf.tensor(Float32Array.from(values), v.shape);
  v.assign(t);
  t.dispose();
}

type Taps = readonly { index: Int32Array; weight: Float32Array | undefined }[];

/** refine's `step: pass` loop over its variables: begin a pass, add its batches, end it with the one update. */
export class PassDriver {
  private acc: PassGradient | undefined;
  private constructor(readonly refiner: PassRefiner) {}

  get meanAmp(): number {
    return this.refiner.meanAmp;
  }

  /** For `step: pass`, the scaled start in float64, copied into [objRe, objIm]; otherwise undefined. */
  static start(
    o: { step: 'batch' | 'pass' },
    start: Complex2D,
    probe: Complex2D,
    scale: number,
    lit: Uint8Array,
    obj: [tf.Variable, tf.Variable],
  ): PassDriver | undefined {
    if (o.step !== 'pass') return undefined;
    const d = new PassDriver(new PassRefiner(start, probe, scale, lit));
    assignValues(obj[0], d.refiner.objRe);
    assignValues(obj[1], d.refiner.objIm);
    return d;
  }

  /** Starts pass `epoch`; returns its step size. */
  begin(s: PassSchedule, epoch: number, seconds: number, budget: number, probeOn: boolean): number {
    this.acc = emptyGradient(this.refiner.objRe.length, probeOn ? this.refiner.probeRe.length : 0);
    return PassRefiner.lr(s, epoch, seconds, budget);
  }

  /** Adds a batch; returns the pass's Σ per-pattern mean loss and its pattern count so far. */
  add(wr: tf.Tensor4D, wi: tf.Tensor4D, probeRe: tf.Tensor2D, probeIm: tf.Tensor2D, Y: tf.Tensor4D, taps: Taps): { sum: number; patterns: number } {
    addBatchGradient(this.acc!, wr, wi, probeRe, probeIm, Y, taps);
    const NN = wr.shape[1] * wr.shape[2];
    return { sum: this.acc!.loss / NN, patterns: this.acc!.values / NN };
  }

  /** Applies the pass's update and copies it into `vars` ([objRe, objIm] or with [probeRe, probeIm]). */
  end(lr: number, vars: tf.Variable[], where: string, epoch: number): void {
    const loss = this.refiner.step(this.acc!, lr);
    if (!Number.isFinite(loss)) throw new DataError('LOSS_NOT_FINITE', `${where}: the loss became ${loss} in pass ${epoch + 1}`, { hint: 'lower lr' });
    const r = this.refiner;
    [r.objRe, r.objIm, r.probeRe, r.probeIm].slice(0, vars.length).forEach((x, k) => assignValues(vars[k]!, x));
  }
}
