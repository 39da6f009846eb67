// Collapse detection and the initialisation that prevents it (issue #17):
// a network whose weights are all zero predicts one flat object, which the
// diagnosis reports as flat in amplitude and phase; the 'he' initialisation
// starts at the amplitude the data's energy needs and with an object that
// varies; the relative min_delta ignores changes in the loss's 7th digit.
import test from 'ava';
import * as tf from '../../src/tf.js';
import { selectBackend } from '../../src/backend/select.js';
import { judgeCollapse, outputSpread } from '../../src/model/collapse.js';
import { inverseAmpActivation } from '../../src/model/network.js';
import { PtychoPINN, targetAmplitude } from '../../src/model/pinn.js';
import { initialState, scheduleStep, shouldStop, warmupFactor } from '../../src/model/schedule.js';
import { simulate, tensors } from './sim.js';

test.before(async () => {
  await selectBackend('wasm');
});

function spreadOf(make: () => [tf.Tensor4D, tf.Tensor4D]): ReturnType<typeof outputSpread> {
  const [re, im] = tf.tidy(make);
  try {
    return outputSpread(re, im);
  } finally {
    tf.dispose([re, im]);
  }
}

test('outputSpread: 0 for flat patches, > 0 for textured ones; a phase wrap at ±π is not structure', (t) => {
  const before = tf.memory().numTensors;
  const flat = spreadOf(() => {
    const ph = tf.fill([2, 16, 16, 1], Math.PI - 1e-3);
    return [tf.cos(ph).mul(0.7), tf.sin(ph).mul(0.7)];
  });
  t.true(flat.amplitude < 1e-5 && flat.phase < 1e-5, JSON.stringify(flat));
  const wrap = spreadOf(() => {
    // Phase ±(π − 0.01): 0.02 rad apart across the wrap, not 2π.
    const ph = tf.tensor4d(
      Array.from({ length: 256 }, (_, i) => (i % 2 === 0 ? 1 : -1) * (Math.PI - 0.01)),
      [1, 16, 16, 1],
    );
    return [tf.cos(ph), tf.sin(ph)];
  });
  t.true(wrap.phase < 0.02, `phase spread across the wrap ${wrap.phase}`);
  const rough = spreadOf(() => {
    const a = tf.randomUniform([2, 16, 16, 1], 0.3, 1, 'float32', 1);
    const ph = tf.randomUniform([2, 16, 16, 1], -1, 1, 'float32', 2);
    return [a.mul(tf.cos(ph)), a.mul(tf.sin(ph))];
  });
  t.true(rough.amplitude > 0.1 && rough.phase > 0.3, JSON.stringify(rough));
  t.deepEqual(judgeCollapse(flat, 1e-3), { collapsed: true, flat: ['amplitude', 'phase'] });
  t.deepEqual(judgeCollapse(rough, 1e-3), { collapsed: false, flat: [] });
  t.false(judgeCollapse(flat, 0).collapsed, 'tol 0 disables the check');
  t.is(tf.memory().numTensors, before);
});

test('diagnose: a network with all-zero weights is flat; the he-initialised one is not and starts at the target amplitude', (t) => {
  const sim = simulate({ N: 16, gridsize: 1, groups: 4, seed: 3 });
  const before = tf.memory().numTensors;
  const { X, coords } = tensors(sim);
  const model = PtychoPINN.create({ N: 16, gridsize: 1, n_filters_scale: 0.5, object_support: 'full', nphotons: 1e5 }, sim.probe, 5);
  try {
    const alive = model.diagnose(X, coords);
    t.false(judgeCollapse(alive, 1e-3).collapsed, JSON.stringify(alive));
    t.true(alive.gradNorm > 0);
    const target = targetAmplitude(model.probe(), 'full', false);
    const { re, im } = model.predict(X);
    const mean = tf.tidy(() => re.square().add(im.square()).sqrt().mean().dataSync()[0]!);
    tf.dispose([re, im]);
    t.true(Math.abs(mean - Math.min(target, 0.95)) < 0.05 * target, `untrained mean amplitude ${mean}, target ${target}`);
    const zeros = model.getWeights().map((w) => tf.zerosLike(w));
    const keep = model.getWeights().map((w) => w.clone());
    model.setWeights([...zeros.slice(0, -3), ...keep.slice(-3)]);
    tf.dispose([...zeros, ...keep]);
    const dead = model.diagnose(X, coords);
    t.deepEqual(judgeCollapse(dead, 1e-3), { collapsed: true, flat: ['amplitude', 'phase'] });
  } finally {
    model.dispose();
    tf.dispose([X, coords]);
  }
  t.is(tf.memory().numTensors, before);
});

test('inverseAmpActivation inverts each amplitude head (sigmoid clamped below 0.95)', (t) => {
  const sig = (x: number): number => 1 / (1 + Math.exp(-x));
  t.true(Math.abs(sig(inverseAmpActivation('sigmoid', 0.6)) - 0.6) < 1e-9);
  t.true(Math.abs(sig(inverseAmpActivation('sigmoid', 1.4)) - 0.95) < 1e-9);
  t.true(Math.abs(Math.log1p(Math.exp(inverseAmpActivation('softplus', 1.4))) - 1.4) < 1e-9);
  const x = inverseAmpActivation('swish', 0.8);
  t.true(Math.abs(x * sig(x) - 0.8) < 1e-9);
  t.is(inverseAmpActivation('relu', 0.8), 0.8);
});

test('min_delta: a loss that changes only in its 7th digit is a plateau', (t) => {
  const sched = { factor: 0.5, patience: 2, min_lr: 1e-5, stop_patience: 3, min_delta: 1e-4 };
  let s = initialState(1e-3, 0);
  const losses = [-529.592, -532.918, -532.9181, -532.9182, -532.9183];
  for (const [i, loss] of losses.entries()) s = scheduleStep(s, { epoch: i + 1, loss, lr: s.lr, seconds: 0 }, sched);
  t.is(s.best_epoch, 2);
  t.is(s.lr, 5e-4, 'reduced after two epochs without a relative improvement of 1e-4');
  t.true(shouldStop(s, sched));
  let any = initialState(1e-3, 0);
  for (const [i, loss] of losses.entries()) any = scheduleStep(any, { epoch: i + 1, loss, lr: any.lr, seconds: 0 }, { ...sched, min_delta: 0 });
  t.is(any.best_epoch, 5, 'min_delta 0: every decrease counts');
});

test('warmupFactor: a linear ramp to 1 over the first steps, none at 0', (t) => {
  t.is(warmupFactor(0, 20), 1 / 20);
  t.is(warmupFactor(9, 20), 0.5);
  t.is(warmupFactor(19, 20), 1);
  t.is(warmupFactor(500, 20), 1);
  t.is(warmupFactor(0, 0), 1);
});
