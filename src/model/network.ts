// The PtychoPINN convolutional network (SPEC §5, reference model.py): an encoder
// of [Conv3×3 ReLU, Conv3×3 ReLU, MaxPool2] blocks down to 8×8 and two
// decoders (amplitude, phase) of [Conv3×3 ReLU, Conv3×3 ReLU, UpSample2] blocks
// to N/2, then a head per object support. Raw tf ops on tf.variables (not
// tf.layers) so that weight names, gradients and disposal are fully explicit.
// The layout reproduces the reference's parameter count exactly (2,252,026 at
// N=64, C=1, scale 2, pad_object without probe_big), including its quirk that
// the central head reads all but the last 4 body channels (those 4 feed the
// border branch in 'border' mode and are unused otherwise).
import * as tf from '../tf.js';
import { OptionsError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { ModelConfig, SupportMode } from './config.js';

/** Body channels reserved for the border branch (the reference's `c_outer`). */
const C_OUTER = 4;

export interface NetworkPlan {
  N: number;
  /** Channels in and out: C = gridsize². */
  C: number;
  support: SupportMode;
  encoder: number[];
  /** Decoder body blocks (8×8 → N/2); empty at N = 16. */
  body: number[];
  /** Channels of the decoder body output (N/2 × N/2). */
  bodyChannels: number;
  /** Filters of the extra up-block of the 'full' head and of the border branch (reference: n_filters_scale·2048/N). */
  upFilters: number;
  ampActivation: ModelConfig['amp_activation'];
  /** Extra convolutions (upFilters → upFilters, ReLU) at N×N before the 'full' head. */
  fullResConvs: number;
  /** 'scaled_sigmoid' only: the output is 2·ampScale·σ(x) (ampScale = the mean amplitude the data need, set by the model). */
  ampScale?: number;
}

export interface ParamSpec {
  name: string;
  shape: number[];
}

const scaled = (base: number, f: number): number => Math.max(1, Math.round(base * f));

export function planNetwork(config: ModelConfig, support: SupportMode): NetworkPlan {
  const { N, gridsize, n_filters_scale: f } = config;
  const L = Math.log2(N / 8);
  if (!Number.isInteger(L) || L < 1) throw new OptionsError('BAD_MODEL_CONFIG', `N must be a power of two ≥ 16, got ${N}`, { key: 'N' });
  const encoder = Array.from({ length: L }, (_, i) => scaled(128 / 2 ** (L - 1 - i), f));
  const body = Array.from({ length: L - 1 }, (_, j) => scaled(32 * 2 ** (L - 2 - j), f));
  const bodyChannels = body.length > 0 ? body[body.length - 1]! : encoder[encoder.length - 1]!;
  if (support !== 'full' && bodyChannels <= C_OUTER) {
    throw new OptionsError(
      'BAD_MODEL_CONFIG',
      `n_filters_scale ${f} leaves ${bodyChannels} decoder channels; the '${support}' head needs more than ${C_OUTER}`,
      {
        key: 'n_filters_scale',
        hint: 'raise n_filters_scale or use object_support: full',
      },
    );
  }
  const fullResConvs = config.full_res_convs;
  if (fullResConvs > 0 && support !== 'full') {
    throw new OptionsError('BAD_MODEL_CONFIG', `full_res_convs ${fullResConvs} needs object_support 'full' (the support is '${support}')`, {
      key: 'full_res_convs',
      hint: 'set object_support: full, or full_res_convs: 0',
    });
  }
  return {
    N,
    C: gridsize * gridsize,
    support,
    encoder,
    body,
    bodyChannels,
    upFilters: scaled(2048 / N, f),
    ampActivation: config.amp_activation,
    fullResConvs,
  };
}

function conv(name: string, cin: number, cout: number): ParamSpec[] {
  return [
    { name: `${name}/kernel`, shape: [3, 3, cin, cout] },
    { name: `${name}/bias`, shape: [cout] },
  ];
}

/** Every weight of the network in a fixed order (the checkpoint and optimizer order). */
export function paramSpecs(plan: NetworkPlan): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let cin = plan.C;
  plan.encoder.forEach((f, i) => {
    specs.push(...conv(`encoder/block${i}/conv0`, cin, f), ...conv(`encoder/block${i}/conv1`, f, f));
    cin = f;
  });
  const bottleneck = cin;
  for (const branch of ['amp', 'phase']) {
    cin = bottleneck;
    plan.body.forEach((f, j) => {
      specs.push(...conv(`${branch}/block${j}/conv0`, cin, f), ...conv(`${branch}/block${j}/conv1`, f, f));
      cin = f;
    });
    if (plan.support === 'full') {
      specs.push(...conv(`${branch}/up/conv0`, cin, plan.upFilters), ...conv(`${branch}/up/conv1`, plan.upFilters, plan.upFilters));
      for (let r = 0; r < plan.fullResConvs; r++) specs.push(...conv(`${branch}/full_res/conv${r}`, plan.upFilters, plan.upFilters));
      specs.push(...conv(`${branch}/head_full`, plan.upFilters, plan.C));
    } else {
      specs.push(...conv(`${branch}/head_center`, cin - C_OUTER, plan.C));
      if (plan.support === 'border') {
        specs.push(...conv(`${branch}/border/conv0`, C_OUTER, plan.upFilters), ...conv(`${branch}/border/conv1`, plan.upFilters, plan.upFilters));
        specs.push(...conv(`${branch}/head_border`, plan.upFilters, plan.C));
      }
    }
  }
  return specs;
}

export const specSize = (s: ParamSpec): number => s.shape.reduce((a, b) => a * b, 1);

/**
 * Seeded initial values, one stream per weight name, zero biases. 'glorot' is
 * the reference's (Keras) Glorot-uniform. 'he' is He-uniform, limit
 * sqrt(6/fan_in), which keeps the activation variance through ReLU layers (with
 * Glorot it halves per layer: at N = 64 the untrained output's spatial spread
 * is ~3e-4 and the phase decoder's gradients fall to ~1e-3 within a few steps,
 * i.e. the collapse of issue #17), with the heads scaled by HEAD_GAIN so the
 * untrained object is smooth and the first steps do not drive the ReLUs dead.
 */
export function initialValue(spec: ParamSpec, seed: number, init: ModelConfig['init'] = 'glorot'): Float32Array {
  const out = new Float32Array(specSize(spec));
  if (spec.shape.length !== 4) return out;
  const [kh, kw, cin, cout] = spec.shape as [number, number, number, number];
  const limit = init === 'he' ? Math.sqrt(6 / (kh * kw * cin)) * (isHead(spec.name) ? HEAD_GAIN : 1) : Math.sqrt(6 / (kh * kw * (cin + cout)));
  const rng = Rng.derive(seed, 'pinn-init', spec.name);
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * limit;
  return out;
}

/** Scale of the output heads' He limit: small, so the untrained object is nearly its bias. */
const HEAD_GAIN = 0.1;

/** The final convolution of a decoder branch (head_center, head_full, head_border). */
export function isHead(name: string): boolean {
  return /\/head_[a-z]+\//.test(name);
}

type Weights = ReadonlyMap<string, tf.Variable>;

/**
 * How convolution gradients are computed. 'custom': both gradients are
 * forward Conv2Ds — the input gradient a 'same' correlation with the flipped,
 * transposed kernel, the filter gradient a 'valid' correlation of the
 * transposed padded input with the transposed output gradient (batch as the
 * reduced axis). The cpu backend's Conv2DBackpropFilter is ~30× slower than its
 * Conv2D; wasm's Conv2DBackpropInput is a plain loop ~4× slower than its
 * XNNPACK Conv2D, and it has no Conv2DBackpropFilter without extra kernels. 'native': tf.fused.conv2d with tfjs' own
 * gradients, for backends where they are fast.
 */
export type ConvImpl = 'custom' | 'native';
let convOverride: ConvImpl | undefined;

/** Forces a convolution implementation (undefined: 'native' on webgl/webgpu/tensorflow backends, else 'custom'). */
export function setConvImpl(impl: ConvImpl | undefined): void {
  convOverride = impl;
}

export function convImpl(): ConvImpl {
  if (convOverride !== undefined) return convOverride;
  const b = tf.getBackend();
  return b === 'webgl' || b === 'tensorflow' || b === 'webgpu' ? 'native' : 'custom';
}

/**
 * 3×3 'same' convolution, stride 1, plus bias and activation, run forward as
 * one fused kernel (XNNPACK applies the bias and the ReLU clamp inside the
 * convolution on wasm, so no separate Add and Relu passes over the output), with
 * both gradients as forward convolutions. ReLU's gradient is read from the
 * saved output (y > 0 exactly where the pre-activation is > 0).
 */
function makeConv3x3(activation: 'relu' | 'linear'): (x: tf.Tensor4D, k: tf.Tensor4D, bias: tf.Tensor1D) => tf.Tensor4D {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, k, bias, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.GradSaveFunc];
    const y = tf.fused.conv2d({ x, filter: k, strides: 1, pad: 'same', bias, activation });
    save(activation === 'relu' ? [x, k, y] : [x, k]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ks, ys] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D | undefined];
        const g = (ys === undefined ? dy : dy.mul(tf.step(ys))) as tf.Tensor4D;
        // dx is the 'same' correlation of g with the kernel flipped in space and transposed in/out.
        const dx = tf.conv2d(g, tf.reverse(ks, [0, 1]).transpose<tf.Tensor4D>([0, 1, 3, 2]), 1, 'same');
        // dK[ky,kx,i,o] = Σ_{b,y,x} xpad[b,y+ky,x+kx,i]·g[b,y,x,o]: a 'valid' correlation over (y,x) with b as the channel sum.
        const xt = xs
          .pad([
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ])
          .transpose<tf.Tensor4D>([3, 1, 2, 0]);
        const dk = tf.conv2d(xt, g.transpose<tf.Tensor4D>([1, 2, 0, 3]), 1, 'valid').transpose([1, 2, 0, 3]);
        return [dx, dk, sumOverPixels(g)];
      },
    };
  });
}

const conv3x3 = { relu: makeConv3x3('relu'), linear: makeConv3x3('linear') };

/**
 * Σ over batch and pixels of (B,H,W,C) → (C): the bias gradient, as a (1 × BHW)
 * ones row times the (BHW × C) matrix. wasm sums over leading axes by
 * transposing them inward first: 28.6 ms at (16,64,64,64), against 1.0 ms for
 * the product.
 */
function sumOverPixels(g: tf.Tensor4D): tf.Tensor1D {
  const [b, h, w, c] = g.shape;
  const m = b * h * w;
  return tf.matMul(tf.ones([1, m]), g.reshape([m, c])).reshape([c]);
}

/**
 * ReLU whose gradient is dy·[y > 0], read from the saved output. tfjs' own
 * ReLU gradient is dy·step(x), and the native backend (tfjs-node 4.22) runs
 * Step as six full-size TensorFlow ops (IsNan, Greater, two Fills, two
 * Selects): at the reference configuration that was ~17 % of a training step,
 * against three here (Greater, Cast, Mul). Not dy·sign(y): wasm's Sign returns
 * 0 for positive values below ~1e-5.
 */
export const reluFromOutput = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
  const y = tf.relu(x);
  save([y]);
  return { value: y, gradFunc: (dy: tf.Tensor, [ys]: tf.Tensor[]) => dy.mul(ys!.greater(0).cast('float32')) };
}) as (x: tf.Tensor4D) => tf.Tensor4D;

function convAt(x: tf.Tensor4D, w: Weights, name: string, activation: 'relu' | 'linear'): tf.Tensor4D {
  const filter = w.get(`${name}/kernel`) as tf.Tensor4D;
  const bias = w.get(`${name}/bias`) as tf.Tensor1D;
  if (convImpl() === 'native') {
    // tfjs-node runs FusedConv2D as Conv2D, BiasAdd and Relu anyway, so splitting the ReLU off costs nothing.
    const z = tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', bias });
    return activation === 'relu' ? reluFromOutput(z) : z;
  }
  return conv3x3[activation](x, filter, bias);
}

/**
 * 2×2 max pooling, stride 2. tf.maxPool with MaxPoolGrad (on wasm the
 * project's own kernel, src/backend/kernels/max-pool-grad.ts): at the
 * reference configuration on wasm, forward + backward of the first pooling
 * layer took 42 ms against 422 ms for a reshape + max, whose gradient is a
 * broadcast Equal that wasm runs slowly (cpu: 1.25 s against 1.57 s). The two
 * differ only where a window holds tied maxima (the reshape + max sends the
 * gradient to every tied element, MaxPoolGrad to the first, as Keras does);
 * the network pools ReLU outputs, whose ties are zeros that ReLU's own
 * gradient then stops.
 */
function maxPool2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 2, 2, 'valid');
}

/** Nearest-neighbour 2× upsampling by broadcasting (differentiable on every backend, unlike resize grads on wasm). */
function upsample2(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return x
    .reshape([b * h, 1, w, 1, c])
    .mul(tf.ones([1, 2, 1, 2, 1]))
    .reshape([b, 2 * h, 2 * w, c]);
}

function activate(x: tf.Tensor4D, kind: NetworkPlan['ampActivation'] | 'phase', scale = 1): tf.Tensor4D {
  switch (kind) {
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'scaled_sigmoid':
      return tf.sigmoid(x).mul(2 * scale);
    case 'swish':
      return x.mul(tf.sigmoid(x));
    case 'softplus':
      return tf.softplus(x);
    case 'relu':
      return tf.relu(x);
    case 'phase':
      return tf.tanh(x).mul(Math.PI);
  }
}

/**
 * The pre-activation at which the amplitude head outputs `a` (for the 'he'
 * bias), with `a` clamped into the activation's reach (sigmoid: below 0.95).
 */
export function inverseAmpActivation(kind: NetworkPlan['ampActivation'], a: number, scale = 1): number {
  switch (kind) {
    case 'scaled_sigmoid': {
      const p = Math.min(Math.max(a / (2 * scale), 0.05), 0.95);
      return Math.log(p / (1 - p));
    }
    case 'sigmoid': {
      const p = Math.min(Math.max(a, 0.05), 0.95);
      return Math.log(p / (1 - p));
    }
    case 'softplus':
      return Math.log(Math.expm1(Math.max(a, 1e-3)));
    case 'relu':
      return Math.max(a, 0);
    case 'swish': {
      // x·σ(x) is monotone for x > 0; a few Newton steps from x = a + 0.5.
      let x = Math.max(a, 0) + 0.5;
      for (let k = 0; k < 20; k++) {
        const sg = 1 / (1 + Math.exp(-x));
        x -= (x * sg - a) / (sg + x * sg * (1 - sg));
      }
      return x;
    }
  }
}

const borderMasks = new Map<number, Float32Array>();
/** 1 outside the central N/2 square, 0 inside (the reference's 'border' centre mask). */
function borderMask(N: number): tf.Tensor4D {
  let m = borderMasks.get(N);
  if (m === undefined) {
    m = new Float32Array(N * N).fill(1);
    for (let y = N / 4; y < (3 * N) / 4; y++) for (let x = N / 4; x < (3 * N) / 4; x++) m[y * N + x] = 0;
    borderMasks.set(N, m);
  }
  return tf.tensor4d(m, [1, N, N, 1]);
}

function decode(z: tf.Tensor4D, plan: NetworkPlan, w: Weights, branch: 'amp' | 'phase'): tf.Tensor4D {
  const act = branch === 'amp' ? plan.ampActivation : 'phase';
  let x = z;
  plan.body.forEach((_, j) => {
    x = upsample2(convAt(convAt(x, w, `${branch}/block${j}/conv0`, 'relu'), w, `${branch}/block${j}/conv1`, 'relu'));
  });
  if (plan.support === 'full') {
    let up = upsample2(convAt(convAt(x, w, `${branch}/up/conv0`, 'relu'), w, `${branch}/up/conv1`, 'relu'));
    for (let r = 0; r < plan.fullResConvs; r++) up = convAt(up, w, `${branch}/full_res/conv${r}`, 'relu');
    return activate(convAt(up, w, `${branch}/head_full`, 'linear'), act, plan.ampScale);
  }
  const ch = plan.bodyChannels;
  const q = plan.N / 4;
  const inner = x.slice([0, 0, 0, 0], [-1, -1, -1, ch - C_OUTER]);
  const centre = activate(convAt(inner, w, `${branch}/head_center`, 'linear'), act, plan.ampScale).pad<tf.Tensor4D>([
    [0, 0],
    [q, q],
    [q, q],
    [0, 0],
  ]);
  if (plan.support === 'center') return centre;
  const outer = x.slice([0, 0, 0, ch - C_OUTER], [-1, -1, -1, C_OUTER]);
  const up = upsample2(convAt(convAt(outer, w, `${branch}/border/conv0`, 'relu'), w, `${branch}/border/conv1`, 'relu'));
  const border = activate(convAt(up, w, `${branch}/head_border`, 'linear'), 'swish');
  return centre.add(border.mul(borderMask(plan.N)));
}

/** Network forward: X (B,N,N,C) → amplitude and phase patches (B,N,N,C). Call inside tf.tidy. */
export function forwardNetwork(x: tf.Tensor4D, plan: NetworkPlan, w: Weights): { amp: tf.Tensor4D; phase: tf.Tensor4D } {
  let z = x;
  plan.encoder.forEach((_, i) => {
    const y = convAt(convAt(z, w, `encoder/block${i}/conv0`, 'relu'), w, `encoder/block${i}/conv1`, 'relu');
    z = maxPool2(y);
  });
  return { amp: decode(z, plan, w, 'amp'), phase: decode(z, plan, w, 'phase') };
}
