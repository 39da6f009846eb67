// tensorify and the tensor discipline of the whole data path: shapes and
// values of the tensors, ledger accounting, no leaks on full runs, early stop
// or abort; peak live tensor bytes bounded by (1 + prefetch) batches whatever
// the number of patterns.
import * as tf from '../../src/tf.js';
import test from 'ava';
import { TensorLedger } from '../../src/pipeline/ledger.js';
import type { Batch, Stream, TensorBatch } from '../../src/pipeline/types.js';
import { createStage, streamOf, testContext, trackTensors } from '../../src/testing/index.js';
import batch, { packBatch } from '../../src/transforms/batch.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import prefetch from '../../src/transforms/prefetch.js';
import tensorify from '../../src/transforms/tensorify.js';
import { syntheticScan, thrownName } from './helpers.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

async function pipeline(n: number, ledger: TensorLedger, ahead: number, B = 4): Promise<Stream<TensorBatch>> {
  const ctx = (id: string) => testContext({ id, ledger });
  const src = syntheticScan(n, 8);
  const norm = await createStage(normalize, {}, [src], ctx('normalize'));
  const grp = await createStage(group, { gridsize: 2, k: 7 }, [norm], ctx('group'));
  const bat = await createStage(batch, { batch_size: B }, [grp], ctx('batch'));
  const ten = await createStage(tensorify, {}, [bat], ctx('tensorify'));
  return (ahead > 0 ? await createStage(prefetch, { n: ahead }, [ten], ctx('prefetch')) : ten) as Stream<TensorBatch>;
}

test.serial('a Batch becomes X (B,N,N,C) and coords (B,1,2,C) with the same values; dispose releases the ledger', async (t) => {
  const g = {
    index: 7,
    indices: Int32Array.of(1, 2),
    center: [1, 2] as const,
    offsets: Float32Array.of(0.5, -0.5, 1, -1),
    amplitudes: Float32Array.from({ length: 18 }, (_, i) => i),
  };
  const ledger = new TensorLedger();
  const s = (await createStage(
    tensorify,
    {},
    [streamOf<Batch>([packBatch([g])], { record: 'batch' })],
    testContext({ id: 'tensorify', ledger }),
  )) as Stream<TensorBatch>;
  t.is(s.meta.record, 'tensor-batch');
  const { leaked } = await trackTensors(async () => {
    for await (const tb of s.open(new AbortController().signal)) {
      t.deepEqual(tb.X.shape, [1, 3, 3, 2]);
      t.deepEqual(tb.coords.shape, [1, 1, 2, 2]);
      t.deepEqual([...tb.X.dataSync()], [...g.amplitudes]);
      t.deepEqual([...tb.coords.dataSync()], [0.5, -0.5, 1, -1]);
      t.deepEqual([...tb.groups], [7]);
      t.is(ledger.stage('tensorify').tensors, 2);
      tb.dispose();
      tb.dispose();
      t.is(ledger.stage('tensorify').tensors, 0);
    }
  });
  t.is(leaked, 0);
});

test.serial('normalize → group → batch → tensorify → disposing consumer leaks nothing', async (t) => {
  const ledger = new TensorLedger();
  const s = await pipeline(60, ledger, 0);
  const { leaked, result } = await trackTensors(async () => {
    let groups = 0;
    for await (const tb of s.open(new AbortController().signal)) {
      groups += tb.size;
      tb.X.sum().dispose();
      tb.dispose();
    }
    return groups;
  });
  t.is(result, 60);
  t.is(leaked, 0);
  t.is(ledger.report().leaked, 0);
});

test.serial('early stop or abort with prefetch leaves no tensor alive', async (t) => {
  const ledger = new TensorLedger();
  const s = await pipeline(80, ledger, 3);
  const { leaked } = await trackTensors(async () => {
    for await (const tb of s.open(new AbortController().signal)) {
      tb.dispose();
      break;
    }
    const ac = new AbortController();
    t.is(
      await thrownName(async () => {
        for await (const tb of s.open(ac.signal)) {
          tb.dispose();
          ac.abort();
        }
      }),
      'AbortError',
    );
  });
  t.is(leaked, 0);
});

test.serial('peak live tensor bytes: (1 + prefetch) batches, independent of the number of patterns', async (t) => {
  const B = 4;
  const ahead = 2;
  const batchBytes = B * 8 * 8 * 4 * 4 + B * 2 * 4 * 4;
  const peaks: number[] = [];
  for (const n of [40, 400]) {
    const ledger = new TensorLedger();
    const s = await pipeline(n, ledger, ahead, B);
    for await (const tb of s.open(new AbortController().signal)) {
      await new Promise((r) => setTimeout(r, 1)); // let the prefetcher fill up
      ledger.observe();
      tb.dispose();
    }
    peaks.push(ledger.stage('tensorify').peakBytes);
    t.is(ledger.report().leaked, 0);
  }
  t.is(peaks[0], (1 + ahead) * batchBytes);
  t.is(peaks[1], peaks[0]);
});
