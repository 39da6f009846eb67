// Results agree across backends: the same PtychoPINN (same seed, so the same
// initial weights) gives the same object patches, far-field amplitudes, loss
// and loss gradients on wasm as on the pure-JS cpu backend, and on the native
// tensorflow backend when @tensorflow/tfjs-node(-gpu) is installed (skipped
// otherwise; it is not a dependency). Values and gradients within 1e-4
// relative to their largest magnitude. Each backend computes
// gradients its own way (wasm: the project's convolution gradients; native:
// TensorFlow's, with the project's ReLU gradient), so this is what checks them
// against tfjs' reference kernels on the same model.
import test from 'ava';
import * as tf from '../../src/tf.js';
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

// At most one native package per process; 'tensorflow-gpu' loads the GPU build.
const hasGpu = await importable('@tensorflow/tfjs-node-gpu');
const native: BackendName | undefined = hasGpu ? 'tensorflow-gpu' : (await importable('@tensorflow/tfjs-node')) ? 'tensorflow' : undefined;

interface Outputs {
  amplitude: Float32Array;
  objectRe: Float32Array;
  objectIm: Float32Array;
  loss: number;
  /** d loss / d variable, per trainable variable in order. */
  grads: Float32Array[];
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
    const vars = m.trainableVariables();
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => m.predictAmplitude(X, coords).sub(X).square().mean()), vars);
    out = {
      amplitude: A.dataSync<'float32'>().slice(),
      objectRe: o.re.dataSync<'float32'>().slice(),
      objectIm: o.im.dataSync<'float32'>().slice(),
      loss: m.evaluateLoss(X, coords),
      grads: vars.map((v) => grads[v.name]!.dataSync<'float32'>().slice()),
    };
    tf.dispose([A, o.re, o.im, value, ...Object.values(grads)]);
  } finally {
    tf.dispose([X, coords]);
    m.dispose();
  }
  return { out, leaked: tf.memory().numTensors - before };
}

/** Largest difference relative to the largest magnitude of the reference. */
function relativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0,
    scale = 0;
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

for (const backend of ['wasm', native ?? 'tensorflow'] as const) {
  const maybe = backend !== 'wasm' && native === undefined ? test.serial.skip : test.serial;
  maybe(`${backend} agrees with cpu: object patches, far-field amplitude and loss (1e-4 relative), gradients (1e-4)`, async (t) => {
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
    t.is(got.grads.length, want.grads.length);
    const gradErrs = want.grads.map((g, i) => relativeError(got.grads[i]!, g));
    t.log(`${backend} vs cpu, gradients, largest relative error: ${Math.max(...gradErrs)}`);
    gradErrs.forEach((e, i) => t.true(e <= 1e-4, `gradient ${i}: ${e}`));
    // Not trivially zero.
    t.true(want.grads.every((g) => g.some((v) => v !== 0)));
    // Not trivially equal: the model produces a non-constant field.
    t.true(Math.max(...want.amplitude) > 2 * Math.min(...want.amplitude));
  });
}
