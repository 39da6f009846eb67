// Issue #17: a network trained on a tiny simulated corpus reconstructs a scan
// it never saw better than the same network untrained. Corpus: scans 0-3 of
// the object family (GRFs and lines, N = 16, 1e6 counts, spiral scan, smallest
// amplitude 0.3-0.5); the held-out scan is scan 1000, an object the corpus
// never drew. Both networks infer through the same pipeline, normalised as the
// checkpoint records (normalize checkpoint:); the untrained one is the trained
// one's configuration with its initial weights (same seed), saved as a
// checkpoint beside it. Scored over the scan box (crop_margin 0: the rim has
// few patches), against a constant image too (the SSIM floor).
// The amplitude is asserted: with the family's default smallest amplitude
// (0.3-0.9) scan 1000 drew 0.9, an amplitude range of 0.06 in the box, where
// SSIM measures noise (trained 0.064, untrained 0.116, constant 0.153); with
// 0.3-0.5 it spans 0.52-0.80 and 16 epochs give 0.791 trained, 0.205
// untrained, 0.152 constant (docs/RESULTS.md). The phase is logged, not
// asserted: with that amplitude contrast this network at N = 16 does not learn
// it in this budget (0.369 trained, 0.390 untrained, 0.410 constant).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { builtinRegistry } from '../../src/components.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { PtychoPINN } from '../../src/model/pinn.js';
import { evaluateObject } from '../../src/physics/metrics.js';
import { runPipelineFile } from '../../src/pipeline/index.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import { scanCrop } from '../../src/sinks/shared/object-frame.js';
import simulate from '../../src/sources/simulate.js';
import { createStage, testContext } from '../../src/testing/index.js';

const simOptions = (scans: number, first: number): Record<string, unknown> => ({
  N: 16,
  object: { kind: 'family', kinds: ['grf', 'lines'], size: 40, amp_min: [0.3, 0.5], phase_range: [1.5, 3] },
  scan: { pattern: 'spiral', step: 2 },
  nphotons: 1e6,
  scans,
  first_scan: first,
});
const sim = (scans: number, first: number): string => JSON.stringify({ type: 'simulate', ...simOptions(scans, first) });

/** SSIM of a constant object against scan 1000's truth over the scan box, as evaluate scores with crop_margin 0. */
async function constantFloor(): Promise<{ amp: number; phase: number }> {
  const s = (await createStage(simulate, simOptions(1, 1000), [], testContext({ id: 'scan', seed: 7 }))) as Stream<Frame>;
  const truth = s.meta.scan!.object!;
  const crop = scanCrop(s.meta.scan!, 0);
  await s.close?.();
  const flat = { ...truth, re: new Float32Array(truth.re.length).fill(1), im: new Float32Array(truth.re.length) };
  const f = evaluateObject(truth, flat, { crop, register: false });
  return { amp: f.amplitude.ssim, phase: f.phase.ssim };
}

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
    await run(dir, 'train', training.replace('EPOCHS', '16').replace('CKPT', 'trained'));
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
    const floor = await constantFloor();
    const f = (s: { amp: number; phase: number }): string => `${s.amp.toFixed(3)} / ${s.phase.toFixed(3)}`;
    t.log(
      `unseen scan, SSIM amplitude/phase: trained ${f(trained)}, untrained ${f(untrained)}, constant ${f(floor)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
    // The bar the trained network must clear is one the untrained network fails: the test can fail.
    const clears = (s: { amp: number }): boolean => s.amp - floor.amp > 0.3 && s.amp - untrained.amp > 0.3;
    t.false(untrained.amp - floor.amp > 0.3, 'the untrained network does not clear the bar');
    t.true(clears(trained), 'a clear margin in amplitude over the untrained network and the constant image');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
