// Centred, unitary 2-D DFT over the H and W axes of NHWC complex fields held
// as separate float32 (re, im) tensors: fft2c(x) = fftshift(FFT2(x)) / N.
//
// Implementations (chosen by `method`):
// - 'gauss' (default) and 'matmul': the shifted DFT matrix F (F[k,n] =
//   exp(-2πi(k - ⌊N/2⌋)n/N)/√N, so the fftshift is folded into F) applied along W
//   and then H as real matrix products on rank-4 layouts; 'gauss' forms each complex
//   product with 3 real matmuls (Gauss's trick), 'matmul' with 4. Works on every
//   backend (wasm has no complex dtype and no FFT kernel). The gradient is the
//   inverse transform (custom gradient; the map is unitary).
// - 'spectral': tf.spectral.fft on complex tensors, with the shift done by a
//   (-1)^(m+n) checkerboard on the input (even N only). Forward only (no Real/Imag
//   gradients in tfjs), not on wasm; kept as an independent cross-check.
// The DFT matrices are cached on the host as Float32Arrays and uploaded per call
// inside tf.tidy, so no tensor outlives a call (leak counts in tests stay exact);
// the upload is O(N²) against O(B·C·N³) for the products.
import * as tf from '../tf.js';
import { OptionsError } from '../errors.js';

export type FftMethod = 'gauss' | 'matmul' | 'spectral';

export interface ComplexPair<T extends tf.Tensor = tf.Tensor4D> {
  re: T;
  im: T;
}

export interface FftOptions {
  /** Force an implementation; default defaultFftMethod() (the fastest differentiable one). */
  method?: FftMethod;
}

/**
 * The method fft2c uses by default: 'gauss', on every backend. Measured with
 * bench/fft.ts (batch 16, C=4, N=32/64/128, forward and forward+backward): on wasm it
 * is ~1.5× faster than 'matmul' at N=64 and ~4.5× faster than one 2N×2N block
 * product per axis (its rank-5 transposes are slow on wasm); on cpu it is at least
 * as fast as 'matmul'. 'spectral' is not differentiable in tfjs 4.22 (no gradient for
 * Real/Imag), ~40× slower on cpu and absent on wasm, so it is never the default.
 */
export function defaultFftMethod(): FftMethod {
  return 'gauss';
}

const hostCache = new Map<string, Float32Array>();

/** Drops the host-side DFT matrices (3·N² floats per size and direction; no tensors are cached). */
export function disposePhysicsCache(): void {
  hostCache.clear();
}

/**
 * Real part, imaginary part and their sum of Gᵀ (N×N, row = input sample n, column
 * = output index k) for G = F (forward) or Fᴴ (inverse), so that y = x·Gᵀ per row.
 */
function dftMatrices(N: number, inverse: boolean): { gr: Float32Array; gi: Float32Array; gs: Float32Array } {
  const key = `${N}:${inverse ? 'i' : 'f'}`;
  const hit = hostCache.get(key);
  if (hit !== undefined) return { gr: hit.subarray(0, N * N), gi: hit.subarray(N * N, 2 * N * N), gs: hit.subarray(2 * N * N) };
  const half = Math.floor(N / 2);
  const all = new Float32Array(3 * N * N);
  const norm = 1 / Math.sqrt(N);
  const sign = inverse ? 1 : -1;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < N; k++) {
      // G[k][n]: forward F[k][n]; inverse Fᴴ[k][n] = conj(F[n][k]) — the centred index
      // is always the frequency one. Reduce the phase mod N in integers for accuracy.
      const freq = inverse ? n - half : k - half;
      const time = inverse ? k : n;
      const phase = (((freq * time) % N) + N) % N;
      const ang = (sign * 2 * Math.PI * phase) / N;
      const re = Math.cos(ang) * norm;
      const im = Math.sin(ang) * norm;
      all[n * N + k] = re;
      all[N * N + n * N + k] = im;
      all[2 * N * N + n * N + k] = re + im;
    }
  }
  hostCache.set(key, all);
  return dftMatrices(N, inverse);
}

function checkShapes(re: tf.Tensor4D, im: tf.Tensor4D, fn: string): void {
  const [, h, w] = re.shape;
  if (re.rank !== 4 || im.rank !== 4 || re.shape.join() !== im.shape.join()) {
    throw new OptionsError(
      'PHYSICS_SHAPE',
      `${fn}: re and im must be rank-4 (B,N,N,C) tensors of the same shape, got [${re.shape.join(',')}] and [${im.shape.join(',')}]`,
    );
  }
  if (h !== w) throw new OptionsError('PHYSICS_SHAPE', `${fn}: the field must be square (H = W), got ${h}×${w}`);
}

type Layout = 'matmul' | 'gauss';

/** The transform on a stacked (2,B,H,W,C) field [re, im] → stacked (2,B,K,L,C). */
function matmulCore(x: tf.Tensor, inverse: boolean, layout: Layout): tf.Tensor {
  const [, B, N, , C] = x.shape as [number, number, number, number, number];
  return tf.tidy(() => {
    const m = dftMatrices(N, inverse);
    const gr = tf.tensor2d(m.gr, [N, N]);
    const gi = tf.tensor2d(m.gi, [N, N]);
    const gs = layout === 'gauss' ? tf.tensor2d(m.gs, [N, N]) : undefined;
    // (a + ib)·(gr + i·gi) on rows of length N, as real products.
    const mul = (a: tf.Tensor2D, b: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] => {
      if (gs === undefined) return [tf.matMul(a, gr).sub(tf.matMul(b, gi)), tf.matMul(a, gi).add(tf.matMul(b, gr))];
      const k1 = tf.matMul(a, gr);
      const k2 = tf.matMul(b, gi);
      const k3 = tf.matMul(a.add(b), gs);
      return [k1.sub(k2), k3.sub(k1).sub(k2)];
    };
    const [re, im] = tf.unstack(x) as [tf.Tensor4D, tf.Tensor4D];
    // Along W: (B,H,W,C) → (B,C,H,W) rows.
    const rowsOf = (t: tf.Tensor4D): tf.Tensor2D => t.transpose([0, 3, 1, 2]).reshape([B * C * N, N]);
    const [r1, i1] = mul(rowsOf(re), rowsOf(im));
    // Along H: (B,C,H,L) → (B,C,L,H) rows.
    const colsOf = (t: tf.Tensor2D): tf.Tensor2D =>
      t
        .reshape([B, C, N, N])
        .transpose([0, 1, 3, 2])
        .reshape([B * C * N, N]);
    const [r2, i2] = mul(colsOf(r1), colsOf(i1));
    // (B,C,L,K) → (B,K,L,C).
    const back = (t: tf.Tensor2D): tf.Tensor => t.reshape([B, C, N, N]).transpose([0, 3, 2, 1]);
    return tf.stack([back(r2), back(i2)]);
  });
}

// The transform is unitary, so its adjoint (the gradient map) is its inverse: the
// backward pass costs one inverse transform instead of autodiff through every
// matmul and transpose (measured ~2× slower on wasm).
function makeOp(inverse: boolean, layout: Layout): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args) => ({
    value: matmulCore(args[0] as tf.Tensor, inverse, layout),
    gradFunc: (dy: tf.Tensor) => matmulCore(dy, !inverse, layout),
  }));
}
const OPS = new Map<string, (x: tf.Tensor) => tf.Tensor>();
for (const layout of ['matmul', 'gauss'] as const) for (const inv of [false, true]) OPS.set(`${layout}:${inv}`, makeOp(inv, layout));

function viaMatmul(re: tf.Tensor4D, im: tf.Tensor4D, inverse: boolean, layout: Layout): ComplexPair {
  return tf.tidy(() => {
    const y = OPS.get(`${layout}:${inverse}`)!(tf.stack([re, im]));
    const [yr, yi] = tf.unstack(y) as [tf.Tensor4D, tf.Tensor4D];
    return { re: yr, im: yi };
  });
}

function checkerboard(N: number): Float32Array {
  const key = `${N}:cb`;
  const hit = hostCache.get(key);
  if (hit !== undefined) return hit;
  const cb = new Float32Array(N * N);
  for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) cb[y * N + x] = (x + y) % 2 === 0 ? 1 : -1;
  hostCache.set(key, cb);
  return cb;
}

function viaSpectral(re: tf.Tensor4D, im: tf.Tensor4D, inverse: boolean): ComplexPair {
  const [, N] = re.shape;
  if (N % 2 !== 0) throw new OptionsError('PHYSICS_METHOD', `fft2c: method 'spectral' needs an even N, got ${N}; use method 'matmul'`);
  if (tf.getBackend() === 'wasm') throw new OptionsError('PHYSICS_METHOD', `fft2c: method 'spectral' is not available on the wasm backend; use 'matmul'`);
  return tf.tidy(() => {
    // For even N, fftshift(FFT(x)) = FFT((-1)^n x) and IFFT(ifftshift(X)) = (-1)^n IFFT(X).
    const cb = tf.tensor4d(checkerboard(N), [1, N, N, 1]);
    const field = (r: tf.Tensor4D, i: tf.Tensor4D): tf.Tensor => tf.complex(r.transpose([0, 3, 1, 2]), i.transpose([0, 3, 1, 2]));
    const x = inverse ? field(re, im) : field(re.mul(cb), im.mul(cb));
    const op = inverse ? tf.spectral.ifft : tf.spectral.fft;
    const a = op(x); // along W
    const b = op(a.transpose([0, 1, 3, 2])).transpose([0, 3, 2, 1]); // along H, back to (B,H,W,C)
    // Unitary: fft is unnormalised (÷N overall), ifft is normalised by 1/N² (×N overall).
    const scale = inverse ? N : 1 / N;
    let yr = tf.real(b).mul<tf.Tensor4D>(scale);
    let yi = tf.imag(b).mul<tf.Tensor4D>(scale);
    if (inverse) {
      yr = yr.mul(cb);
      yi = yi.mul(cb);
    }
    return { re: yr, im: yi };
  });
}

function run(re: tf.Tensor4D, im: tf.Tensor4D, inverse: boolean, opts: FftOptions): ComplexPair {
  checkShapes(re, im, inverse ? 'ifft2c' : 'fft2c');
  const method = opts.method ?? defaultFftMethod();
  if (method === 'spectral') return viaSpectral(re, im, inverse);
  return viaMatmul(re, im, inverse, method);
}

/** Unitary centred 2-D DFT per channel: fftshift(FFT2(x))/N, zero frequency at (⌊N/2⌋, ⌊N/2⌋). */
export function fft2c(re: tf.Tensor4D, im: tf.Tensor4D, opts: FftOptions = {}): ComplexPair {
  return run(re, im, false, opts);
}

/** Inverse of fft2c: N·IFFT2(ifftshift(X)). */
export function ifft2c(re: tf.Tensor4D, im: tf.Tensor4D, opts: FftOptions = {}): ComplexPair {
  return run(re, im, true, opts);
}
