// Issue #17: training on a textured simulated object at a moderate dose must
// not collapse to a flat object. A Gaussian-random-field object (amplitude and
// phase), a probe wider than the central N/2 square (so the 'full' support is
// chosen, as for Run1084), a Fermat-spiral scan with sub-pixel positions, 1e5
// counts per pattern, gridsize 2 and the run1084 settings otherwise, N = 32 and
// a small network so it runs in a few minutes on wasm. Every epoch's collapse
// check must pass and the stitched phase must lie above the SSIM of a constant
// image (computed here against the same truth and crop). The amplitude is only
// logged: at this budget (6 epochs, 78 steps) it is not yet above the constant
// floor (measured 0.235 against 0.242; phase 0.097 against 0.029). With lr 3e-3
// and batch 4 the same run collapses after epoch 1 (spread and gradient 0) and
// stops with TRAINING_COLLAPSED.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { builtinRegistry } from '../../src/components.js';
import { runPipelineFile } from '../../src/pipeline/index.js';
import { evaluateObject } from '../../src/physics/metrics.js';
import simulate from '../../src/sources/simulate.js';
import { createStage, testContext } from '../../src/testing/index.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';

const SIM = {
  N: 32,
  object: { kind: 'grf', size: 72, correlation_length: 3, amp_min: 0.3, phase_range: 2 },
  probe: { radius: 11 },
  scan: { pattern: 'spiral', step: 2.5 },
  nphotons: 1e5,
};

const pipeline = `
seed: 17
backend: wasm
sources:
  scan: { type: simulate, ${JSON.stringify(SIM).slice(1, -1)} }
transforms:
  normalized: { type: normalize, inputs: [scan] }
  groups: { type: group, inputs: [normalized], gridsize: 2, k: 7 }
  shuffled: { type: shuffle, inputs: [groups] }
  train_batches: { type: batch, inputs: [shuffled], batch_size: 8 }
  train_tensors: { type: tensorify, inputs: [train_batches] }
  all_batches: { type: batch, inputs: [groups], batch_size: 32 }
  all_tensors: { type: tensorify, inputs: [all_batches] }
sinks:
  train:
    type: train
    inputs: [train_tensors]
    n_filters_scale: 0.5
    nphotons: 1.0e5
    epochs: 6
    lr: 1.0e-3
    # 78 steps in all: a warm-up of 5 (not the default 20, a quarter of this run).
    warmup_steps: 5
    reduce_lr: { factor: 0.5, patience: 2, min_lr: 1.0e-4 }
    early_stop: { patience: 3 }
  infer: { type: infer, inputs: [all_tensors], after: [train], checkpoint: checkpoint }
  evaluate: { type: evaluate, inputs: [infer], truth: scan }
`;

test('a textured object at 1e5 counts trains without collapsing; its phase is above the constant-image SSIM floor', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-collapse-'));
  try {
    const file = path.join(dir, 'p.yaml');
    await writeFile(file, pipeline);
    const t0 = performance.now();
    const { summary, error } = await runPipelineFile(file, { registry: builtinRegistry(), outDir: dir });
    t.is(error, undefined, String(error));
    t.is(summary.status, 'ok');
    const train = summary.sinks['train'] as { support_mode: string; epochs_run: number; stopped: string };
    t.is(train.support_mode, 'full');
    t.not(train.stopped, 'collapse');
    const history = JSON.parse(await readFile(path.join(dir, 'history.json'), 'utf8')) as { amp_spread: number; phase_spread: number }[];
    for (const h of history) t.true(h.amp_spread > 1e-3 && h.phase_spread > 1e-3, JSON.stringify(h));
    const metrics = JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8')) as {
      crop: { x0: number; y0: number; x1: number; y1: number };
      amplitude: { ssim: number };
      phase: { ssim: number };
    };

    // The floor: a constant object scored against the same truth over the same crop.
    const scan = (await createStage(simulate, SIM, [], testContext({ id: 'scan', seed: 17 }))) as Stream<Frame>;
    const truth = scan.meta.scan!.object!;
    await scan.close?.();
    const flat = { height: truth.height, width: truth.width, re: new Float32Array(truth.re.length).fill(1), im: new Float32Array(truth.re.length) };
    const floor = evaluateObject(truth, flat, { crop: metrics.crop, register: false });
    t.log(
      `${train.epochs_run} epochs in ${((performance.now() - t0) / 1000).toFixed(0)} s (wasm): SSIM amplitude ${metrics.amplitude.ssim.toFixed(3)}, phase ${metrics.phase.ssim.toFixed(3)}; constant floor ${floor.amplitude.ssim.toFixed(3)} / ${floor.phase.ssim.toFixed(3)}`,
    );
    t.true(metrics.phase.ssim > floor.phase.ssim + 0.05, 'phase above the floor');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
