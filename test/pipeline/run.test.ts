// Engine tests with small test-only stages: record counts, early stop,
// abort, a throwing stage, re-opening streams, ordering of sinks, and the
// tensor ledger's leak report and budget.
import path from 'node:path';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import test from 'ava';
import * as tf from '../../src/tf.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { runPlan, type RunOptions } from '../../src/pipeline/run.js';
import { Registry } from '../../src/pipeline/registry.js';
import { AbortError, StageError } from '../../src/errors.js';
import writeErrors from '../../src/sinks/write-errors.js';
import { collectSink, countSource, events, leakedTensors, leakySink, routeOdd, throwAt, waitSink } from '../fixtures/pipelines/stages.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/pipelines');
const outRoot = path.resolve(import.meta.dirname, '../../out/test-run');

function registry(): Registry {
  const r = new Registry();
  for (const d of [countSource, throwAt, collectSink, leakySink, waitSink, routeOdd]) r.add(d, 'test');
  r.add(writeErrors);
  return r;
}

const cpu: NonNullable<RunOptions['selectBackend']> = async () => {
  await tf.setBackend('cpu');
  return { name: 'cpu' };
};

async function run(yaml: string, opts: RunOptions = {}, name = 'p') {
  const outDir = path.join(outRoot, name);
  rmSync(outDir, { recursive: true, force: true });
  const plan = await loadPlan(path.join(dir, `${name}.yaml`), { registry: registry(), text: yaml });
  return runPlan(plan, { selectBackend: cpu, outDir, ...opts });
}

test.serial('counts records in and out per stage and returns sink results', async (t) => {
  const { summary, error } = await run(`
seed: 3
sources: { nums: { type: test-count, n: 25 } }
sinks: { all: { type: test-collect, inputs: [nums] } }
`);
  t.is(error, undefined);
  t.is(summary.status, 'ok');
  t.is(summary.backend, 'cpu');
  t.is(summary.seed, 3);
  const nums = summary.stages.find((s) => s.id === 'nums')!;
  const all = summary.stages.find((s) => s.id === 'all')!;
  t.is(nums.records_out, 25);
  t.is(all.records_in, 25);
  t.is((summary.sinks.all as { count: number }).count, 25);
  t.is(summary.tensors.leaked, 0);
  t.true(summary.peak_rss_bytes > 0);
});

test.serial('empty source and one-record source', async (t) => {
  for (const n of [0, 1]) {
    const { summary } = await run(`
sources: { nums: { type: test-count, n: ${n} } }
sinks: { all: { type: test-collect, inputs: [nums] } }
`);
    t.is(summary.status, 'ok');
    t.is((summary.sinks.all as { count: number }).count, n);
  }
});

test.serial('a consumer that stops early makes the source run its finally; streams are closed', async (t) => {
  events.length = 0;
  const { summary } = await run(`
sources: { nums: { type: test-count, n: 1000 } }
sinks: { few: { type: test-collect, inputs: [nums], stop_after: 3 } }
`);
  t.is((summary.sinks.few as { count: number }).count, 3);
  t.is(summary.stages.find((s) => s.id === 'nums')!.records_out, 3);
  t.deepEqual(events, ['nums:finally', 'few:done', 'nums:close']);
});

test.serial('a throwing stage fails the run with an error naming it, and every stage is cleaned up', async (t) => {
  events.length = 0;
  const { summary, error } = await run(`
sources: { nums: { type: test-count, n: 50 } }
transforms: { bad: { type: test-throw-at, inputs: [nums], at: 4 } }
sinks: { all: { type: test-collect, inputs: [bad] } }
`);
  t.true(error instanceof StageError);
  t.is((error as StageError).stage, 'bad');
  t.regex((error as Error).message, /stage 'bad'.*boom at 4/);
  t.is(summary.status, 'failed');
  t.is(summary.error?.stage, 'bad');
  t.true(events.includes('nums:finally'));
  t.true(events.includes('nums:close'));
});

test.serial('aborting from outside stops the run cleanly as aborted', async (t) => {
  events.length = 0;
  const controller = new AbortController();
  setTimeout(() => controller.abort(new AbortError('interrupted by test')), 150);
  const { summary, error } = await run(
    `
sources: { nums: { type: test-count, n: 100000, delay_ms: 1 } }
sinks: { slow: { type: test-wait, inputs: [nums] } }
`,
    { signal: controller.signal },
  );
  t.true(error instanceof AbortError);
  t.is(summary.status, 'aborted');
  t.true(events.includes('slow:finally'));
  t.true(events.includes('nums:finally'));
  t.true(existsSync(path.join(outRoot, 'p', 'cleanup.txt')));
});

test.serial('re-opening a stream gives the same records for the same seed, other records for another seed', async (t) => {
  const twice = `
seed: 11
sources: { nums: { type: test-count, n: 5 } }
sinks: { both: { type: test-collect, inputs: [nums, nums] } }
`;
  const a = await run(twice);
  const r = a.summary.sinks.both as { count: number; sum: number };
  t.is(r.count, 10);
  const once = await run(twice.replace('inputs: [nums, nums]', 'inputs: [nums]'));
  t.is((once.summary.sinks.both as { sum: number }).sum * 2, r.sum);
  const other = await run(twice.replace('seed: 11', 'seed: 12').replace('inputs: [nums, nums]', 'inputs: [nums]'));
  t.not((other.summary.sinks.both as { sum: number }).sum, (once.summary.sinks.both as { sum: number }).sum);
});

test.serial('sinks run in dependency order (after)', async (t) => {
  events.length = 0;
  await run(`
sources: { nums: { type: test-count, n: 3 } }
sinks:
  second: { type: test-collect, inputs: [nums], after: [first] }
  first: { type: test-collect, inputs: [nums] }
`);
  t.deepEqual(
    events.filter((e) => e.endsWith(':done')),
    ['first:done', 'second:done'],
  );
});

test.serial('the ledger reports a stage that forgets to dispose', async (t) => {
  const { summary } = await run(`
sources: { nums: { type: test-count, n: 3 } }
sinks: { leaky: { type: test-leaky, inputs: [nums], leak: 2 } }
`);
  t.is(summary.tensors.leaked, 2);
  t.true(summary.tensors.peak_count >= 2);
  // Clean up what the test stage leaked so later tests start from zero.
  tf.dispose(leakedTensors.splice(0));
});

test.serial('memory.tensor_bytes is enforced and the error names the stage', async (t) => {
  const { error } = await run(`
memory: { tensor_bytes: 16 }
sources: { nums: { type: test-count, n: 3 } }
sinks: { leaky: { type: test-leaky, inputs: [nums], leak: 2 } }
`);
  tf.dispose(leakedTensors.splice(0));
  t.truthy(error);
  t.regex((error as Error).message, /stage 'leaky'.*memory\.tensor_bytes/);
});

test.serial('a named output that does not exist is an error naming the stage', async (t) => {
  const { error } = await run(`
sources: { nums: { type: test-count, n: 3 } }
sinks: { all: { type: test-collect, inputs: [nums.validation] } }
`);
  t.regex((error as Error).message, /no output 'validation'/);
});

test.serial('the pipeline file on disk runs and writes into its output directory', async (t) => {
  const plan = await loadPlan(path.join(dir, 'ok.yaml'), { registry: new Registry() });
  const { summary } = await runPlan(plan, { selectBackend: cpu });
  t.is(summary.status, 'ok');
  t.is((summary.sinks.all as { count: number }).count, 20);
  t.true(existsSync(summary.output));
  t.notThrows(() => readFileSync(path.join(dir, 'ok.yaml'), 'utf8'));
});

test.serial('on_error: route counts bad records and write-errors writes them as JSON lines', async (t) => {
  const { summary, error } = await run(`
sources: { nums: { type: test-count, n: 40 } }
transforms: { even: { type: test-route-odd, inputs: [nums], on_error: route } }
sinks:
  all: { type: test-collect, inputs: [even] }
  bad: { type: write-errors, inputs: [even.errors], after: [all], path: bad.jsonl }
`);
  t.is(error, undefined);
  const even = summary.stages.find((s) => s.id === 'even')!;
  const good = (summary.sinks.all as { count: number }).count;
  t.true(even.errors > 0);
  t.is(good + even.errors, 40);
  const bad = summary.sinks.bad as { path: string; count: number };
  t.is(bad.count, even.errors);
  const lines = readFileSync(bad.path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { stage: string; code: string });
  t.is(lines.length, even.errors);
  t.deepEqual(lines[0]!.stage, 'even');
  t.deepEqual(lines[0]!.code, 'ODD');
});

test.serial('on_error: fail stops the run with a DataError naming the stage', async (t) => {
  const { error, summary } = await run(`
sources: { nums: { type: test-count, n: 40 } }
transforms: { even: { type: test-route-odd, inputs: [nums] } }
sinks: { all: { type: test-collect, inputs: [even] } }
`);
  t.truthy(error);
  t.is(summary.error?.stage, 'even');
  t.is(summary.error?.code, 'ODD');
});

test.serial("normalize's measuring pass over an npz source takes the borrowed path and is counted like any pass", async (t) => {
  const { default: npzSource } = await import('../../src/sources/npz.js');
  const { default: normalize } = await import('../../src/transforms/normalize.js');
  const reg = registry();
  reg.add(npzSource);
  reg.add(normalize);
  const file = path.resolve(import.meta.dirname, '../fixtures/npz/canonical_stored.npz');
  let borrowedOpens = 0;
  const real = npzSource.create.bind(npzSource);
  // Spy on the source's openBorrowed (the engine wraps what create returns).
  const spy = async (o: Parameters<typeof real>[0], c: Parameters<typeof real>[1]) => {
    const s = await real(o, c);
    const inner = s.openBorrowed!.bind(s);
    return {
      ...s,
      openBorrowed: (signal: AbortSignal) => {
        borrowedOpens++;
        return inner(signal);
      },
    };
  };
  reg.add({ ...npzSource, type: 'npz-spy', create: spy }, 'test');
  const yaml = `
sources: { scan: { type: npz-spy, path: ${JSON.stringify(file)} } }
transforms: { norm: { type: normalize, inputs: [scan] } }
sinks: { all: { type: test-collect, inputs: [norm] } }
`;
  const outDir = path.join(outRoot, 'borrowed');
  rmSync(outDir, { recursive: true, force: true });
  const plan = await loadPlan(path.join(dir, 'borrowed.yaml'), { registry: reg, text: yaml });
  const { summary, error } = await runPlan(plan, { selectBackend: cpu, outDir });
  t.is(error, undefined);
  t.is(borrowedOpens, 1, 'the measuring pass used openBorrowed');
  t.is(summary.stages.find((s) => s.id === 'scan')!.records_out, 72, '36 patterns measured + 36 streamed');
  t.is((summary.sinks.all as { count: number }).count, 36);
});
