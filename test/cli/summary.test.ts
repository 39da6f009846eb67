// The closing summary of `ptychoflow run`: key results as short key=value
// fields, curves left to summary.json, files listed relative to the output.
import test from 'ava';
import { humanSummary, keyResults } from '../../src/cli/summary.js';
import type { RunSummary } from '../../src/pipeline/run.js';

test('keyResults keeps scalars at a readable precision and collects file names, not arrays', (t) => {
  const r = keyResults({
    amplitude: { ssim: 0.301234567, frc: [1, 0.9, 0.8, 0.7, 0.6] },
    epochs: 30,
    loss: 0.000012345,
    files: ['amplitude.png', 'metrics.json'],
    note: 'long text',
  });
  t.deepEqual(r.fields, ['amplitude.ssim=0.3012', 'epochs=30', 'loss=1.23e-5']);
  t.deepEqual(r.files, ['amplitude.png', 'metrics.json']);
});

test('humanSummary: one line per sink with its time, no raw JSON, where the full summary is; the stage table with -v', (t) => {
  const s: RunSummary = {
    pipeline: 'p.yaml',
    backend: 'wasm',
    seed: 1,
    output: '/tmp/out',
    stages: [
      { id: 'scan', type: 'simulate', records_in: 0, records_out: 100, errors: 0, ms: 400 },
      { id: 'batches', type: 'batch', records_in: 100, records_out: 10, errors: 0, ms: 100 },
      { id: 'train', type: 'train', records_in: 10, records_out: 0, errors: 0, ms: 1500 },
    ],
    sinks: { train: { epochs: 3, final_loss: 0.123456, checkpoint: '/tmp/out/checkpoint', history: [1, 2, 3, 4, 5] } },
    tensors: { peak_count: 5, peak_bytes: 1 << 20, leaked: 0, by_stage: {} },
    peak_rss_bytes: 1 << 28,
    wall_ms: 2000,
    status: 'ok',
  };
  const text = humanSummary(s);
  t.regex(text, /^ {2}train +1\.5 s {2}final_loss=0\.1235 epochs=3$/m, 'losses before extents');
  t.regex(text, /files: checkpoint$/m);
  t.regex(text, /^ {2}2 source and transform stages: 0 errors, 0\.5 s \(per stage: -v, or summary\.json\)$/m);
  t.notRegex(text, /simulate/, 'no per-stage table by default');
  t.notRegex(text, /[{[]/);
  t.regex(text, /full summary: summary\.json/);
  t.true(text.split('\n').length <= 6, text);
  const verbose = humanSummary(s, 100, true);
  t.regex(verbose, /^ {2}scan +simulate +0 +100 +0 +0\.4$/m);
  t.regex(verbose, /^ {2}train +train +10 +0 +0 +1\.5$/m);
  // A stage with errors is always listed.
  const failing = humanSummary({ ...s, stages: s.stages.map((st) => (st.id === 'batches' ? { ...st, errors: 2 } : st)) });
  t.regex(failing, /^ {2}batches +batch +100 +10 +2 +0\.1$/m);
  t.notRegex(failing, /^ {2}scan +simulate/m);
  // Many results: the first six, and how many more summary.json holds.
  const many = humanSummary({ ...s, sinks: { train: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, i])) } });
  t.regex(many, /k5=5 \(\+3 in summary\.json\)/);
  t.notRegex(many, /k6=/);
});

test("humanSummary: a stage's info (a live source's counts) as key=value fields", (t) => {
  const s: RunSummary = {
    pipeline: 'p.yaml',
    backend: 'wasm',
    seed: 1,
    output: '/tmp/out',
    stages: [{ id: 'scan', type: 'zmq', records_in: 0, records_out: 115, errors: 0, ms: 100, info: { received: 115, dropped: 6, out_of_order: 82 } }],
    sinks: {},
    tensors: { peak_count: 0, peak_bytes: 0, leaked: 0, by_stage: {} },
    peak_rss_bytes: 1 << 28,
    wall_ms: 2000,
    status: 'ok',
  };
  t.regex(humanSummary(s), /^ {2}scan {2}received=115 dropped=6 out_of_order=82$/m);
});
