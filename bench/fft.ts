// Benchmark of the centred 2-D DFT implementations (src/physics/fft.ts), and of the
// overlap step (src/physics/overlap.ts): forward and forward+backward time for a
// (batch, N, N, C) field on each requested backend.
// Prints one JSON line per measurement; also returns them.
//   node --import tsx bench/fft.ts [--backends cpu,wasm] [--sizes 32,64,128] [--batch 16] [--channels 4] [--reps 5]
import * as tf from '../src/tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { pathToFileURL } from 'node:url';
import { fft2c, type FftMethod } from '../src/physics/fft.js';
import { reassembleAndExtract } from '../src/physics/overlap.js';
import { arg } from './args.js';

export interface FftMeasurement {
  bench: 'fft2c' | 'reassembleAndExtract';
  backend: string;
  method: FftMethod | 'transform';
  N: number;
  batch: number;
  channels: number;
  pass: 'forward' | 'forward+backward';
  ms_median: number;
  ms_min: number;
  reps: number;
}

function time(fn: () => void, reps: number): { median: number; min: number } {
  fn();
  fn(); // warm-up: kernel setup, host matrix cache
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)]!, min: ms[0]! };
}

export async function run(args: readonly string[] = []): Promise<FftMeasurement[]> {
  const backends = arg(args, 'backends', 'cpu,wasm').split(',');
  const sizes = arg(args, 'sizes', '32,64,128').split(',').map(Number);
  const only = arg(args, 'methods', 'gauss,matmul,spectral').split(',');
  const batch = Number(arg(args, 'batch', '16'));
  const channels = Number(arg(args, 'channels', '4'));
  const reps = Number(arg(args, 'reps', '5'));
  const out: FftMeasurement[] = [];
  for (const backend of backends) {
    await tf.setBackend(backend);
    await tf.ready();
    const methods = (['gauss', 'matmul', 'spectral'] as const).filter((m) => only.includes(m) && !(m === 'spectral' && backend === 'wasm'));
    for (const N of sizes) {
      const shape: [number, number, number, number] = [batch, N, N, channels];
      const re = tf.randomNormal<tf.Rank.R4>(shape);
      const im = tf.randomNormal<tf.Rank.R4>(shape);
      const gr = tf.randomNormal(shape);
      const gi = tf.randomNormal(shape);
      for (const method of methods) {
        const fwd = (): void => {
          const y = fft2c(re, im, { method });
          y.re.dataSync();
          tf.dispose([y.re, y.im]);
        };
        const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => {
          const y = fft2c(a as tf.Tensor4D, b as tf.Tensor4D, { method });
          return y.re.mul(gr).add(y.im.mul(gi)).sum();
        };
        const both = (): void => {
          const g = tf.grads(loss)([re, im]);
          g[0]!.dataSync();
          tf.dispose(g);
        };
        // tfjs 4.22 has no gradient for Real/Imag, so 'spectral' is forward-only.
        const passes =
          method === 'spectral'
            ? ([['forward', fwd]] as const)
            : ([
                ['forward', fwd],
                ['forward+backward', both],
              ] as const);
        for (const [pass, fn] of passes) {
          const t = time(fn, reps);
          const m: FftMeasurement = {
            bench: 'fft2c',
            backend,
            method,
            N,
            batch,
            channels,
            pass,
            ms_median: +t.median.toFixed(2),
            ms_min: +t.min.toFixed(2),
            reps,
          };
          out.push(m);
          process.stdout.write(`${JSON.stringify(m)}\n`);
        }
      }
      // The gridsize > 1 overlap step on the same field (offsets up to ±N/8 px).
      if (channels > 1) {
        const offsets = tf.randomUniform<tf.Rank.R4>([batch, 1, 2, channels], -N / 8, N / 8);
        const fwd = (): void => {
          const y = reassembleAndExtract(re, im, offsets, N);
          y.re.dataSync();
          tf.dispose([y.re, y.im]);
        };
        const both = (): void => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
            const y = reassembleAndExtract(a as tf.Tensor4D, b as tf.Tensor4D, offsets, N);
            return y.re.mul(gr).add(y.im.mul(gi)).sum();
          })([re, im]);
          g[0]!.dataSync();
          tf.dispose(g);
        };
        for (const [pass, fn] of [
          ['forward', fwd],
          ['forward+backward', both],
        ] as const) {
          const t = time(fn, reps);
          const m: FftMeasurement = {
            bench: 'reassembleAndExtract',
            backend,
            method: 'transform',
            N,
            batch,
            channels,
            pass,
            ms_median: +t.median.toFixed(2),
            ms_min: +t.min.toFixed(2),
            reps,
          };
          out.push(m);
          process.stdout.write(`${JSON.stringify(m)}\n`);
        }
        offsets.dispose();
      }
      tf.dispose([re, im, gr, gi]);
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}
