// Every built-in transform runs the stage-compliance suite from
// `ptychoflow/testing` (early exit, abort, no tensor left, same seed same
// records, on_error), over small synthetic inputs of the kind it accepts.
import test from 'ava';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import batch from '../../src/transforms/batch.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import poisson from '../../src/transforms/poisson.js';
import prefetch from '../../src/transforms/prefetch.js';
import shuffle from '../../src/transforms/shuffle.js';
import spill from '../../src/transforms/spill.js';
import split from '../../src/transforms/split.js';
import tensorify from '../../src/transforms/tensorify.js';
import { builtinComponents } from '../../src/components.js';
import { checkCompliance, createStage, streamOf, type ComplianceCase } from '../../src/testing/index.js';
import { syntheticScan } from './helpers.js';

const frames = (): Stream<unknown>[] => [syntheticScan(24, 4)];
const groups = async (): Promise<Stream<Group>> => (await createStage(group, { gridsize: 2, k: 5 }, [syntheticScan(24, 4)])) as Stream<Group>;
const badFrames = (): Stream<unknown>[] => {
  const N = 4;
  const f = (i: number, v: number): Frame => ({ index: i, x: i, y: 0, amplitude: new Float32Array(N * N).fill(v) });
  return [streamOf([f(0, 1), f(1, Number.NaN), f(2, 2), f(3, 1)], { record: 'frame' })];
};

/** Inputs made fresh per instance: a group stream needs creating, so the suite gets it through a cached promise per call. */
async function casesFor(): Promise<ComplianceCase[]> {
  const g = await groups();
  const b = await createStage(batch, { batch_size: 4 }, [await groups()]);
  return [
    { def: normalize, inputs: frames },
    { def: poisson, options: { dose: 100 }, inputs: frames, bad: { inputs: badFrames, kept: 3 } },
    { def: group, options: { gridsize: 2, k: 5 }, inputs: frames },
    { def: split, options: { fraction: 0.5 }, inputs: () => [g] },
    { def: spill, inputs: frames },
    { def: shuffle, options: { buffer_size: 4 }, inputs: () => [g] },
    { def: batch, options: { batch_size: 4 }, inputs: () => [g] },
    { def: prefetch, options: { n: 2 }, inputs: () => [g] },
    { def: tensorify, inputs: () => [b], key: (r) => (r as { groups: Int32Array }).groups.join(',') },
  ];
}

test('every built-in transform passes the stage-compliance suite', async (t) => {
  const cases = await casesFor();
  const covered = new Set(cases.map((c) => c.def.type));
  for (const def of builtinComponents) if (def.kind === 'transform') t.true(covered.has(def.type), `${def.type} runs the suite`);
  for (const c of cases) t.deepEqual(await checkCompliance(c), [], c.def.type);
});

test('the suite can fail: a stage that ignores its abort signal and never closes its input is caught', async (t) => {
  const careless = {
    ...normalize,
    type: 'careless',
    async create(_o: unknown, { inputs }: { inputs: readonly Stream<unknown>[] }): Promise<Stream<unknown>> {
      const input = inputs[0]!;
      return {
        meta: input.meta,
        open: () =>
          (async function* () {
            const it = input.open(new AbortController().signal)[Symbol.asyncIterator]();
            for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
          })(),
      };
    },
  } as typeof normalize;
  const failures = await checkCompliance({ def: careless, inputs: frames });
  t.true(
    failures.some((f) => f.check === 'early exit'),
    JSON.stringify(failures),
  );
  t.true(
    failures.some((f) => f.check === 'abort'),
    JSON.stringify(failures),
  );
});
