// Results agree across backends: the same PtychoPINN (same seed, so the same
// initial weights) gives the same object patches, far-field amplitudes and
// loss on wasm as on the pure-JS cpu backend, and on the native tensorflow
// backend when @tensorflow/tfjs-node is installed (skipped otherwise; it is not
// a dependency). Forward values within 1e-4 relative to their largest magnitude.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../../src/backend/select.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import { simulate, tensors } from '../model/sim.js';

async function importable(pkg: string): Promise<boolean> {
  try {
    const specifier: string = pkg;
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

const hasNative = await importable('@tensorflow/tfjs-node');

interface Outputs {
  amplitude: Float32Array;
  objectRe: Float32Array;
  objectIm: Float32Array;
  loss: number;
}

const data = simulate({ N: 32, gridsize: 2, groups: 4, seed: 21 });

async function run(backend: BackendName): Promise<{ out: Outputs; leaked: number }> {
  await selectBackend(backend);
  const before = tf.memory().numTensors;
  const m = PtychoPINN.create({ N: 32, gridsize: 2, n_filters_scale: 0.25, nphotons: 1e6 }, data.probe, 11);
  const { X, coords } = tensors(data);
  let out: Outputs;
  try {
    const A = m.predictAmplitude(X, coords);
    const o = m.predict(X, coords);
    out = { amplitude: A.dataSync<'float32'>().slice(), objectRe: o.re.dataSync<'float32'>().slice(), objectIm: o.im.dataSync<'float32'>().slice(), loss: m.evaluateLoss(X, coords) };
    tf.dispose([A, o.re, o.im]);
  } finally {
    tf.dispose([X, coords]);
    m.dispose();
  }
  return { out, leaked: tf.memory().numTensors - before };
}

/** Largest difference relative to the largest magnitude of the reference. */
function relativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

let reference: Outputs | undefined;
test.before(async () => {
  const r = await run('cpu');
  if (r.leaked !== 0) throw new Error(`cpu: ${r.leaked} tensors leaked`);
  reference = r.out;
});

for (const backend of ['wasm', 'tensorflow'] as const) {
  const maybe = backend === 'tensorflow' && !hasNative ? test.serial.skip : test.serial;
  maybe(`${backend} agrees with cpu: object patches, far-field amplitude and loss (1e-4 relative)`, async (t) => {
    const want = reference!;
    const { out: got, leaked } = await run(backend);
    t.is(leaked, 0, 'tensors leaked');
    t.is(got.amplitude.length, want.amplitude.length);
    const errs = {
      amplitude: relativeError(got.amplitude, want.amplitude),
      object_re: relativeError(got.objectRe, want.objectRe),
      object_im: relativeError(got.objectIm, want.objectIm),
      loss: Math.abs(got.loss - want.loss) / Math.abs(want.loss),
    };
    t.log(`${backend} vs cpu, relative: ${JSON.stringify(errs)}`);
    for (const [k, e] of Object.entries(errs)) t.true(e <= 1e-4, `${k}: ${e}`);
    // Not trivially equal: the model produces a non-constant field.
    t.true(Math.max(...want.amplitude) > 2 * Math.min(...want.amplitude));
  });
}
