// refine's `step: pass` mode: one update per pass from the gradient of the
// whole pass (Σ over every pattern), instead of one Adam step per batch. The
// pass gradient is a plain sum over patterns, so it decomposes over any
// partition of them: a scale-out job sums the contributions of its tiles
// (src/scale/rounds.ts) and applies the very update the single-process run
// applies, with this same code. The update runs in float64 on the CPU, not
// in TensorFlow.js, so the coordinator of a job needs no engine and both
// paths compute it identically (the TensorFlow.js side, a batch's gradient,
// is refine-gradient.ts); only the order in which float32 batch
// gradients are added differs.
import type { Complex2D } from '../../pipeline/types.js';
import { cosineLr, trainingProgress } from '../../model/schedule.js';

/** Σ over some patterns of ∂Σ(A − Y)²/∂(object, probe), and Σ(A − Y)² itself. */
export interface PassGradient {
  objRe: Float64Array;
  objIm: Float64Array;
  /** Present when the probe is refined in this pass. */
  probeRe?: Float64Array;
  probeIm?: Float64Array;
  loss: number;
  values: number;
}

export function emptyGradient(pixels: number, probePixels: number): PassGradient {
  const g: PassGradient = { objRe: new Float64Array(pixels), objIm: new Float64Array(pixels), loss: 0, values: 0 };
  if (probePixels > 0) {
    g.probeRe = new Float64Array(probePixels);
    g.probeIm = new Float64Array(probePixels);
  }
  return g;
}

/** Adds `b` into `a` (a job's tiles, in shard order). */
export function addGradient(a: PassGradient, b: PassGradient): void {
  const pairs: [Float64Array | undefined, Float64Array | undefined][] = [
    [a.objRe, b.objRe],
    [a.objIm, b.objIm],
    [a.probeRe, b.probeRe],
    [a.probeIm, b.probeIm],
  ];
  for (const [x, y] of pairs) {
    if (x === undefined || y === undefined) continue;
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + y[i]!;
  }
  a.loss += b.loss;
  a.values += b.values;
}

/** Adam (β₁ 0.9, β₂ 0.999, ε 1e-7, as makeOptimizer) on a float64 parameter. */
class Adam64 {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(n: number) {
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
  }
  /** x −= lr · m̂ / (√v̂ + ε) for the gradient `g` divided by `count`. */
  step(xs: Float64Array[], gs: Float64Array[], count: number, lr: number): void {
    this.t++;
    const c1 = 1 - 0.9 ** this.t,
      c2 = 1 - 0.999 ** this.t;
    let o = 0;
    for (let k = 0; k < xs.length; k++) {
      const x = xs[k]!,
        g = gs[k]!;
      for (let i = 0; i < x.length; i++, o++) {
        const gi = g[i]! / count;
        this.m[o] = 0.9 * this.m[o]! + 0.1 * gi;
        this.v[o] = 0.999 * this.v[o]! + 0.001 * gi * gi;
        x[i] = x[i]! - (lr * (this.m[o]! / c1)) / (Math.sqrt(this.v[o]! / c2) + 1e-7);
      }
    }
  }
}

export interface PassSchedule {
  lr: number;
  final_lr: number;
  epochs: number;
  refine_probe: number;
}

/** The state of a `step: pass` refinement: object and probe in float64, their Adam moments, the step scales. */
export class PassRefiner {
  readonly objRe: Float64Array;
  readonly objIm: Float64Array;
  readonly probeRe: Float64Array;
  readonly probeIm: Float64Array;
  readonly meanAmp: number;
  readonly probeRms: number;
  private readonly objAdam: Adam64;
  private readonly probeAdam: Adam64;

  /** The start object times the fitted `scale`; the mean amplitude over the `lit` pixels sets the object's step. */
  constructor(start: Complex2D, probe: Complex2D, scale: number, lit: Uint8Array) {
    const n = start.re.length;
    this.objRe = Float64Array.from(start.re, (x) => x * scale);
    this.objIm = Float64Array.from(start.im, (x) => x * scale);
    this.probeRe = Float64Array.from(probe.re);
    this.probeIm = Float64Array.from(probe.im);
    let amp = 0,
      count = 0,
      p2 = 0;
    for (let i = 0; i < n; i++)
      if (lit[i] === 1) {
        amp += Math.hypot(this.objRe[i]!, this.objIm[i]!);
        count++;
      }
    for (let i = 0; i < probe.re.length; i++) p2 += probe.re[i]! ** 2 + probe.im[i]! ** 2;
    this.meanAmp = amp / Math.max(count, 1);
    this.probeRms = Math.sqrt(p2 / probe.re.length);
    this.objAdam = new Adam64(2 * n);
    this.probeAdam = new Adam64(2 * probe.re.length);
  }

  /** Whether pass `epoch` (0-based) refines the probe too. */
  static probeOn(s: PassSchedule, epoch: number): boolean {
    return s.refine_probe > 0 && epoch + 1 >= s.refine_probe;
  }

  /** The step of pass `epoch` (cosine over the passes, or over the time budget if that runs out first). */
  static lr(s: PassSchedule, epoch: number, seconds = 0, budget = Infinity): number {
    return cosineLr(s.lr, s.final_lr, trainingProgress({ epoch, batch: 0, batches: 1, epochs: s.epochs, seconds, budget }));
  }

  /** Applies pass `epoch`'s update from the whole pass's gradient; returns the pass's mean loss. */
  step(g: PassGradient, lr: number): number {
    this.objAdam.step([this.objRe, this.objIm], [g.objRe, g.objIm], g.values, lr * this.meanAmp);
    if (g.probeRe !== undefined && g.probeIm !== undefined)
      this.probeAdam.step([this.probeRe, this.probeIm], [g.probeRe, g.probeIm], g.values, lr * this.probeRms);
    return g.loss / g.values;
  }

  object(height: number, width: number): Complex2D {
    return { height, width, re: Float32Array.from(this.objRe), im: Float32Array.from(this.objIm) };
  }

  probe(N: number): Complex2D {
    return { height: N, width: N, re: Float32Array.from(this.probeRe), im: Float32Array.from(this.probeIm) };
  }
}
