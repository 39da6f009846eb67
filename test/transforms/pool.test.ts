// Reuse of group's window buffers (Group.release → Batch.release → tensorify):
// a window's buffer goes back to the pool only once every one of its groups is
// released, at most once per group; batch releases groups it copied at once and
// hands a release for the ones X views; tensorify releases on a backend that
// copies (wasm) and not on cpu, whose tensors keep the array. A whole pipeline
// on wasm, where buffers are reused while later windows are read ahead, gives
// exactly the tensors the cpu backend gives.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '../../src/tf.js';
import test from 'ava';
import { TensorLedger } from '../../src/pipeline/ledger.js';
import type { Batch, Group, Stream, TensorBatch } from '../../src/pipeline/types.js';
import { createStage, streamOf, testContext } from '../../src/testing/index.js';
import batch from '../../src/transforms/batch.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import prefetch from '../../src/transforms/prefetch.js';
import tensorify, { backendCopiesOnWrite, toTensorBatch } from '../../src/transforms/tensorify.js';
import { syntheticScan } from './helpers.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

async function indexOver(n: number, window: number) {
  const grp = (await createStage(group, { gridsize: 2, k: 7, read_window: window }, [syntheticScan(n, 4)], testContext({ id: 'group' }))) as Stream<Group>;
  return grp.groups!;
}

test.serial('a window buffer is reused once all its groups are released, and not before', async (t) => {
  const index = await indexOver(40, 4);
  const a = await index.getMany([0, 1, 2, 3]);
  const copies = a.map((g) => g.amplitudes.slice());
  const bufA = a[0]!.amplitudes.buffer;
  t.true(
    a.every((g) => g.amplitudes.buffer === bufA),
    'one buffer per window',
  );
  // Releasing one group four times counts once: the buffer stays out.
  for (let r = 0; r < 4; r++) a[0]!.release!();
  const b = await index.getMany([4, 5, 6, 7]);
  t.not(b[0]!.amplitudes.buffer, bufA);
  for (const g of a) g.release!();
  const c = await index.getMany([0, 1, 2, 3]);
  t.is(c[0]!.amplitudes.buffer, bufA, 'reused after the last release');
  t.deepEqual(
    c.map((g) => g.amplitudes),
    copies,
    'and rewritten with the right values',
  );
  // A shorter request (a single get) has its own buffer, whatever is pooled.
  for (const g of c) g.release!();
  const one = await index.get(9);
  t.is(one.amplitudes.length, 4 * 16);
  t.not(one.amplitudes.buffer, bufA);
  one.release!();
});

function spyGroup(index: number, amplitudes: Float32Array, released: number[]): Group {
  return { index, indices: Int32Array.of(index), center: [0, 0], offsets: Float32Array.of(0, 0), amplitudes, release: () => released.push(index) };
}

test.serial('batch releases groups it copied at once, and hands on a release for groups X views', async (t) => {
  const shared = new Float32Array(4 * 9);
  const released: number[] = [];
  const viewed = [0, 1, 2, 3].map((i) => spyGroup(i, shared.subarray(i * 9, (i + 1) * 9), released));
  const s = (await createStage(batch, { batch_size: 2 }, [streamOf<Group>(viewed, { record: 'group' })], testContext({ id: 'batch' }))) as Stream<Batch>;
  const got: Batch[] = [];
  for await (const b of s.open(new AbortController().signal)) got.push(b);
  t.is(got[0]!.X.buffer, shared.buffer, 'X is a view');
  t.deepEqual(released, [], 'nothing released while X views the groups');
  got[0]!.release!();
  got[0]!.release!();
  t.deepEqual(released, [0, 1], 'released once');
  got[1]!.release!();
  t.deepEqual(released, [0, 1, 2, 3]);

  released.length = 0;
  const apart = [0, 1, 2].map((i) => spyGroup(i, new Float32Array(9).fill(i), released));
  const s2 = (await createStage(
    batch,
    { batch_size: 2, drop_remainder: true },
    [streamOf<Group>(apart, { record: 'group' })],
    testContext({ id: 'batch' }),
  )) as Stream<Batch>;
  const copied: Batch[] = [];
  for await (const b of s2.open(new AbortController().signal)) copied.push(b);
  t.is(copied.length, 1);
  t.is(copied[0]!.release, undefined, 'a copy has nothing to release');
  t.deepEqual(released, [0, 1, 2], 'copied groups and the dropped remainder are released');
});

test.serial('tensorify releases the batch on wasm (which copies) and not on cpu (whose tensor keeps the array)', async (t) => {
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    let released = 0;
    const X = Float32Array.from({ length: 2 * 2 * 2 }, (_, i) => i);
    const b: Batch = {
      size: 1,
      N: 2,
      C: 2,
      X,
      coords: new Float32Array(4),
      centers: new Float64Array(2),
      indices: Int32Array.of(0, 1),
      groups: Int32Array.of(0),
      release: () => released++,
    };
    const tb = toTensorBatch(b, { id: 'tensorify', ledger: new TensorLedger() });
    t.is(backendCopiesOnWrite(), backend === 'wasm');
    t.is(released, backend === 'wasm' ? 1 : 0, backend);
    X.fill(-1); // what reuse would do
    t.deepEqual(
      [...tb.X.dataSync()],
      backend === 'wasm' ? [0, 1, 2, 3, 4, 5, 6, 7] : new Array(8).fill(-1),
      `${backend}: the tensor ${backend === 'wasm' ? 'owns a copy' : 'shares the array'}`,
    );
    tb.dispose();
  }
  await tf.setBackend('cpu');
});

async function tensorsOf(backend: string): Promise<number[][]> {
  await tf.setBackend(backend);
  const ledger = new TensorLedger();
  const ctx = (id: string) => testContext({ id, ledger });
  const norm = await createStage(normalize, {}, [syntheticScan(90, 4)], ctx('normalize'));
  const grp = await createStage(group, { gridsize: 2, k: 7, read_window: 4 }, [norm], ctx('group'));
  const bat = await createStage(batch, { batch_size: 2 }, [grp], ctx('batch'));
  const ten = await createStage(tensorify, {}, [bat], ctx('tensorify'));
  const pre = (await createStage(prefetch, { n: 2 }, [ten], ctx('prefetch'))) as Stream<TensorBatch>;
  const out: number[][] = [];
  const before = tf.memory().numTensors;
  for await (const tb of pre.open(new AbortController().signal)) {
    out.push([...tb.X.dataSync()]);
    tb.dispose();
  }
  if (tf.memory().numTensors !== before) throw new Error(`${backend}: ${tf.memory().numTensors - before} tensors leaked`);
  return out;
}

test.serial('a whole pipeline with reused buffers (wasm) gives exactly the tensors of the cpu backend', async (t) => {
  const cpu = await tensorsOf('cpu');
  const wasm = await tensorsOf('wasm');
  await tf.setBackend('cpu');
  t.is(cpu.length, 45);
  t.deepEqual(wasm, cpu);
});
