// Run by wasm-threads.test.ts in a child process (the thread count of the wasm
// backend is fixed once it initialises, so each setting needs its own process).
// Selects wasm, runs a convolution there and on cpu, prints one JSON line, and
// must then exit by itself: pool workers left referenced would keep it alive.
// With the argument 'fail', the threaded loader is made to fail first.
import * as tf from '../../src/tf.js';
import { selectBackend } from '../../src/backend/select.js';
import { installThreadedWasm } from '../../src/backend/wasm-threads.js';
import { createLogger } from '../../src/util/log.js';

const warnings: string[] = [];
const log = createLogger('warn', (_level, _scope, message) => warnings.push(message));
if (process.argv[2] === 'fail') {
  // Install first with a loader that fails, so selectBackend's own install is a no-op.
  await import('@tensorflow/tfjs-backend-wasm');
  installThreadedWasm(2, log, () => Promise.reject(new Error('simulated loader failure')));
}
const info = await selectBackend('wasm', log);
const x = tf.randomUniform<tf.Rank.R4>([2, 16, 16, 8], -1, 1, 'float32', 3);
const k = tf.randomUniform<tf.Rank.R4>([3, 3, 8, 8], -1, 1, 'float32', 4);
const xs = x.dataSync().slice();
const ks = k.dataSync().slice();
const yWasm = tf.conv2d(x, k, 1, 'same');
const onWasm = yWasm.dataSync().slice();
tf.dispose([x, k, yWasm]);
await selectBackend('cpu');
const yCpu = tf.tidy(() => tf.conv2d(tf.tensor4d(xs, [2, 16, 16, 8]), tf.tensor4d(ks, [3, 3, 8, 8]), 1, 'same'));
const onCpu = yCpu.dataSync();
yCpu.dispose();
let maxDiff = 0;
for (let i = 0; i < onCpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onCpu[i]! - onWasm[i]!));
process.stdout.write(JSON.stringify({ backend: info.name, threads: info.threads, maxDiff, warnings }) + '\n');
