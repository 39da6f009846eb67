// The run summary counts every stage, including those that read their input
// by index (group, split, shuffle): simulate → normalize → group → split →
// shuffle → batch → tensorify → sink gives non-zero counts that chain (the
// out of one stage is the in of the next) and an own time for each.
import path from 'node:path';
import { rmSync } from 'node:fs';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { z } from 'zod';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { runPlan } from '../../src/pipeline/run.js';
import { defineSink, type Stream, type TensorBatch } from '../../src/pipeline/types.js';

const out = path.resolve(import.meta.dirname, '../../out/test-summary');

const drain = defineSink({
  kind: 'sink',
  type: 'test-drain',
  description: 'Consumes tensor batches and disposes them (test only).',
  options: z.object({}).strict(),
  async create(_o, { ctx, inputs }) {
    let batches = 0;
    for await (const b of (inputs[0] as Stream<TensorBatch>).open(ctx.signal)) {
      b.dispose();
      batches++;
    }
    return { batches };
  },
});

test.serial('every stage of normalize → group → split → shuffle → batch → tensorify is counted, and the counts chain', async (t) => {
  const registry = builtinRegistry().add(drain, 'test');
  const yaml = `
seed: 4
sources: { scan: { type: simulate, N: 16, object: { kind: lines, size: 64 }, scan: { pattern: raster, step: 6 } } }
transforms:
  norm: { type: normalize, inputs: [scan] }
  groups: { type: group, inputs: [norm], gridsize: 2 }
  parts: { type: split, inputs: [groups], fraction: 0.75 }
  mixed: { type: shuffle, inputs: [parts] }
  batches: { type: batch, inputs: [mixed], batch_size: 8 }
  tensors: { type: tensorify, inputs: [batches] }
sinks: { drain: { type: test-drain, inputs: [tensors] } }
`;
  rmSync(out, { recursive: true, force: true });
  const plan = await loadPlan(path.join(out, 'p.yaml'), { registry, text: yaml });
  const { summary, error } = await runPlan(plan, { outDir: out, selectBackend: async () => (await tf.setBackend('cpu'), { name: 'cpu' }) });
  t.is(error, undefined);
  const by = Object.fromEntries(summary.stages.map((s) => [s.id, s]));
  const chain = ['scan', 'norm', 'groups', 'parts', 'mixed', 'batches', 'tensors', 'drain'];
  for (const id of chain) {
    const s = by[id]!;
    if (id !== 'scan') t.true(s.records_in > 0, `${id} records_in ${s.records_in}`);
    if (id !== 'drain') t.true(s.records_out > 0, `${id} records_out ${s.records_out}`);
    t.true(s.ms >= 0, `${id} ms`);
  }
  for (let k = 0; k + 1 < chain.length; k++) t.is(by[chain[k]!]!.records_out, by[chain[k + 1]!]!.records_in, `${chain[k]} → ${chain[k + 1]}`);
  const groups = by.groups!;
  const count = by.parts!.records_out;
  t.is(by.mixed!.records_out, count, 'shuffle keeps every group');
  t.is(by.batches!.records_out, Math.ceil(count / 8));
  t.is(by.tensors!.records_out, by.batches!.records_out);
  t.true(count < groups.records_out + 1 && count > 0.6 * groups.records_out, `train part ${count} of ${groups.records_out}`);
  t.is((summary.sinks.drain as { batches: number }).batches, by.tensors!.records_out);
  t.is(summary.tensors.leaked, 0);
});
