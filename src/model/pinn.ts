// PtychoPINN (SPEC §5): the network of network.ts followed by the physics —
// object patches amp·e^{i·phase}, the per-group overlap constraint for C > 1,
// illumination by the (optionally trainable) normalised probe, the far field,
// and the Poisson/MAE loss against the measured amplitudes. The intensity scale
// s is a log-parameterised variable; when it trains, the network input is
// X·s₀/s and the prediction s·A against fixed counts (s₀·X)², as in the
// reference's IntensityScaler pair (whose variable never actually trained).
import * as tf from '../tf.js';
import { DataError, OptionsError } from '../errors.js';
import { farFieldAmplitude, maeLoss, poissonNLL } from '../physics/forward.js';
import { reassembleAndExtract } from '../physics/overlap.js';
import { diskMask, normalizeProbe, probeSupport } from '../physics/probe.js';
import type { Complex2D } from '../records/index.js';
import { outputSpread, type Diagnosis } from './collapse.js';
import { parseModelConfig, type ModelConfig, type ModelConfigInput, type SupportMode } from './config.js';
import { forwardNetwork, initialValue, inverseAmpActivation, isHead, paramSpecs, planNetwork, specSize, type NetworkPlan, type ParamSpec } from './network.js';

let instances = 0;

/** The support 'auto' resolves to: the reference alias pad_object if set, else from the probe's power (≥95% in the central N/2 square → center). */
export function resolveSupport(config: ModelConfig, rawProbe: Complex2D): SupportMode {
  const alias = config.pad_object === undefined ? undefined : config.pad_object ? 'center' : 'full';
  if (config.object_support !== 'auto') {
    if (alias !== undefined && alias !== config.object_support) {
      throw new OptionsError('BAD_MODEL_CONFIG', `pad_object: ${config.pad_object} contradicts object_support: ${config.object_support}`, {
        key: 'pad_object',
        hint: 'set only object_support',
      });
    }
    return config.object_support;
  }
  return alias ?? probeSupport(rawProbe, 0.95).mode;
}

/**
 * The uniform object amplitude whose exit waves carry the energy `normalize`
 * gives every pattern, (N/2)² (SPEC §3): a² · Σ|P|² over the support = (N/2)²,
 * with P the normalised probe (masked when the model masks it).
 */
export function targetAmplitude(probe: Complex2D, support: SupportMode, masked: boolean): number {
  const N = probe.width;
  const m = masked ? diskMask(N) : undefined;
  const lo = support === 'center' ? N / 4 : 0;
  const hi = support === 'center' ? (3 * N) / 4 : N;
  let energy = 0;
  for (let y = lo; y < hi; y++) {
    for (let x = lo; x < hi; x++) {
      const k = y * N + x;
      energy += (probe.re[k]! ** 2 + probe.im[k]! ** 2) * (m === undefined ? 1 : m[k]! ** 2);
    }
  }
  return energy > 0 ? N / 2 / Math.sqrt(energy) : 1;
}

export interface NamedVariable {
  /** Stable name (checkpoint key), without the per-instance prefix. */
  name: string;
  variable: tf.Variable;
}

export class PtychoPINN {
  readonly config: ModelConfig;
  readonly supportMode: SupportMode;
  /** Factor the raw probe was divided by (normalizeProbe). */
  readonly probeFactor: number;
  /** The fixed physics scale s₀ = sqrt(nphotons)/(N/2). */
  readonly baseScale: number;
  readonly plan: NetworkPlan;
  readonly seed: number;
  private readonly specs: ParamSpec[];
  private readonly weights = new Map<string, tf.Variable>();
  private readonly probeRe: tf.Variable;
  private readonly probeIm: tf.Variable;
  private readonly logScale: tf.Variable;
  private readonly mask: Float32Array | undefined;
  private disposed = false;

  private constructor(config: ModelConfig, support: SupportMode, probe: Complex2D, probeFactor: number, seed: number) {
    this.config = { ...config, object_support: support };
    this.supportMode = support;
    this.probeFactor = probeFactor;
    this.seed = seed;
    const N = config.N;
    this.baseScale = Math.sqrt(config.nphotons) / (N / 2);
    const a0 = targetAmplitude(probe, support, config.probe_mask);
    this.plan = { ...planNetwork(config, support), ...(config.amp_activation === 'scaled_sigmoid' ? { ampScale: a0 } : {}) };
    this.specs = paramSpecs(this.plan);
    const prefix = `ptychoflow${++instances}/`;
    // Variables survive the tidy; their initial-value tensors do not.
    [this.probeRe, this.probeIm, this.logScale] = tf.tidy(() => {
      const ampBias = config.init === 'he' ? inverseAmpActivation(config.amp_activation, a0, a0) : 0;
      for (const s of this.specs) {
        const value = initialValue(s, seed, config.init);
        // The amplitude the data's energy asks for, from the first step: no large early gradient drags every channel there.
        if (ampBias !== 0 && s.name.startsWith('amp/') && s.name.endsWith('/bias') && isHead(s.name) && !s.name.includes('head_border')) value.fill(ampBias);
        this.weights.set(s.name, tf.variable(tf.tensor(value, s.shape), true, prefix + s.name));
      }
      return [
        tf.variable(tf.tensor2d(probe.re, [N, N]), config.trainable_probe, `${prefix}probe/re`),
        tf.variable(tf.tensor2d(probe.im, [N, N]), config.trainable_probe, `${prefix}probe/im`),
        tf.variable(tf.scalar(Math.log(this.baseScale)), config.trainable_intensity_scale, `${prefix}log_intensity_scale`),
      ] as const;
    });
    this.mask = config.probe_mask ? diskMask(N) : undefined;
  }

  /** Builds a model; `probe` is the raw N×N probe (normalised inside), `seed` seeds the weight initialisation. */
  static create(config: ModelConfig | ModelConfigInput, probe: Complex2D, seed: number): PtychoPINN {
    const cfg = parseModelConfig(config);
    if (probe.width !== cfg.N || probe.height !== cfg.N) {
      throw new DataError('PROBE_SIZE', `the probe is ${probe.height}×${probe.width} but the model has N=${cfg.N}`, {
        hint: 'the probe must be N×N on the object grid',
      });
    }
    const support = resolveSupport(cfg, probe);
    const { probe: normed, factor } = normalizeProbe(probe, { probeScale: cfg.probe_scale, mask: true });
    return new PtychoPINN(cfg, support, normed, factor, seed);
  }

  /**
   * Rebuilds a model around an already-normalised probe (from a checkpoint):
   * no second normalisation, the original factor is kept. The support must be
   * resolved (not 'auto').
   */
  static restore(config: ModelConfig, normalizedProbe: Complex2D, probeFactor: number, seed: number): PtychoPINN {
    const cfg = parseModelConfig(config);
    if (cfg.object_support === 'auto')
      throw new OptionsError('BAD_MODEL_CONFIG', "restore needs a resolved object_support, got 'auto'", { key: 'object_support' });
    if (normalizedProbe.width !== cfg.N || normalizedProbe.height !== cfg.N) {
      throw new DataError('PROBE_SIZE', `the probe is ${normalizedProbe.height}×${normalizedProbe.width} but the model has N=${cfg.N}`);
    }
    return new PtychoPINN(cfg, cfg.object_support, normalizedProbe, probeFactor, seed);
  }

  /** Trainable network parameters (the reference's count; probe and scale excluded). */
  paramCount(): number {
    return this.specs.reduce((a, s) => a + specSize(s), 0);
  }

  /** Network weights in checkpoint order, then the probe and the log intensity scale. */
  namedVariables(): NamedVariable[] {
    return [
      ...this.specs.map((s) => ({ name: s.name, variable: this.weights.get(s.name)! })),
      { name: 'probe/re', variable: this.probeRe },
      { name: 'probe/im', variable: this.probeIm },
      { name: 'log_intensity_scale', variable: this.logScale },
    ];
  }

  /** The variables an optimizer updates, in a fixed order (Adam's slots follow it). */
  trainableVariables(): tf.Variable[] {
    return this.namedVariables()
      .map((v) => v.variable)
      .filter((v) => v.trainable);
  }

  private checkInputs(X: tf.Tensor4D, coords: tf.Tensor4D | undefined): void {
    this.assertAlive();
    const { N } = this.config;
    const C = this.plan.C;
    const [B, h, w, c] = X.shape;
    if (X.rank !== 4 || h !== N || w !== N || c !== C) {
      throw new DataError('SHAPE_MISMATCH', `model input X must be (B,${N},${N},${C}), got [${X.shape.join(',')}]`, {
        hint: 'N and gridsize of the data must match the model',
      });
    }
    if (coords !== undefined && coords.shape.join() !== [B, 1, 2, C].join()) {
      throw new DataError('SHAPE_MISMATCH', `coords must be (B,1,2,C) = (${B},1,2,${C}), got [${coords.shape.join(',')}]`);
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new OptionsError('MODEL_DISPOSED', 'the model was disposed');
  }

  /** Object patches from the network (inside a tidy). */
  private objectPatches(X: tf.Tensor4D): { re: tf.Tensor4D; im: tf.Tensor4D } {
    const input = this.config.trainable_intensity_scale ? X.mul<tf.Tensor4D>(tf.exp(tf.scalar(Math.log(this.baseScale)).sub(this.logScale))) : X;
    const { amp, phase } = forwardNetwork(input, this.plan, this.weights);
    return { re: amp.mul(tf.cos(phase)), im: amp.mul(tf.sin(phase)) };
  }

  /** Predicted far-field amplitude in units of X, i.e. (s/s₀)·A (inside a tidy). */
  private predictedAmplitude(X: tf.Tensor4D, coords: tf.Tensor4D): tf.Tensor4D {
    let obj = this.objectPatches(X);
    if (this.plan.C > 1) {
      // The overlap average counts only the members whose object support reaches a pixel.
      const N = this.config.N;
      obj = reassembleAndExtract(obj.re, obj.im, coords, N, { support: this.supportMode === 'center' ? N / 2 : N });
    }
    let pr: tf.Tensor2D = this.probeRe as tf.Tensor2D;
    let pi: tf.Tensor2D = this.probeIm as tf.Tensor2D;
    if (this.mask !== undefined) {
      const m = tf.tensor2d(this.mask, [this.config.N, this.config.N]);
      pr = pr.mul(m);
      pi = pi.mul(m);
    }
    const A = farFieldAmplitude(obj.re, obj.im, pr, pi);
    return this.config.trainable_intensity_scale ? A.mul(tf.exp(this.logScale).div(this.baseScale)) : A;
  }

  private lossTensor(X: tf.Tensor4D, coords: tf.Tensor4D): tf.Scalar {
    const pred = this.predictedAmplitude(X, coords);
    const { loss_poisson: wp, loss_mae: wm, epsilon } = this.config;
    let loss: tf.Scalar = tf.scalar(0);
    if (wp > 0) loss = loss.add(poissonNLL(pred, X, this.baseScale, epsilon).mul(wp));
    if (wm > 0) loss = loss.add(maeLoss(pred.mul(this.baseScale), X.mul(this.baseScale)).mul(wm));
    return loss;
  }

  /** One optimizer step on a batch; returns the loss before the step. Does not dispose X or coords. */
  trainStep(X: tf.Tensor4D, coords: tf.Tensor4D, optimizer: tf.Optimizer): number {
    this.checkInputs(X, coords);
    const cost = optimizer.minimize(() => this.lossTensor(X, coords), true, this.trainableVariables());
    if (cost === null) throw new OptionsError('NO_LOSS', 'optimizer.minimize returned no loss');
    const v = cost.dataSync()[0]!;
    cost.dispose();
    return v;
  }

  /** The loss on a batch without updating anything. */
  evaluateLoss(X: tf.Tensor4D, coords: tf.Tensor4D): number {
    this.checkInputs(X, coords);
    const t = tf.tidy(() => this.lossTensor(X, coords));
    const v = t.dataSync()[0]!;
    t.dispose();
    return v;
  }

  /**
   * Collapse measurements on a batch (collapse.ts): the spatial spread of the
   * predicted object and the global gradient norm. Updates nothing; costs one
   * forward and one backward pass.
   */
  diagnose(X: tf.Tensor4D, coords: tf.Tensor4D): Diagnosis {
    this.checkInputs(X, coords);
    const { re, im } = tf.tidy(() => this.objectPatches(X));
    let spread;
    try {
      spread = outputSpread(re, im);
    } finally {
      tf.dispose([re, im]);
    }
    const { value, grads } = tf.variableGrads(() => this.lossTensor(X, coords), this.trainableVariables());
    try {
      const norm = tf.tidy(() => tf.addN(Object.values(grads).map((g) => g.square().sum())).sqrt());
      const gradNorm = norm.dataSync()[0]!;
      norm.dispose();
      return { ...spread, gradNorm };
    } finally {
      value.dispose();
      tf.dispose(Object.values(grads));
    }
  }

  /** Predicted far-field amplitudes (B,N,N,C) in the units of X; caller disposes. */
  predictAmplitude(X: tf.Tensor4D, coords: tf.Tensor4D): tf.Tensor4D {
    this.checkInputs(X, coords);
    return tf.tidy(() => this.predictedAmplitude(X, coords));
  }

  /** The network's object patches (B,N,N,C) as re/im (before the overlap constraint); caller disposes. */
  predict(X: tf.Tensor4D, coords?: tf.Tensor4D): { re: tf.Tensor4D; im: tf.Tensor4D } {
    this.checkInputs(X, coords);
    return tf.tidy(() => this.objectPatches(X));
  }

  /** The current (normalised) probe. */
  probe(): Complex2D {
    this.assertAlive();
    const N = this.config.N;
    return { height: N, width: N, re: this.probeRe.dataSync<'float32'>().slice(), im: this.probeIm.dataSync<'float32'>().slice() };
  }

  /** The current intensity scale s (s₀ exactly when not trainable). */
  intensityScale(): number {
    this.assertAlive();
    return this.config.trainable_intensity_scale ? Math.exp(this.logScale.dataSync()[0]!) : this.baseScale;
  }

  /**
   * All state in namedVariables() order: network weights, probe re, probe im, log
   * intensity scale. Like tf.LayersModel.getWeights these are the model's own
   * variables (no copies): read them, do not dispose them.
   */
  getWeights(): tf.Tensor[] {
    this.assertAlive();
    return this.namedVariables().map((v) => v.variable);
  }

  /** Assigns tensors given in namedVariables() order (shapes must match); does not dispose them. */
  setWeights(ws: readonly tf.Tensor[]): void {
    this.assertAlive();
    const vars = this.namedVariables();
    if (ws.length !== vars.length) throw new DataError('WEIGHTS_MISMATCH', `setWeights: expected ${vars.length} tensors, got ${ws.length}`);
    vars.forEach((v, i) => {
      const t = ws[i]!;
      if (t.shape.join() !== v.variable.shape.join()) {
        throw new DataError('WEIGHTS_MISMATCH', `setWeights: '${v.name}' has shape [${v.variable.shape.join(',')}], got [${t.shape.join(',')}]`);
      }
    });
    vars.forEach((v, i) => v.variable.assign(ws[i]!));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.namedVariables()) v.variable.dispose();
  }
}
