// A run records itself: pipeline.yaml (overrides applied, inputs resolved)
// that validates and runs again, run.json (version, backend, Node, machine)
// and summary.json with paths relative to the output directory.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { loadPlan, runPlan } from '../../src/pipeline/index.js';
import { Registry } from '../../src/pipeline/registry.js';
import { ptychoflowVersion } from '../../src/util/version.js';

const fixture = path.resolve(import.meta.dirname, '../fixtures/pipelines/ok.yaml');

test('the output directory gets pipeline.yaml, run.json and summary.json', async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), 'pf-record-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const plan = await loadPlan(fixture, { registry: new Registry(), sets: ['sources.numbers.n=9'] });
  const { summary, error } = await runPlan(plan, { outDir: out });
  t.is(error, undefined);

  const doc = parse(readFileSync(path.join(out, 'pipeline.yaml'), 'utf8')) as {
    seed: number;
    backend: string;
    output: string;
    plugins: string[];
    sources: { numbers: { type: string; n: number } };
  };
  t.is(doc.sources.numbers.n, 9, 'the --set override is what ran');
  t.is(doc.sources.numbers.type, 'test-count');
  t.is(doc.seed, 7);
  t.is(doc.backend, 'cpu');
  t.is(doc.output, '.');
  t.true(path.isAbsolute(doc.plugins[0]!), 'the plugin path is resolved');

  const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
  t.is(run.ptychoflow, ptychoflowVersion());
  t.is(run.node, process.versions.node);
  t.is(run.backend, 'cpu');
  t.is(typeof (run.machine as { cpus: number }).cpus, 'number');

  const saved = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { output: string; pipeline: string; status: string; sinks: unknown };
  t.is(saved.output, '.');
  t.false(path.isAbsolute(saved.pipeline));
  t.is(path.resolve(out, saved.pipeline), fixture);
  t.deepEqual(saved.sinks, JSON.parse(JSON.stringify(summary.sinks)));

  // The recorded plan runs again from where it lies, into that same directory.
  const again = await loadPlan(path.join(out, 'pipeline.yaml'), { registry: new Registry() });
  const second = await runPlan(again, {});
  t.is(second.error, undefined);
  t.is(second.summary.output, out);
  t.deepEqual(second.summary.sinks, summary.sinks);
});
