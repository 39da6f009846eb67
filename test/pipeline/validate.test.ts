// Validation of pipeline files: every problem reported once, together, at the
// right line and column, before anything runs.
import path from 'node:path';
import test from 'ava';
import { loadPlan } from '../../src/pipeline/index.js';
import { problemsOf, type Problem } from '../../src/pipeline/problems.js';
import { Registry } from '../../src/pipeline/registry.js';
import { PipelineFileError } from '../../src/errors.js';
import { collectSink, countSource, throwAt } from '../fixtures/pipelines/stages.js';
import { builtinComponents, builtinRegistry } from '../../src/components.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/pipelines');

function registry(): Registry {
  const r = new Registry();
  for (const d of [countSource, throwAt, collectSink]) r.add(d, 'test');
  return r;
}

async function problems(file: string, text?: string, sets: string[] = []): Promise<Problem[]> {
  try {
    await loadPlan(path.join(dir, file), { registry: registry(), sets, ...(text !== undefined ? { text } : {}) });
  } catch (e) {
    if (!(e instanceof PipelineFileError)) throw e;
    t_exitCode = e.exitCode;
    return problemsOf(e);
  }
  return [];
}
let t_exitCode = 0;

function find(ps: Problem[], key: string): Problem[] {
  return ps.filter((p) => p.path.join('.') === key);
}

test('broken.yaml: every problem once, all together, with line and column', async (t) => {
  // broken.yaml loads its own copy of the test stages as a plugin; use an empty registry.
  let ps: Problem[] = [];
  try {
    await loadPlan(path.join(dir, 'broken.yaml'), { registry: new Registry() });
  } catch (e) {
    t.true(e instanceof PipelineFileError);
    t.is((e as PipelineFileError).exitCode, 2);
    ps = problemsOf(e);
    t.regex((e as Error).message, /broken\.yaml:\d+:\d+ {2}/);
  }
  const seed = find(ps, 'seed');
  t.is(seed.length, 1);
  t.deepEqual([seed[0]!.line, seed[0]!.col], [2, 1]);
  t.regex(seed[0]!.message, /got -3/);

  const backend = find(ps, 'backend');
  t.is(backend.length, 1);
  t.is(backend[0]!.line, 3);

  const type = find(ps, 'sources.numbers.type');
  t.is(type.length, 1);
  t.regex(type[0]!.message, /unknown source type 'test-cont'; did you mean 'test-count'\?/);
  t.deepEqual([type[0]!.line, type[0]!.col], [7, 5]);

  const n = find(ps, 'sources.more.n');
  t.is(n.length, 1);
  t.regex(n[0]!.message, /got "lots"/);
  t.is(n[0]!.line, 10);

  const cycle = ps.filter((p) => p.message.startsWith('cycle:'));
  t.is(cycle.length, 1);
  t.regex(cycle[0]!.message, /cycle: a -> b -> a|cycle: b -> a -> b/);

  const unknownInput = find(ps, 'transforms.c.inputs.0');
  t.is(unknownInput.length, 1);
  t.regex(unknownInput[0]!.message, /unknown input 'nowhere'/);
  t.is(unknownInput[0]!.line, 22);

  const colour = find(ps, 'transforms.c.colour');
  t.is(colour.length, 1);
  t.regex(colour[0]!.message, /unknown option 'colour'/);
  t.deepEqual([colour[0]!.line, colour[0]!.col], [24, 5]);

  const after = find(ps, 'sinks.all.after.0');
  t.is(after.length, 1);
  t.regex(after[0]!.message, /'ghost' is not a sink/);

  // Nothing reported twice.
  const keys = ps.map((p) => `${p.path.join('.')}|${p.message}`);
  t.is(new Set(keys).size, keys.length);
  t.is(ps.length, 8);
});

test('YAML syntax errors are reported with their position', async (t) => {
  const ps = await problems('x.yaml', 'sources:\n  a: [1, 2\n');
  t.is(ps.length, 1);
  t.truthy(ps[0]!.line);
});

test('duplicate keys and duplicate ids across sections', async (t) => {
  const ps = await problems(
    'x.yaml',
    `sources:
  a: { type: test-count }
transforms:
  a: { type: test-throw-at, inputs: [a], at: 1 }
sinks:
  s: { type: test-collect, inputs: [a] }
`,
  );
  const dup = ps.filter((p) => /duplicate id 'a'/.test(p.message));
  t.is(dup.length, 1);
  t.is(dup[0]!.line, 4);
});

test('missing inputs, a sink used as input, and no sinks', async (t) => {
  let ps = await problems(
    'x.yaml',
    `sources:
  a: { type: test-count }
transforms:
  t: { type: test-throw-at, at: 1 }
sinks:
  s: { type: test-collect, inputs: [a] }
  s2: { type: test-collect, inputs: [s] }
`,
  );
  t.regex(find(ps, 'transforms.t.inputs')[0]!.message, /expected a list of stage ids/);
  t.regex(find(ps, 'sinks.s2.inputs.0')[0]!.message, /is a sink and has no output/);
  ps = await problems('x.yaml', `sources:\n  a: { type: test-count }\n`);
  t.regex(find(ps, 'sinks')[0]!.message, /no sinks/);
});

test('a sink that may take no input may leave inputs out; an empty list names the arity', async (t) => {
  // evaluate scores an earlier run's NPZ when it has no input (arity 0 to 1).
  const text = `sources:
  a: { type: simulate, N: 16, object: { kind: grf, size: 40 } }
sinks:
  w: { type: write-npz, inputs: [a], path: truth.npz }
  e: { type: evaluate, after: [w], reconstruction: earlier.npz, truth: truth.npz }
`;
  const plan = await loadPlan(path.join(dir, 'x.yaml'), { registry: builtinRegistry(), text });
  t.deepEqual(plan.sinks.find((s) => s.id === 'e')?.inputs, []);
  const ps = await problems('x.yaml', `sources:\n  a: { type: test-count }\nsinks:\n  c: { type: test-collect, inputs: [] }\n`);
  t.regex(find(ps, 'sinks.c.inputs')[0]!.message, /'test-collect' takes 1 to 4 inputs, got 0/);
});

test('a transform type in the sources section is named as such', async (t) => {
  const ps = await problems('x.yaml', `sources:\n  a: { type: test-throw-at }\nsinks:\n  s: { type: test-collect, inputs: [a] }\n`);
  t.regex(find(ps, 'sources.a.type')[0]!.message, /'test-throw-at' is a transform, not a source/);
});

test('--set overrides are applied before validation and checked like the file', async (t) => {
  const text = `sources:\n  a: { type: test-count, n: 3 }\nsinks:\n  s: { type: test-collect, inputs: [a] }\n`;
  const plan = await loadPlan(path.join(dir, 'x.yaml'), { registry: registry(), text, sets: ['sources.a.n=9', 'seed=5'] });
  t.is((plan.streams[0]!.options as { n: number }).n, 9);
  t.is(plan.settings.seed, 5);
  const ps = await problems('x.yaml', text, ['sources.a.n=many']);
  t.is(t_exitCode, 2);
  t.regex(find(ps, 'sources.a.n')[0]!.message, /got "many"/);
});

test('defaults are applied to options and settings', async (t) => {
  const plan = await loadPlan(path.join(dir, 'x.yaml'), {
    registry: registry(),
    text: `sources:\n  a: { type: test-count }\nsinks:\n  s: { type: test-collect, inputs: [a] }\n`,
  });
  t.is((plan.streams[0]!.options as { n: number }).n, 10);
  t.is(plan.settings.backend, 'auto');
  t.is(plan.settings.seed, 0);
});

test('JSON pipeline files validate with positions too', async (t) => {
  const ps = await problems(
    'x.json',
    '{\n  "sources": {\n    "a": { "type": "test-count", "n": "x" }\n  },\n  "sinks": { "s": { "type": "test-collect", "inputs": ["a"] } }\n}\n',
  );
  t.is(ps.length, 1);
  t.is(ps[0]!.line, 3);
});

test('every built-in stage declares the record kinds it accepts and emits', (t) => {
  for (const def of builtinComponents) {
    if (def.kind !== 'source') t.true((def.accepts?.length ?? 0) > 0, `${def.type} declares accepts`);
    if (def.kind !== 'sink') t.not(def.emits, undefined, `${def.type} declares emits`);
  }
});
