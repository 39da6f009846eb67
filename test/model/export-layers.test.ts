// `ptychoflow export --format tfjs-layers`: the exported directory loads with
// tf.loadLayersModel in a process that has only the public tfjs packages (no
// ptychoflow), and predicts the same object patches as the checkpoint's own
// network, for every object support, amplitude activation and a trained
// intensity scale; a directory holding other files is refused untouched.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { main, type CliIO } from '../../src/cli/main.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import type { ModelConfigInput } from '../../src/model/config.js';
import { Rng } from '../../src/util/rng.js';
import { simulate } from './sim.js';

const run = promisify(execFile);
const loader = path.resolve(import.meta.dirname, '../fixtures/load-layers-model.mjs');

test.before(async () => {
  await tf.setBackend('cpu');
});

function io(): CliIO & { text: () => string } {
  let text = '';
  const err = new PassThrough();
  err.on('data', (c: Buffer) => (text += c.toString()));
  const out = new PassThrough();
  out.on('data', (c: Buffer) => (text += c.toString()));
  return { stdout: out as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream, text: () => text };
}

/** Random weights (non-zero biases too), so agreement is not an artefact of the small-head initialisation. */
function randomise(m: PtychoPINN, seed: number): void {
  const rng = Rng.derive(seed, 'export-test');
  const vals = m.namedVariables().map((v) => {
    if (v.name === 'probe/re' || v.name === 'probe/im') return v.variable.clone();
    if (v.name === 'log_intensity_scale') return tf.scalar(Math.log(m.baseScale) + 0.3);
    const n = v.variable.size;
    const fanIn = v.variable.shape.length === 4 ? v.variable.shape[0] * v.variable.shape[1] * v.variable.shape[2] : 1;
    const a = new Float32Array(n).map(() => (2 * rng.uniform() - 1) * Math.sqrt(6 / fanIn) * (v.variable.shape.length === 4 ? 1 : 0.3));
    return tf.tensor(a, v.variable.shape);
  });
  m.setWeights(vals);
  for (const t of vals) t.dispose();
}

const cases: [string, ModelConfigInput][] = [
  ['center support, sigmoid, gridsize 1', { N: 32, gridsize: 1, n_filters_scale: 0.25, object_support: 'center' }],
  [
    'full support, scaled_sigmoid, full_res_convs, trained intensity scale, gridsize 2',
    {
      N: 16,
      gridsize: 2,
      n_filters_scale: 0.125,
      object_support: 'full',
      amp_activation: 'scaled_sigmoid',
      full_res_convs: 1,
      trainable_intensity_scale: true,
      nphotons: 1e5,
    },
  ],
  ['border support, softplus, gridsize 2', { N: 32, gridsize: 2, n_filters_scale: 0.25, object_support: 'border', amp_activation: 'softplus' }],
];

for (const [title, config] of cases) {
  test.serial(`exported LayersModel predicts the network's patches: ${title}`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-export-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const before = tf.memory().numTensors;
    const N = config.N!;
    const C = config.gridsize! ** 2;
    const d = simulate({ N, gridsize: config.gridsize!, groups: 3, seed: 2 });
    const m = PtychoPINN.create(config, d.probe, 7);
    let re: Float32Array, im: Float32Array;
    const B = 3;
    const x = new Float32Array(B * N * N * C).map((_, i) => Math.abs(Math.sin(i * 0.37)) * 2);
    try {
      randomise(m, 11);
      await saveCheckpoint(path.join(dir, 'ck'), m, { config: m.config, normalization: 1, intensityScale: m.intensityScale(), epoch: 1, seed: 7 });
      const X = tf.tensor4d(x, [B, N, N, C]);
      const p = m.predict(X);
      re = p.re.dataSync<'float32'>().slice();
      im = p.im.dataSync<'float32'>().slice();
      X.dispose();
      p.re.dispose();
      p.im.dispose();
    } finally {
      m.dispose();
    }
    t.is(tf.memory().numTensors, before, 'no tensor left behind');

    const cli = io();
    t.is(await main(['export', path.join(dir, 'ck'), path.join(dir, 'out'), '--format', 'tfjs-layers'], cli), 0, cli.text());
    t.deepEqual((await readdir(path.join(dir, 'out'))).sort(), ['model.json', 'weights.bin']);
    t.is(tf.memory().numTensors, before, 'export leaves no tensor behind');

    await writeFile(path.join(dir, 'x.bin'), new Uint8Array(x.buffer));
    const { stdout } = await run(
      process.execPath,
      [loader, path.join(dir, 'out'), path.join(dir, 'x.bin'), path.join(dir, 'y.bin'), JSON.stringify([B, N, N, C])],
      { timeout: 60_000 },
    );
    t.deepEqual(
      (JSON.parse(stdout) as { outputs: string[] }).outputs.map((o) => o.split('/')[0]),
      ['amplitude', 'phase'],
    );
    const yb = await readFile(path.join(dir, 'y.bin'));
    const y = new Float32Array(yb.buffer, yb.byteOffset, yb.byteLength / 4);
    const n = re.length;
    t.is(y.length, 2 * n);
    let worst = 0,
      scale = 0;
    for (let i = 0; i < n; i++) {
      const a = y[i]!,
        ph = y[n + i]!;
      worst = Math.max(worst, Math.abs(a * Math.cos(ph) - re[i]!), Math.abs(a * Math.sin(ph) - im[i]!));
      scale = Math.max(scale, Math.hypot(re[i]!, im[i]!));
    }
    t.true(scale > 0.05, `the patches are not trivially zero (max |O| ${scale})`);
    // float32 sums in another order (and the intensity factor folded into the first kernel): a few ulps of |O|.
    t.true(worst <= 1e-4 * Math.max(1, scale), `max |ΔO| ${worst.toExponential(2)} (max |O| ${scale.toFixed(3)})`);
  });
}

test.serial('export refuses a directory holding other files and leaves them untouched', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-export-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'out');
  await rm(out, { force: true, recursive: true });
  await import('node:fs/promises').then((f) => f.mkdir(out));
  await writeFile(path.join(out, 'notes.txt'), 'precious');
  const cli = io();
  t.is(await main(['export', path.join(dir, 'missing-ck'), out, '--format', 'tfjs-layers'], cli), 2);
  t.regex(cli.text(), /EXPORT_TARGET_NOT_OURS|export did not write/);
  t.deepEqual(await readdir(out), ['notes.txt']);
  t.is(await readFile(path.join(out, 'notes.txt'), 'utf8'), 'precious');
  const bad = io();
  t.is(await main(['export', path.join(dir, 'ck'), path.join(dir, 'o2'), '--format', 'onnx'], bad), 2);
  t.regex(bad.text(), /onnx/);
});
