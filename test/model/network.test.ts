// PtychoPINN architecture and forward pass on the cpu backend: reference
// parameter counts, output shapes for gridsize 1 and 2, value ranges, object
// support modes, config validation, and tensor hygiene; the custom
// convolution's and ReLU's values and gradients on cpu and wasm.
import test from 'ava';
import * as tf from '../../src/tf.js';
import { selectBackend } from '../../src/backend/select.js';
import { modelConfigSchema, parseModelConfig } from '../../src/model/config.js';
import { reluFromOutput, setConvImpl } from '../../src/model/network.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import { OptionsError, DataError } from '../../src/errors.js';
import { gaussianProbe, simulate, tensors } from './sim.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

test.serial('parameter counts equal the reference (N=64, scale 2) for every support and gridsize', (t) => {
  const before = tf.memory().numTensors;
  const probe = gaussianProbe(64, 6);
  const count = (gridsize: 1 | 2, object_support: 'center' | 'border' | 'full', N: 64 | 128 = 64): number => {
    const m = PtychoPINN.create({ N, gridsize, object_support }, N === 64 ? probe : gaussianProbe(128, 12), 1);
    try {
      return m.paramCount();
    } finally {
      m.dispose();
    }
  };
  // Reference model.summary() counts (reference study §5.3): pad_object without / with probe_big.
  t.is(count(1, 'center'), 2_252_026);
  t.is(count(1, 'border'), 2_331_772);
  t.is(count(2, 'border'), 2_340_208);
  t.is(count(1, 'border', 128), 4_661_212);
  // Ours at gridsize 2 without the border branch, and the full-N×N head.
  t.is(count(2, 'center'), 2_257_000);
  t.is(count(1, 'full'), 2_399_810);
  t.is(tf.memory().numTensors, before);
});

test.serial('full_res_convs adds 64→64 convolutions at N×N to both decoders of the full head, and nothing else', (t) => {
  const before = tf.memory().numTensors;
  const d = simulate({ N: 64, gridsize: 1, groups: 2, seed: 3 });
  const base = PtychoPINN.create({ N: 64, object_support: 'full' }, d.probe, 1);
  const more = PtychoPINN.create({ N: 64, object_support: 'full', full_res_convs: 2 }, d.probe, 1);
  t.is(more.paramCount() - base.paramCount(), 2 * 2 * (3 * 3 * 64 * 64 + 64));
  const { X, coords } = tensors(d);
  const { re, im } = more.predict(X, coords);
  t.deepEqual(re.shape, [2, 64, 64, 1]);
  tf.dispose([X, coords, re, im]);
  base.dispose();
  more.dispose();
  t.throws(() => PtychoPINN.create({ N: 64, object_support: 'center', full_res_convs: 1 }, d.probe, 1), {
    message: /full_res_convs 1 needs object_support 'full'/,
  });
  t.is(tf.memory().numTensors, before);
});

test.serial('forward shapes for gridsize 1 and 2; amplitude in (0,1), |phase| ≤ π, zero outside the centre', (t) => {
  const before = tf.memory().numTensors;
  for (const gridsize of [1, 2] as const) {
    const d = simulate({ N: 16, gridsize, groups: 3, seed: 1 });
    const m = PtychoPINN.create({ N: 16, gridsize, n_filters_scale: 0.25, object_support: 'center' }, d.probe, 7);
    const { X, coords } = tensors(d);
    const out = m.predict(X, coords);
    t.deepEqual(out.re.shape, [3, 16, 16, gridsize * gridsize]);
    t.deepEqual(out.im.shape, [3, 16, 16, gridsize * gridsize]);
    const amp = tf.tidy(() => out.re.square().add(out.im.square()).sqrt().dataSync());
    const phase = tf.tidy(() => tf.atan2(out.im, out.re).dataSync());
    const C = gridsize * gridsize;
    let inside = 0;
    for (let i = 0; i < amp.length; i++) {
      const y = Math.floor(i / (16 * C)) % 16;
      const x = Math.floor(i / C) % 16;
      const centre = y >= 4 && y < 12 && x >= 4 && x < 12;
      if (centre) {
        t.true(amp[i]! > 0 && amp[i]! < 1);
        inside++;
      } else t.is(amp[i], 0);
      t.true(Math.abs(phase[i]!) <= Math.PI + 1e-6);
    }
    t.is(inside, 3 * 64 * C);
    const pred = m.predictAmplitude(X, coords);
    t.deepEqual(pred.shape, [3, 16, 16, C]);
    t.true(Number.isFinite(m.evaluateLoss(X, coords)));
    tf.dispose([out.re, out.im, pred, X, coords]);
    m.dispose();
  }
  t.is(tf.memory().numTensors, before);
});

test.serial("'full' and 'border' supports fill the border; the border branch is not amplified", (t) => {
  const d = simulate({ N: 16, gridsize: 1, groups: 2, seed: 2 });
  const { X, coords } = tensors(d);
  for (const object_support of ['full', 'border'] as const) {
    const m = PtychoPINN.create({ N: 16, n_filters_scale: 0.25, object_support }, d.probe, 3);
    t.is(m.supportMode, object_support);
    const out = m.predict(X, coords);
    const amp = tf.tidy(() => out.re.square().add(out.im.square()).sqrt().dataSync());
    // Pixel (0,0) of the first patch is outside the central square.
    t.true(amp[0]! > 0);
    // Swish of a Glorot-initialised conv stays O(1): no 1000× normalisation blow-up.
    t.true(Math.max(...amp) < 10);
    tf.dispose([out.re, out.im]);
    m.dispose();
  }
  tf.dispose([X, coords]);
});

test.serial("'auto' support follows the probe's power; pad_object is an alias", (t) => {
  const narrow = gaussianProbe(16, 1.5);
  const wide = gaussianProbe(16, 6);
  const mk = (cfg: Parameters<typeof PtychoPINN.create>[0], p = narrow): string => {
    const m = PtychoPINN.create({ N: 16, n_filters_scale: 0.25, ...cfg }, p, 1);
    const mode = m.supportMode;
    t.is(m.config.object_support, mode);
    m.dispose();
    return mode;
  };
  t.is(mk({}), 'center');
  t.is(mk({}, wide), 'full');
  t.is(mk({ pad_object: true }, wide), 'center');
  t.is(mk({ pad_object: false }), 'full');
  t.throws(() => mk({ pad_object: true, object_support: 'full' }), { instanceOf: OptionsError });
});

test('config: defaults are the reference ones, unknown keys and bad values are refused', (t) => {
  const c = parseModelConfig({});
  t.is(c.N, 64);
  t.is(c.gridsize, 1);
  t.is(c.n_filters_scale, 2);
  t.is(c.amp_activation, 'sigmoid');
  t.is(c.probe_scale, 4);
  t.is(c.nphotons, 1e9);
  t.false(c.trainable_probe);
  t.is(c.loss_poisson, 1);
  t.is(c.loss_mae, 0);
  for (const f of Object.values(modelConfigSchema.shape)) t.truthy(f.description);
  t.throws(() => parseModelConfig({ N: 48 as 64 }), { instanceOf: OptionsError });
  t.throws(() => parseModelConfig({ gridsize: 4 as 1 }), { instanceOf: OptionsError });
  t.throws(() => parseModelConfig({ nphotons: -1 }), { instanceOf: OptionsError });
  t.throws(() => parseModelConfig({ learning_rate: 1 } as never), { instanceOf: OptionsError });
});

test.serial('wrong input shapes, a wrong-size probe and too few filters are typed errors', (t) => {
  const d = simulate({ N: 16, gridsize: 1, groups: 2, seed: 2 });
  t.throws(() => PtychoPINN.create({ N: 32 }, d.probe, 1), { instanceOf: DataError });
  t.throws(() => PtychoPINN.create({ N: 16, n_filters_scale: 0.02 }, d.probe, 1), { instanceOf: OptionsError });
  const m = PtychoPINN.create({ N: 16, gridsize: 2, n_filters_scale: 0.25 }, d.probe, 1);
  const { X, coords } = tensors(d);
  t.throws(() => m.predict(X, coords), { instanceOf: DataError });
  tf.dispose([X, coords]);
  m.dispose();
  t.throws(() => m.probe(), { instanceOf: OptionsError });
});

test.serial('the same seed gives the same weights, another seed different ones', (t) => {
  const p = gaussianProbe(16, 2);
  const [a, b, c] = [5, 5, 6].map((s) => PtychoPINN.create({ N: 16, n_filters_scale: 0.25 }, p, s));
  const w = (m: PtychoPINN): Float32Array => m.getWeights()[0]!.dataSync() as Float32Array;
  t.deepEqual(w(a!), w(b!));
  t.notDeepEqual(w(a!), w(c!));
  for (const m of [a, b, c]) m!.dispose();
});

for (const backend of ['cpu', 'wasm']) {
  test.serial(`reluFromOutput has the values and gradient of tf.relu (zeros, negatives and tiny positives included) on ${backend}`, async (t) => {
    await selectBackend(backend as 'cpu' | 'wasm');
    t.teardown(() => tf.setBackend('cpu'));
    const before = tf.memory().numTensors;
    const x = tf.tensor4d([-2, -0.5, 0, 0, 1e-30, 1e-8, 3, -1e-30], [1, 2, 2, 2]);
    const dy = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const run = (f: (v: tf.Tensor4D) => tf.Tensor4D): [number[], number[]] => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => f(v).mul(dy).sum()), [v]);
      const y = tf.tidy(() => f(v));
      const out: [number[], number[]] = [Array.from(y.dataSync()), Array.from(grads[v.name]!.dataSync())];
      tf.dispose([value, y, ...Object.values(grads)]);
      return out;
    };
    const v = tf.variable(x, true);
    const [yOwn, gOwn] = run((z) => tf.relu(z));
    const [yOurs, gOurs] = run((z) => reluFromOutput(z));
    t.deepEqual(yOurs, yOwn);
    t.deepEqual(gOurs, gOwn);
    t.deepEqual(gOurs, [0, 0, 0, 0, 5, 6, 7, 0]);
    tf.dispose([x, dy, v]);
    t.is(tf.memory().numTensors, before);
  });

  test.serial(`the 'custom' convolutions (fused bias and ReLU) have the values and gradients of tfjs' own, on ${backend}`, async (t) => {
    await selectBackend(backend as 'cpu' | 'wasm');
    t.teardown(() => tf.setBackend('cpu'));
    const before = tf.memory().numTensors;
    const d = simulate({ N: 16, gridsize: 1, groups: 1, seed: 6 });
    const m = PtychoPINN.create({ N: 16, n_filters_scale: 0.0625, object_support: 'full', full_res_convs: 1 }, d.probe, 2);
    const { X, coords } = tensors(d);
    const vars = m.trainableVariables();
    const grads = (impl: 'custom' | 'native'): Float32Array[] => {
      setConvImpl(impl);
      try {
        const { value, grads: g } = tf.variableGrads(() => tf.tidy(() => m.predictAmplitude(X, coords).square().mean()), vars);
        const { re, im } = m.predict(X);
        const out = [...vars.map((v) => g[v.name]!.dataSync() as Float32Array), re.dataSync() as Float32Array];
        tf.dispose([value, re, im, ...Object.values(g)]);
        return out;
      } finally {
        setConvImpl(undefined);
      }
    };
    const a = grads('custom');
    const b = grads('native');
    t.is(a.length, b.length);
    a.forEach((ga, i) => {
      const gb = b[i]!;
      let err = 0;
      let scale = 0;
      for (let j = 0; j < ga.length; j++) {
        err = Math.max(err, Math.abs(ga[j]! - gb[j]!));
        scale = Math.max(scale, Math.abs(gb[j]!));
      }
      t.true(err <= 1e-4 * scale + 1e-9, `${m.namedVariables()[i]?.name ?? 'predicted patches'}: max error ${err} vs scale ${scale}`);
    });
    tf.dispose([X, coords]);
    m.dispose();
    t.is(tf.memory().numTensors, before);
  });
}

test.serial("scaled_sigmoid: the untrained amplitude is the mean the data need (a₀), its range [0, 2a₀] reaches past sigmoid's 1", (t) => {
  const before = tf.memory().numTensors;
  const d = simulate({ N: 16, gridsize: 1, groups: 3, seed: 2 });
  const m = PtychoPINN.create({ N: 16, n_filters_scale: 0.25, object_support: 'center', amp_activation: 'scaled_sigmoid' }, d.probe, 3);
  const a0 = m.plan.ampScale!;
  t.true(a0 > 0.5, String(a0));
  const { X, coords } = tensors(d);
  const { re, im } = m.predict(X, coords);
  const amp = tf.tidy(() => re.square().add(im.square()).sqrt().slice([0, 4, 4, 0], [-1, 8, 8, -1]));
  const v = Array.from(amp.dataSync());
  const mean = v.reduce((a: number, b: number) => a + b, 0) / v.length;
  t.true(Math.abs(mean - a0) < 0.05 * a0, `mean ${mean} vs a₀ ${a0}`);
  tf.dispose([X, coords, re, im, amp]);
  m.dispose();
  t.is(tf.memory().numTensors, before);
});
