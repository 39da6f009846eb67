// Issue #17: a network trained on a tiny simulated corpus reconstructs a scan
// it never saw better than the same network untrained. Corpus: scans 0-3 of
// the object family (GRFs and lines, N = 16, 1e6 counts, spiral scan); the held-out scan is
// scan 1000, an object the corpus never drew. Both networks infer through the
// same pipeline, normalised as the checkpoint records (normalize checkpoint:);
// the untrained one is the trained one's configuration with its initial
// weights (same seed), saved as a checkpoint beside it. Scored over the scan
// box (crop_margin 0: the rim has few patches). Only the phase is asserted:
// measured 0.634 trained against 0.380 untrained (45 s on wasm, load ~17).
// The amplitude is logged, not asserted: at this size it is worse trained
// (0.026 against 0.116), the open problem recorded in docs/RESULTS.md.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { builtinRegistry } from '../../src/components.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import { runPipelineFile } from '../../src/pipeline/index.js';

const sim = (scans: number, first: number): string =>
  JSON.stringify({
    type: 'simulate',
    N: 16,
    object: { kind: 'family', kinds: ['grf', 'lines'], size: 40, phase_range: [1.5, 3] },
    scan: { pattern: 'spiral', step: 2 },
    nphotons: 1e6,
    scans,
    first_scan: first,
  });

const training = `
seed: 7
backend: wasm
sources: { corpus: ${sim(4, 0)} }
transforms:
  normalized: { type: normalize, inputs: [corpus] }
  groups: { type: group, inputs: [normalized], gridsize: 1 }
  shuffled: { type: shuffle, inputs: [groups] }
  batches: { type: batch, inputs: [shuffled], batch_size: 8 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  train: { type: train, inputs: [tensors], n_filters_scale: 0.5, amp_activation: scaled_sigmoid, nphotons: 1.0e6, epochs: EPOCHS, lr: 2.0e-3, early_stop: { patience: 0 }, checkpoint_dir: CKPT }
`;

const inference = (ckpt: string): string => `
seed: 7
backend: wasm
sources: { scan: ${sim(1, 1000)} }
transforms:
  normalized: { type: normalize, inputs: [scan], checkpoint: ${ckpt} }
  groups: { type: group, inputs: [normalized], gridsize: 1 }
  batches: { type: batch, inputs: [groups], batch_size: 64 }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  infer: { type: infer, inputs: [tensors], checkpoint: ${ckpt} }
  evaluate: { type: evaluate, inputs: [infer], truth: scan, crop_margin: 0 }
`;

async function run(dir: string, name: string, text: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, text);
  const { summary, error } = await runPipelineFile(file, { registry: builtinRegistry(), outDir: dir });
  if (error !== undefined) throw error instanceof Error ? error : new Error(JSON.stringify(error));
  return summary.sinks;
}

test('a network trained on a tiny corpus infers an unseen scan better than untrained', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-unseen-'));
  try {
    const t0 = performance.now();
    await run(dir, 'train', training.replace('EPOCHS', '8').replace('CKPT', 'trained'));
    const { model, sidecar } = await loadCheckpoint(path.join(dir, 'trained'));
    const fresh = PtychoPINN.restore(model.config, model.probe(), model.probeFactor, sidecar.seed);
    try {
      await saveCheckpoint(path.join(dir, 'untrained'), fresh, { ...sidecar, epoch: 0 });
    } finally {
      fresh.dispose();
      model.dispose();
    }
    const score = async (ckpt: string): Promise<{ amp: number; phase: number }> => {
      await run(dir, `infer-${ckpt}`, inference(ckpt));
      const m = JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8')) as { amplitude: { ssim: number }; phase: { ssim: number } };
      return { amp: m.amplitude.ssim, phase: m.phase.ssim };
    };
    const trained = await score('trained');
    const untrained = await score('untrained');
    t.log(
      `unseen scan, SSIM amplitude/phase: trained ${trained.amp.toFixed(3)} / ${trained.phase.toFixed(3)}, untrained ${untrained.amp.toFixed(3)} / ${untrained.phase.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
    t.true(trained.phase - untrained.phase > 0.1, 'a clear margin in phase');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
