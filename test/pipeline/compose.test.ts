// Composing in code with it-pipe goes through the planner and the runner: the
// same pipeline composed in code and written as YAML gives the same summary
// and the same records; a custom stage in the chain is run, not read around;
// no tensor is left; misuse is a typed error.
import { rmSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { z } from 'zod';
import * as tf from '../../src/tf.js';
import { builtinRegistry } from '../../src/components.js';
import { OptionsError } from '../../src/errors.js';
import { batch, group, iterate, normalize, pipe, run, shuffle, simulate, split, tensorify, use, output, session } from '../../src/compose/index.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { runPlan, type RunSummary } from '../../src/pipeline/run.js';
import { defineSink, defineTransform, type Group, type Stream, type TensorBatch } from '../../src/pipeline/types.js';

const out = path.resolve(import.meta.dirname, '../../out/test-compose');
const cpu = async (): Promise<{ name: string }> => (await tf.setBackend('cpu'), { name: 'cpu' });

/** Disposes tensor batches and keeps a fingerprint of what it saw. */
const drain = defineSink({
  kind: 'sink',
  type: 'test-drain',
  description: 'Consumes tensor batches, disposes them and fingerprints them (test only).',
  options: z.object({}).strict(),
  async create(_o, { ctx, inputs }) {
    const groups: number[] = [];
    let sum = 0;
    for await (const b of (inputs[0] as Stream<TensorBatch>).open(ctx.signal)) {
      groups.push(...b.groups);
      sum += tf.tidy(() => b.X.sum().dataSync()[0]!);
      b.dispose();
    }
    return { groups, sum: Math.round(sum * 1e3) / 1e3 };
  },
});

/** A plugin as the README's authors write one: keeps the groups whose centre is left of x = 24. */
const leftOnly = defineTransform({
  kind: 'transform',
  type: 'test-left',
  description: 'Keeps groups centred left of x = 24 (test only).',
  options: z.object({}).strict(),
  accepts: [['group']],
  emits: 'group',
  async create(_o, { inputs }) {
    const input = inputs[0] as Stream<Group>;
    return {
      meta: (({ count: _count, ...rest }) => rest)(input.meta),
      async *open(signal: AbortSignal) {
        for await (const g of input.open(signal)) if (g.center[0] < 24) yield g;
      },
    };
  },
});

const SIM = { N: 16, object: { kind: 'lines', size: 64 }, scan: { pattern: 'raster', step: 6 } } as const;
const YAML = `
seed: 4
sources: { simulate: { type: simulate, N: 16, object: { kind: lines, size: 64 }, scan: { pattern: raster, step: 6 } } }
transforms:
  normalize: { type: normalize, inputs: [simulate] }
  group: { type: group, inputs: [normalize], gridsize: 2 }
  split: { type: split, inputs: [group], fraction: 0.75 }
  shuffle: { type: shuffle, inputs: [split.test] }
  batch: { type: batch, inputs: [shuffle], batch_size: 8 }
  tensorify: { type: tensorify, inputs: [batch] }
sinks: { test-drain: { type: test-drain, inputs: [tensorify] } }
`;

const comparable = (s: RunSummary): unknown => ({
  stages: s.stages.map(({ ms: _ms, ...rest }) => rest),
  sinks: s.sinks,
  leaked: s.tensors.leaked,
  status: s.status,
});

test.serial('a chain composed with it-pipe and the same pipeline as YAML give the same summary and records', async (t) => {
  rmSync(out, { recursive: true, force: true });
  const plan = await loadPlan(path.join(out, 'yaml', 'p.yaml'), { registry: builtinRegistry().add(drain, 'test'), text: YAML });
  const fromFile = await runPlan(plan, { outDir: path.join(out, 'yaml'), selectBackend: cpu });
  t.is(fromFile.error, undefined);
  const start = tf.memory().numTensors;
  const composed = await pipe(
    simulate(SIM),
    normalize(),
    group({ gridsize: 2 }),
    split({ fraction: 0.75 }),
    output('test'),
    shuffle(),
    batch(8),
    tensorify(),
    use(drain),
    run({ seed: 4, outDir: path.join(out, 'code'), selectBackend: cpu, backend: 'cpu' }),
  );
  t.is(composed.error, undefined);
  t.deepEqual(comparable(composed.summary), comparable(fromFile.summary));
  t.true((composed.summary.sinks['test-drain'] as { groups: number[] }).groups.length > 0);
  t.is(tf.memory().numTensors, start, 'no tensor left behind');
});

test.serial('a custom stage in the chain is run: the stages after it see only what it yields', async (t) => {
  const outcome = await pipe(
    simulate(SIM),
    normalize(),
    group({ gridsize: 2 }),
    use(leftOnly),
    shuffle(),
    batch(8),
    tensorify(),
    use(drain),
    run({ seed: 4, record: false }),
  );
  t.is(outcome.error, undefined);
  const by = Object.fromEntries(outcome.summary.stages.map((s) => [s.id, s]));
  t.true(by['test-left']!.records_out < by.group!.records_out, 'the filter dropped groups');
  t.is(by.shuffle!.records_in, by['test-left']!.records_out);
  t.is(by.shuffle!.records_out, by['test-left']!.records_out, 'shuffle did not read around the filter');
  t.is((outcome.summary.sinks['test-drain'] as { groups: number[] }).groups.length, by['test-left']!.records_out);
});

test.serial('iterating a chain runs it through the runner; breaking early closes it and leaves no tensor', async (t) => {
  const start = tf.memory().numTensors;
  let summary: RunSummary | undefined;
  let seen = 0;
  const batches = pipe(
    simulate(SIM),
    normalize(),
    group({ gridsize: 2 }),
    batch(4),
    tensorify(),
    iterate<TensorBatch>({ seed: 4, record: false, onOutcome: (o) => (summary = o.summary) }),
  );
  for await (const b of batches) {
    b.dispose();
    if (++seen === 2) break;
  }
  t.is(seen, 2);
  t.is(summary?.status, 'ok');
  t.is(summary?.stages.find((s) => s.id === 'port')?.records_in, 2);
  t.is(tf.memory().numTensors, start);
  // An it-pipe sink of one's own gets the chain as an async iterable.
  const count = await pipe(simulate(SIM), normalize(), group({ gridsize: 2 }), async (groups) => {
    let n = 0;
    for await (const _ of groups) n++;
    return n;
  });
  t.true(count > 0);
});

test.serial('a session serves several passes (epochs) of one run', async (t) => {
  const s = await pipe(simulate(SIM), normalize(), group({ gridsize: 1 }), shuffle(), session<Group>({ seed: 4, record: false }));
  const pass = async (): Promise<number[]> => {
    const ids: number[] = [];
    for await (const g of s.open()) ids.push(g.indices[0]!);
    return ids;
  };
  const a = await pass();
  const b = await pass();
  t.is(a.length, b.length);
  t.notDeepEqual(a, b, 'a new shuffle each pass');
  const { summary } = await s.close();
  t.is(summary.stages.find((st) => st.id === 'port')?.records_in, a.length * 2);
  await t.throwsAsync(
    async () => {
      for await (const _ of s.open()) break;
    },
    { instanceOf: OptionsError, message: /closed/ },
  );
});

test('misuse is a typed error: a plain function in the chain, bad options, a transform after a sink', async (t) => {
  const plain = async function* (source: AsyncIterable<unknown>): AsyncIterable<unknown> {
    yield* source;
  };
  // TypeScript refuses this chain already; plain JavaScript gets a typed error.
  t.throws(() => pipe(simulate(SIM), plain, normalize() as (x: unknown) => unknown), { instanceOf: OptionsError, message: /not a ptychoflow chain/ });
  await t.throwsAsync(pipe(simulate(SIM), normalize(), group({ gridsize: 0 }), use(drain), run({ record: false })), {
    instanceOf: OptionsError,
    message: /transforms\.group\.gridsize/,
  });
  await t.throwsAsync(pipe(simulate(SIM), use(drain), normalize(), run({ record: false })), { instanceOf: OptionsError, message: /after sink/ });
});

test('every built-in stage has a factory', async (t) => {
  const stages = await import('../../src/compose/stages.js');
  const { builtinComponents } = await import('../../src/components.js');
  const camel = (type: string): string => type.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  const missing = builtinComponents.map((d) => d.type).filter((ty) => typeof (stages as Record<string, unknown>)[camel(ty)] !== 'function');
  t.deepEqual(missing, []);
});

test.serial('a pass that fails fails the run: the error names the stage, the summary says failed', async (t) => {
  const breaks = defineTransform({
    kind: 'transform',
    type: 'test-break',
    description: 'Fails on the third group (test only).',
    options: z.object({}).strict(),
    async create(_o, { inputs }) {
      const input = inputs[0] as Stream<Group>;
      const { count: _count, ...meta } = input.meta;
      return {
        meta,
        async *open(signal: AbortSignal) {
          let n = 0;
          for await (const g of input.open(signal)) {
            if (++n === 3) throw new Error('third group');
            yield g;
          }
        },
      };
    },
  });
  const s = await pipe(simulate(SIM), normalize(), group({ gridsize: 1 }), use(breaks), session({ record: false }));
  await t.throwsAsync(
    async () => {
      for await (const _ of s.open()) continue;
    },
    { message: /stage 'test-break'.*third group/ },
  );
  const { summary, error } = await s.close();
  t.is(summary.status, 'failed');
  t.is(summary.error?.stage, 'test-break');
  t.truthy(error);
});
