// Every built-in sink runs the sink-compliance suite from `ptychoflow/testing`
// (inputs opened and closed, an abort mid-stream ends the run, no tensor left,
// the same seed gives the same summary) on a tiny simulated scan (N = 16,
// wasm backend), in one output directory: train writes the checkpoint infer
// reads, evaluate scores a record made from the simulation's truth, compare
// tabulates metrics files written beside them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { selectBackend } from '../../src/backend/select.js';
import * as tf from '../../src/tf.js';
import { builtinComponents } from '../../src/components.js';
import type { Reconstruction, ScanMeta, Stream } from '../../src/pipeline/types.js';
import compare from '../../src/sinks/compare.js';
import epie from '../../src/sinks/epie.js';
import evaluate from '../../src/sinks/evaluate.js';
import images from '../../src/sinks/images.js';
import infer from '../../src/sinks/infer.js';
import refine from '../../src/sinks/refine.js';
import train from '../../src/sinks/train.js';
import writeErrors from '../../src/sinks/write-errors.js';
import writeNpz from '../../src/sinks/write-npz.js';
import simulate from '../../src/sources/simulate.js';
import { checkSinkCompliance, createStage, streamOf, testContext, type SinkComplianceCase } from '../../src/testing/index.js';
import batch from '../../src/transforms/batch.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import tensorify from '../../src/transforms/tensorify.js';

const N = 16;
/** Stages made for the current run, closed after it. */
let made: Stream<unknown>[] = [];
const after = async (): Promise<void> => {
  for (const s of made.reverse()) await s.close?.();
  made = [];
};
const stage = async (def: Parameters<typeof createStage>[0], options: unknown, inputs: Stream<unknown>[] = []): Promise<Stream<unknown>> => {
  const s = await createStage(def, options, inputs, testContext({ id: def.type, seed: 5 }));
  made.push(s);
  return s;
};
const frames = async (): Promise<Stream<unknown>[]> => [await stage(simulate, { N, object: { kind: 'image', size: 40 }, scan: { step: 4 }, noise: 'none' })];
const batches = async (): Promise<Stream<unknown>[]> => {
  const [scan] = await frames();
  const groups = await stage(group, { gridsize: 1 }, [await stage(normalize, {}, [scan!])]);
  return [await stage(tensorify, {}, [await stage(batch, { batch_size: 8 }, [groups])])];
};
/** The simulation's truth as the record infer emits, over the whole object. */
const truthRecord = async (): Promise<Stream<unknown>[]> => {
  const [scan] = await frames();
  const meta = scan!.meta.scan as ScanMeta;
  const t = meta.object!;
  const record: Reconstruction = { object: t, probe: meta.probe, origin: [0, 0], weights: new Uint8Array(t.width * t.height).fill(1) };
  return [streamOf([record], { record: 'reconstruction', scan: meta })];
};

test.before(async () => {
  await selectBackend('wasm');
});

test('every built-in sink passes the sink-compliance suite', async (t) => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-sink-compliance-'));
  t.teardown(() => rm(outDir, { recursive: true, force: true }));
  const metrics = JSON.stringify({ amplitude: { ssim: 0.9, psnr: 30 }, phase: { ssim: 0.8, psnr: 31 }, frc: { frc_half: null } });
  await writeFile(path.join(outDir, 'm.json'), metrics);
  const errors = (): Stream<unknown>[] => [
    streamOf(
      [
        { stage: 'scan', code: 'BAD_PATTERN', message: 'pattern 3: NaN', record: 3 },
        { stage: 'scan', code: 'BAD_PATTERN', message: 'pattern 7: NaN', record: 7 },
      ],
      { record: 'error' },
    ),
  ];
  const base = { outDir, after };
  // Order matters: infer reads the checkpoint train writes.
  const cases: SinkComplianceCase[] = [
    { ...base, def: train, options: { n_filters_scale: 0.25, epochs: 1, seed: 11 }, inputs: batches },
    { ...base, def: infer, options: {}, inputs: batches },
    { ...base, def: refine, options: { epochs: 1 }, inputs: batches },
    { ...base, def: epie, options: { epochs: 1 }, inputs: frames },
    { ...base, def: evaluate, options: {}, inputs: truthRecord },
    { ...base, def: images, options: { count: 2 }, inputs: frames },
    { ...base, def: writeNpz, options: { path: 'frames.npz' }, inputs: frames },
    { ...base, def: writeErrors, options: {}, inputs: errors },
    { ...base, def: compare, options: { methods: { a: { metrics: 'm.json' } } }, inputs: () => [] },
  ];
  const covered = new Set(cases.map((c) => c.def.type));
  for (const def of builtinComponents) if (def.kind === 'sink') t.true(covered.has(def.type), `${def.type} runs the suite`);
  for (const c of cases) {
    const failures = await checkSinkCompliance(c);
    if (failures.length > 0) t.log(c.def.type, failures);
    t.deepEqual(failures, [], c.def.type);
  }
});

test('the sink suite can fail: a sink that leaves its input open and a tensor alive is caught', async (t) => {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-sink-compliance-'));
  t.teardown(() => rm(outDir, { recursive: true, force: true }));
  const leaked: tf.Scalar[] = [];
  const leaky = {
    ...writeErrors,
    type: 'leaky',
    async create(_o: unknown, { inputs }: { inputs: readonly Stream<unknown>[] }) {
      const it = inputs[0]!.open(new AbortController().signal)[Symbol.asyncIterator]();
      await it.next();
      leaked.push(tf.scalar(1));
      return { records: 1 };
    },
  } as unknown as typeof writeErrors;
  const failures = await checkSinkCompliance({ def: leaky, outDir, inputs: frames, after });
  t.true(
    failures.some((f) => f.check === 'inputs'),
    JSON.stringify(failures),
  );
  t.true(
    failures.some((f) => f.check === 'tensors'),
    JSON.stringify(failures),
  );
  for (const x of leaked) x.dispose();
});
