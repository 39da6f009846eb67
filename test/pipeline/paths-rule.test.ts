// The one rule for paths in pipeline files (relative to the file), the
// default output (runs/<file name> in the working directory, which the
// shipped pipelines use), and records that name their files relative to the
// output directory.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { relativeInside } from '../../src/io/paths.js';
import { outputDir } from '../../src/pipeline/load-plan.js';
import type { PipelineSettings } from '../../src/pipeline/plan.js';

const root = path.resolve(import.meta.dirname, '../..');
const settings = (output?: string): PipelineSettings => ({ ...(output !== undefined ? { output } : {}) }) as PipelineSettings;

test('output: the command line wins, then the file (relative to it), then runs/<file name> in the working directory', (t) => {
  const plan = { file: '/data/exp/scan-7.yaml', baseDir: '/data/exp' };
  t.is(outputDir({ ...plan, settings: settings('out/a') }, 'elsewhere'), path.resolve('elsewhere'));
  t.is(outputDir({ ...plan, settings: settings('out/a') }), '/data/exp/out/a');
  t.is(outputDir({ ...plan, settings: settings('../runs/a') }), '/data/runs/a');
  t.is(outputDir({ ...plan, settings: settings() }), path.resolve('runs', 'scan-7'));
  t.is(outputDir({ file: 'p.json', baseDir: '.', settings: settings() }), path.resolve('runs', 'p'));
});

test('the shipped pipelines set no output, so they write into runs/<name> of the project they run in', (t) => {
  const files = readdirSync(path.join(root, 'pipelines')).filter((f) => f.endsWith('.yaml'));
  t.true(files.includes('demo.yaml'));
  for (const f of files) {
    const doc = parse(readFileSync(path.join(root, 'pipelines', f), 'utf8')) as Record<string, unknown>;
    t.false('output' in doc, `${f} sets output`);
    t.is(
      outputDir({ file: path.join(root, 'pipelines', f), baseDir: path.join(root, 'pipelines'), settings: settings() }),
      path.resolve('runs', f.slice(0, -'.yaml'.length)),
    );
  }
});

test('records name files inside the output directory relative to it, and leave other paths alone', (t) => {
  const out = path.resolve('/runs/demo');
  const v = {
    npz: '/runs/demo/reconstruction.npz',
    list: ['/runs/demo/a/b.png', 'x.png'],
    dir: '/runs/demo',
    other: '/data/scan.npz',
    sibling: '/runs/demo2/x',
    n: 3,
    nested: { checkpoint: '/runs/demo/checkpoint' },
  };
  t.deepEqual(relativeInside(v, out), {
    npz: 'reconstruction.npz',
    list: [path.join('a', 'b.png'), 'x.png'],
    dir: '.',
    other: '/data/scan.npz',
    sibling: '/runs/demo2/x',
    n: 3,
    nested: { checkpoint: 'checkpoint' },
  });
});
