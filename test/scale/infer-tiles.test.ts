// Tile shards of an infer pipeline merge into the object the unsharded run
// stitches (gridsize 1, margin ≥ N/2 + 1): each core pixel gets the same
// patches. No server needed: the shards run here, through executeShard, as a
// worker runs them. Tolerance 1e-5 of the largest amplitude: a tile adds its
// patches to a pixel in another order (its own group order) and predicts them
// in other batches, so float32 sums may round differently; nothing else differs.
process.env.PTYCHOFLOW_WASM_THREADS ??= '1';
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { planDocument } from '../../src/pipeline/record.js';
import { runPlan } from '../../src/pipeline/run.js';
import { executeShard } from '../../src/scale/execute.js';
import { planJob } from '../../src/scale/job.js';
import { mergePartials } from '../../src/scale/merge.js';
import type { Partial } from '../../src/scale/partial.js';
import { maxDifference, readObject } from './helpers.js';

const scan = '{ type: simulate, N: 32, object: { kind: grf, size: 80 }, scan: { pattern: raster, step: 6 }, nphotons: 1.0e6 }';

test('tile shards of an infer pipeline merge into the unsharded object', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-infer-tiles-'));
  try {
    const train = path.join(dir, 'train.yaml'),
      infer = path.join(dir, 'infer.yaml');
    const chain = `transforms:
  norm: { type: normalize, inputs: [scan] }
  g: { type: group, inputs: [norm], gridsize: 1 }
  b: { type: batch, inputs: [g], batch_size: 16 }
  t: { type: tensorify, inputs: [b] }
`;
    writeFileSync(
      train,
      `seed: 2\nbackend: wasm\nsources:\n  scan: ${scan}\n${chain}sinks:\n  train: { type: train, inputs: [t], n_filters_scale: 0.25, epochs: 1, early_stop: { patience: 0 } }\n`,
    );
    const checkpoint = path.join(dir, 'trained', 'checkpoint');
    writeFileSync(
      infer,
      `seed: 2\nbackend: wasm\nsources:\n  scan: ${scan}\n${chain}sinks:\n  infer: { type: infer, inputs: [t], checkpoint: ${checkpoint} }\n`,
    );
    const registry = builtinRegistry();
    t.is((await runPlan(await loadPlan(train, { registry }), { outDir: path.join(dir, 'trained'), record: false })).error, undefined);
    const plan = await loadPlan(infer, { registry });
    t.is((await runPlan(plan, { outDir: path.join(dir, 'whole'), record: false })).error, undefined);

    const doc = planDocument(plan, 'wasm');
    const parts = new Map<string, Partial>();
    for (const d of planJob({ job: 'infer', doc, pipelineFile: infer, shards: 'tiles:4' }).shards) {
      const run = await executeShard(doc, d, { outDir: path.join(dir, d.shard), backend: 'wasm' });
      parts.set(d.shard, run.partials[0]!.partial);
    }
    const merged = mergePartials(parts);
    const whole = await readObject(path.join(dir, 'whole', 'reconstruction.npz'));
    const { max, scale } = maxDifference(merged.object, whole);
    t.log(`max |tiled − unsharded| = ${max.toExponential(2)} (largest amplitude ${scale.toFixed(3)})`);
    t.true(scale > 0);
    t.true(max <= 1e-5 * scale, `differs by ${max}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
