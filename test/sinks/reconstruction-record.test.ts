// write-npz and images take a reconstruction record (inputs: [infer]) as well
// as frames: write-npz writes the NPZ infer writes (object, origin, ...) plus
// the coverage, and reading it back gives the record; images renders it.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PNG } from 'pngjs';
import { openNpz } from '../../src/io/npz.js';
import type { Reconstruction } from '../../src/pipeline/types.js';
import images from '../../src/sinks/images.js';
import { readComplex } from '../../src/sinks/shared/reconstruction.js';
import writeNpz from '../../src/sinks/write-npz.js';
import { builtinRegistry } from '../../src/components.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { runSink, streamOf, testContext } from '../../src/testing/index.js';

function record(): Reconstruction {
  const h = 6,
    w = 8;
  const re = Float32Array.from({ length: h * w }, (_, i) => 1 + 0.01 * i);
  const im = Float32Array.from({ length: h * w }, (_, i) => 0.02 * (i % 5));
  const weights = Uint8Array.from({ length: h * w }, (_, i) => (i % w >= 2 && i % w < 7 && i >= w ? 1 : 0));
  const probe = { height: 2, width: 2, re: Float32Array.of(1, 0.5, 0.5, 0.25), im: new Float32Array(4) };
  return { object: { height: h, width: w, re, im }, probe, origin: [-3, 2], weights };
}

test('write-npz writes a reconstruction record that reads back as it was', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-rec-'));
  try {
    const r = record();
    const out = (await runSink(writeNpz, { path: 'rec.npz' }, [streamOf([r], { record: 'reconstruction' })], testContext({ id: 'write', outDir: dir }))) as {
      path: string;
      arrays: string[];
    };
    t.deepEqual(out.arrays, ['object', 'amplitude', 'phase', 'probe', 'origin', 'weights']);
    const back = await readComplex(out.path, 'object', [], 'test');
    t.deepEqual([back.height, back.width], [6, 8]);
    t.deepEqual([...back.re], [...r.object.re]);
    t.deepEqual([...back.im], [...r.object.im]);
    t.deepEqual(back.origin, [-3, 2]);
    const npz = await openNpz(out.path);
    try {
      t.deepEqual([...((await npz.readArray('weights')).data as Uint8Array)], [...r.weights]);
    } finally {
      await npz.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('images renders a reconstruction record over its covered region', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-rec-'));
  try {
    const out = (await runSink(images, {}, [streamOf([record()], { record: 'reconstruction' })], testContext({ id: 'images', outDir: dir }))) as {
      files: Record<string, string>;
    };
    t.deepEqual(Object.keys(out.files).sort(), ['probe', 'reconstruction']);
    const png = PNG.sync.read(await readFile(out.files.reconstruction!));
    t.true(png.width > 0 && png.height > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a pipeline file wires them to infer by record, and validation accepts it', async (t) => {
  const text = `
sources: { scan: { type: simulate, N: 16 } }
transforms:
  norm: { type: normalize, inputs: [scan] }
  groups: { type: group, inputs: [norm] }
  batches: { type: batch, inputs: [groups] }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  infer: { type: infer, inputs: [tensors], checkpoint: ckpt }
  saved: { type: write-npz, inputs: [infer], path: again.npz }
  shown: { type: images, inputs: [infer] }
`;
  const plan = await loadPlan('p.yaml', { registry: builtinRegistry(), text });
  t.deepEqual(
    plan.sinks.map((s) => s.id),
    ['infer', 'saved', 'shown'],
  );
  await t.throwsAsync(loadPlan('p.yaml', { registry: builtinRegistry(), text: text.replace('inputs: [infer], path', 'inputs: [tensors], path') }), {
    message: /write-npz' accepts frame records or reconstruction records/,
  });
});
