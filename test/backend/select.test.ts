// Backend selection: explicit names, the 'auto' fallback chain (native packages
// are absent here, so auto lands on wasm), typed errors for what cannot load.
import test from 'ava';
import * as tf from '../../src/tf.js';
import { registerTensorflowKernels } from '../../src/backend/kernels.js';
import { nativeEnvDefaults, selectBackend, type BackendName } from '../../src/backend/select.js';
import { BackendError } from '../../src/errors.js';
import { createLogger } from '../../src/util/log.js';

async function importable(pkg: string): Promise<boolean> {
  try {
    const specifier: string = pkg;
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

// Probed once at load time; importing a native package registers 'tensorflow'.
const hasGpu = await importable('@tensorflow/tfjs-node-gpu');
const hasNative = hasGpu || (await importable('@tensorflow/tfjs-node'));

test.serial('cpu by name', async (t) => {
  const info = await selectBackend('cpu');
  t.is(info.name, 'cpu');
  t.is(tf.getBackend(), 'cpu');
  t.deepEqual(info.tried, [{ name: 'cpu' }]);
  t.is(info.package, undefined);
});

test.serial('wasm by name registers the extra kernels and reports threads', async (t) => {
  const info = await selectBackend('wasm');
  t.is(info.name, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.is(info.package, '@tensorflow/tfjs-backend-wasm');
  t.true(typeof info.threads === 'number' && info.threads >= 1);
  t.truthy(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
  // A training-style gradient through a conv layer now runs on wasm.
  const g = tf.tidy(() =>
    tf
      .grad((w: tf.Tensor) => tf.conv2d(tf.ones<tf.Rank.R4>([1, 4, 4, 1]), w as tf.Tensor4D, 1, 'same').sum())(tf.ones([3, 3, 1, 1]))
      .dataSync(),
  );
  t.is(g[4], 16);
});

test.serial('auto takes the first backend that loads and logs native misses at debug', async (t) => {
  const lines: { level: string; message: string }[] = [];
  const log = createLogger('debug', (level, _scope, message) => lines.push({ level, message }));
  const info = await selectBackend('auto', log);
  t.is(info.requested, 'auto');
  if (hasNative) {
    t.is(info.name, 'tensorflow');
    return;
  }
  t.is(info.name, 'wasm');
  t.deepEqual(
    info.tried.map((x) => x.name),
    ['tensorflow-gpu', 'tensorflow', 'wasm'],
  );
  t.truthy(info.tried[0]?.error);
  t.is(info.tried[2]?.error, undefined);
  t.false(lines.some((l) => l.level === 'warn' || l.level === 'error'));
  t.true(lines.some((l) => l.level === 'debug' && l.message.includes('tensorflow-gpu')));
});

for (const name of ['tensorflow-gpu', 'tensorflow'] as const) {
  // With a native package installed the failure path is not reachable: skipped, visibly.
  (hasNative ? test.serial.skip : test.serial)(
    `${name} by name fails with a BackendError saying how to install it when absent${hasNative ? ' (skipped: a native package is installed here)' : ''}`,
    async (t) => {
      const err = await t.throwsAsync(selectBackend(name), { instanceOf: BackendError });
      t.is(err?.code, 'BACKEND_UNAVAILABLE');
      t.regex(err?.message ?? '', /npm install @tensorflow\/tfjs-node/);
    },
  );
}

test.serial('an unknown name is a BackendError', async (t) => {
  const err = await t.throwsAsync(selectBackend('webgpu' as BackendName), { instanceOf: BackendError });
  t.is(err?.code, 'BACKEND_UNKNOWN');
});

test.serial('the native backend gets a Transform kernel (tfjs-node has none), registered once', async (t) => {
  registerTensorflowKernels();
  t.truthy(tf.getKernel('Transform', 'tensorflow'));
  t.deepEqual(registerTensorflowKernels(), []);
  if (!hasNative) {
    t.log('no native package here: Transform on tensorflow is not exercised');
    return;
  }
  // Same result as wasm's Transform, batch 2, bilinear, zero fill, other output size.
  const img = Array.from({ length: 2 * 5 * 6 * 3 }, (_, i) => Math.sin(i * 0.37));
  const tr = [
    [1, 0, 0.3, 0, 1, -0.6, 0, 0],
    [0.9, 0.1, -1.2, 0.05, 1.1, 0.4, 0.01, 0],
  ];
  const run = (): Float32Array =>
    tf.tidy(() => tf.image.transform(tf.tensor4d(img, [2, 5, 6, 3]), tf.tensor2d(tr), 'bilinear', 'constant', 0, [4, 7]).dataSync() as Float32Array);
  await selectBackend(hasGpu ? 'tensorflow-gpu' : 'tensorflow');
  const native = run();
  await selectBackend('wasm');
  const wasm = run();
  t.true(native.every((v, i) => Math.abs(v - wasm[i]!) < 1e-5));
});

test.serial("the native backend's GatherV2 is wrapped once: cpu's values, and an index out of range is an error", async (t) => {
  if (!hasNative) {
    t.log('no native package here: GatherV2 on tensorflow is not exercised');
    t.deepEqual(registerTensorflowKernels(), []);
    return;
  }
  await selectBackend(hasGpu ? 'tensorflow-gpu' : 'tensorflow');
  t.deepEqual(registerTensorflowKernels(), []);
  const before = tf.memory().numTensors;
  const x = Array.from({ length: 5 * 3 }, (_, i) => Math.cos(i));
  const run = (): Float32Array => tf.tidy(() => tf.gather(tf.tensor2d(x, [5, 3]), tf.tensor1d([4, 0, 4, 2], 'int32'), 0).dataSync() as Float32Array);
  const native = run();
  const bad = tf.tensor2d(x, [5, 3]);
  const idx = tf.tensor1d([1, 5], 'int32');
  t.throws(() => tf.gather(bad, idx, 0), { message: /index value 5 is not in \[0, 4\]/ });
  tf.dispose([bad, idx]);
  t.is(tf.memory().numTensors, before);
  await selectBackend('cpu');
  t.deepEqual(native, run());
});

test('native packages load with oneDNN kernels on unless the user chose otherwise', (t) => {
  const unset: Record<string, string | undefined> = {};
  nativeEnvDefaults(unset);
  t.is(unset['TF_ENABLE_ONEDNN_OPTS'], '1');
  const off: Record<string, string | undefined> = { TF_ENABLE_ONEDNN_OPTS: '0' };
  nativeEnvDefaults(off);
  t.is(off['TF_ENABLE_ONEDNN_OPTS'], '0');
});

test.after.always(async () => {
  await tf.setBackend('cpu');
});
