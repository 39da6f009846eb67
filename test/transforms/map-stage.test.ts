// The ordered parallel map stage (defineMap, stages.map): results in input
// order with at most `concurrency` calls in flight, the compliance suite,
// and counted by the runner when placed in a composed chain.
import test from 'ava';
import type { Frame } from '../../src/pipeline/types.js';
import { defineMap } from '../../src/transforms/map-stage.js';
import { checkCompliance, collectStream, createStage } from '../../src/testing/index.js';
import { map, pipe, run, use, simulate } from '../../src/compose/index.js';
import { defineSink } from '../../src/pipeline/types.js';
import { z } from 'zod';
import { syntheticScan } from './helpers.js';

const doubled = (f: Frame): Frame => ({ ...f, amplitude: f.amplitude.map((v) => 2 * v) });

test('results keep the input order with at most `concurrency` calls in flight', async (t) => {
  let inFlight = 0;
  let most = 0;
  const def = defineMap(async (f: Frame, at: number) => {
    inFlight++;
    most = Math.max(most, inFlight);
    // Later records finish first: the order must still be the input's.
    await new Promise((r) => setTimeout(r, 2 * (10 - (at % 10))));
    inFlight--;
    return doubled(f);
  });
  const out = (await collectStream(await createStage(def, { concurrency: 3 }, [syntheticScan(12, 4)]))) as Frame[];
  t.deepEqual(
    out.map((f) => f.index),
    [...Array(12).keys()],
  );
  t.true(most <= 3 && most >= 2, `most in flight ${most}`);
  await t.throwsAsync(createStage(def, { concurrency: 0 }, [syntheticScan(3, 4)]));
});

test('passes the stage-compliance suite', async (t) => {
  const def = defineMap(async (f: Frame) => doubled(f));
  t.deepEqual(await checkCompliance({ def, options: { concurrency: 2 }, inputs: () => [syntheticScan(8, 4)] }), []);
});

test('in a composed chain the runner counts it like any stage', async (t) => {
  const count = defineSink({
    kind: 'sink',
    type: 'test-count',
    description: 'Counts frames (test only).',
    options: z.object({}).strict(),
    async create(_o, { ctx, inputs }) {
      let n = 0;
      for await (const _ of inputs[0]!.open(ctx.signal)) n++;
      return { n };
    },
  });
  const { summary, error } = await pipe(
    simulate({ N: 16, object: { kind: 'lines', size: 64 }, scan: { pattern: 'raster', step: 8 } }),
    map(async (f: Frame) => doubled(f), { concurrency: 4 }),
    use(count),
    run({ record: false }),
  );
  t.is(error, undefined);
  const m = summary.stages.find((s) => s.id === 'map')!;
  t.true(m.records_in > 0);
  t.is(m.records_out, m.records_in);
  t.is((summary.sinks['test-count'] as { n: number }).n, m.records_out);
});
