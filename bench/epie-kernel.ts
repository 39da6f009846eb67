// Where the sequential ePIE update is fastest: one pattern's update (N = 64 by
// default, on a 226×226 object like Run1084's) on typed arrays with the host
// FFT (src/physics/epie.ts, what the epie sink uses) against the same update
// written with TensorFlow.js ops on each requested backend (cut the window,
// multiply by the probe, fft2c, modulus constraint, ifft2c, object correction,
// add it back into the object variable). Prints one JSON line per variant:
// {"bench": "epie-kernel", "variant", "backend", "N", "us_per_update"}.
//   npm run bench -- epie-kernel [--backends cpu,wasm] [--N 64] [--updates 300]
import * as tf from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { EpieKernel } from '../src/physics/epie.js';
import { fft2c, ifft2c } from '../src/physics/fft.js';
import { defaultProbe } from '../src/physics/probegen.js';
import { arg } from './args.js';

const SIDE = 226;

function hostVariant(N: number, updates: number, amp: Float32Array): number {
  const p = defaultProbe(N),
    canvas = { width: SIDE, height: SIDE, re: new Float64Array(SIDE * SIDE).fill(1), im: new Float64Array(SIDE * SIDE) };
  const k = new EpieKernel(N, canvas, [{ re: Float64Array.from(p.re), im: Float64Array.from(p.im) }], 1);
  const run = (count: number): void => {
    for (let i = 0; i < count; i++) k.update(amp, 20 + (i % 100), 30 + ((7 * i) % 100), { object: 1, probe: 0, position: false });
  };
  run(20);
  const t0 = performance.now();
  run(updates);
  return ((performance.now() - t0) * 1000) / updates;
}

function tensorVariant(N: number, updates: number, amp: Float32Array): number {
  const p = defaultProbe(N);
  const pr = tf.tensor4d(p.re, [1, N, N, 1]),
    pi = tf.tensor4d(p.im, [1, N, N, 1]);
  const maxP = Math.max(...Array.from(p.re, (v, t) => v * v + p.im[t]! ** 2));
  const A = tf.tensor4d(amp, [1, N, N, 1]);
  const or = tf.variable(tf.ones([SIDE, SIDE])),
    oi = tf.variable(tf.zeros([SIDE, SIDE]));
  const one = (i: number): void => {
    const x = 20 + (i % 100),
      y = 30 + ((7 * i) % 100);
    tf.tidy(() => {
      const wr = or.slice([y, x], [N, N]).reshape<tf.Tensor4D>([1, N, N, 1]),
        wi = oi.slice([y, x], [N, N]).reshape<tf.Tensor4D>([1, N, N, 1]);
      const sr = pr.mul(wr).sub<tf.Tensor4D>(pi.mul(wi)),
        si = pr.mul(wi).add<tf.Tensor4D>(pi.mul(wr));
      const F = fft2c(sr, si),
        mag = F.re.square().add(F.im.square()).sqrt().maximum(1e-30),
        f = A.div(mag);
      const b = ifft2c(F.re.mul<tf.Tensor4D>(f), F.im.mul<tf.Tensor4D>(f));
      const dr = b.re.sub(sr),
        di = b.im.sub(si);
      const cr = pr.mul(dr).add(pi.mul(di)).div(maxP),
        ci = pr.mul(di).sub(pi.mul(dr)).div(maxP);
      const pad = (t: tf.Tensor): tf.Tensor2D =>
        t.reshape([N, N]).pad([
          [y, SIDE - y - N],
          [x, SIDE - x - N],
        ]);
      or.assign(or.add(pad(cr)));
      oi.assign(oi.add(pad(ci)));
    });
  };
  for (let i = 0; i < 5; i++) one(i);
  const t0 = performance.now();
  for (let i = 0; i < updates; i++) one(i);
  tf.dispose([pr, pi, A, or, oi]);
  return ((performance.now() - t0) * 1000) / updates;
}

export async function run(args: string[]): Promise<void> {
  const N = Number(arg(args, 'N', '64')),
    updates = Number(arg(args, 'updates', '300'));
  const amp = new Float32Array(N * N).map((_, t) => 1 + (t % 7) / 7);
  console.log(
    JSON.stringify({ bench: 'epie-kernel', variant: 'typed arrays + host FFT', backend: 'none', N, us_per_update: +hostVariant(N, updates, amp).toFixed(1) }),
  );
  for (const backend of arg(args, 'backends', 'cpu,wasm').split(',')) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} is not available`);
    await tf.ready();
    const us = tensorVariant(N, Math.max(20, Math.floor(updates / 5)), amp);
    console.log(JSON.stringify({ bench: 'epie-kernel', variant: 'tfjs ops', backend, N, us_per_update: +us.toFixed(1) }));
  }
  console.log(
    JSON.stringify({
      bench: 'epie-kernel',
      variant: 'typed arrays + host FFT (again)',
      backend: 'none',
      N,
      us_per_update: +hostVariant(N, updates, amp).toFixed(1),
    }),
  );
}
