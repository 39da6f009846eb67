// "Did you mean" for option names (top level, stage options, nested blocks),
// enum values, and `--set` overrides, which are reported against the
// override rather than a line of the file it never had.
import path from 'node:path';
import test from 'ava';
import { builtinRegistry } from '../../src/components.js';
import { PipelineFileError } from '../../src/errors.js';
import { loadPlan } from '../../src/pipeline/load-plan.js';
import { problemsOf, type Problem } from '../../src/pipeline/problems.js';

// The file is only named (its text is given), so problems carry a file name.
const file = path.resolve(import.meta.dirname, '../fixtures/pipelines/inline.yaml');
const base = `seed: 1
sources:
  scan: { type: simulate, N: 16 }
transforms:
  groups: { type: group, inputs: [scan] }
  batches: { type: batch, inputs: [groups] }
sinks:
  out:
    type: write-npz
    inputs: [scan]
`;

async function problems(text: string, sets: string[] = []): Promise<{ problems: Problem[]; message: string }> {
  try {
    await loadPlan(file, { registry: builtinRegistry(), text, sets });
  } catch (e) {
    if (!(e instanceof PipelineFileError)) throw e;
    return { problems: problemsOf(e), message: e.message };
  }
  return { problems: [], message: '' };
}

const at = (ps: Problem[], key: string): Problem => {
  const p = ps.find((x) => x.path.join('.') === key);
  if (p === undefined) throw new Error(`no problem at ${key}: ${ps.map((x) => x.path.join('.')).join(', ')}`);
  return p;
};

test('an unknown option suggests the option meant, in settings, stage options and nested blocks', async (t) => {
  const text = base
    .replace('seed: 1', 'sed: 1')
    .replace('{ type: batch, inputs: [groups] }', '{ type: batch, inputs: [groups], batch_sise: 8 }')
    .replace('N: 16 }', 'N: 16, scan: { pattern: raster, stpe: 4 } }');
  const { problems: ps } = await problems(text);
  t.is(at(ps, 'sed').message, "unknown option 'sed'; did you mean 'seed'?");
  t.is(at(ps, 'transforms.batches.batch_sise').message, "unknown option 'batch_sise'; did you mean 'batch_size'?");
  t.is(at(ps, 'sources.scan.scan.stpe').message, "unknown option 'stpe'; did you mean 'step'?");
  t.is(at(ps, 'sed').line, 1);
});

test('an unknown option far from every known one gets no suggestion', async (t) => {
  const { problems: ps } = await problems(base.replace('inputs: [groups] }', 'inputs: [groups], zzzzzzzz: 1 }'));
  t.is(at(ps, 'transforms.batches.zzzzzzzz').message, "unknown option 'zzzzzzzz'");
});

test('a misspelt enum value suggests the value meant', async (t) => {
  const text = base.replace('N: 16 }', 'N: 16, scan: { pattern: rastr } }');
  const { problems: ps } = await problems(text);
  t.regex(at(ps, 'sources.scan.scan.pattern').message, /got "rastr"; did you mean 'raster'\?$/);
});

test('--set problems name the override, not a line of the file', async (t) => {
  const { problems: ps, message } = await problems(base, ['transforms.batches.batch_sise=8', 'sources.scan.scan.pattern=sprial', 'seed=2']);
  const key = at(ps, 'transforms.batches.batch_sise');
  t.is(key.set, 'transforms.batches.batch_sise=8');
  t.is(key.line, undefined);
  t.regex(message, /^--set transforms\.batches\.batch_sise=8 {2}transforms\.batches\.batch_sise: unknown option 'batch_sise'; did you mean 'batch_size'\?$/m);
  const value = at(ps, 'sources.scan.scan.pattern');
  t.is(value.set, 'sources.scan.scan.pattern=sprial');
  t.regex(value.message, /did you mean 'spiral'\?/);
  t.is(ps.length, 2, 'the valid override is no problem');
  // The same key in the file keeps its line.
  const inFile = await problems(base.replace('inputs: [groups] }', 'inputs: [groups], batch_sise: 8 }'));
  t.is(at(inFile.problems, 'transforms.batches.batch_sise').line, 6);
  t.is(at(inFile.problems, 'transforms.batches.batch_sise').set, undefined);
});
