// The compare sink: one table from several metrics files (and engine
// histories), as JSON and Markdown; a missing file is a typed error.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import compare from '../../src/sinks/compare.js';
import { timeToSsim } from '../../src/sinks/shared/pass-score.js';
import { runSink, testContext } from '../../src/testing/index.js';

test('tabulates scores, passes and seconds in the order given; a missing file names itself', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-compare-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const metrics = (a: number, p: number, frc: number | null) =>
    JSON.stringify({ amplitude: { ssim: a, psnr: 30 }, phase: { ssim: p, psnr: 31.5 }, frc: { frc_half: frc } });
  await writeFile(path.join(dir, 'a.json'), metrics(0.9, 0.8, 3.25));
  await writeFile(path.join(dir, 'b.json'), metrics(0.99, 0.995, null));
  await writeFile(
    path.join(dir, 'b_history.json'),
    JSON.stringify([
      { epoch: 1, seconds: 1.5 },
      { epoch: 2, seconds: 2 },
    ]),
  );
  const ctx = testContext({ id: 'compare', outDir: dir });
  const r = (await runSink(compare, { methods: { network: { metrics: 'a.json' }, epie: { metrics: 'b.json', history: 'b_history.json' } } }, [], ctx)) as {
    rows: { method: string; passes: number | null; seconds: number | null }[];
  };
  t.deepEqual(
    r.rows.map((x) => [x.method, x.passes, x.seconds]),
    [
      ['network', null, null],
      ['epie', 2, 3.5],
    ],
  );
  const md = await readFile(path.join(dir, 'comparison.md'), 'utf8');
  t.regex(md, /\| network \| 0\.9000 \| 0\.8000 \| 30\.00 \| 31\.50 \| 3\.3 \| – \| – \|/);
  t.regex(md, /\| epie \| 0\.9900 \| 0\.9950 \| 30\.00 \| 31\.50 \| < 2 \| 2 \| 3\.5 \|/);
  t.is((JSON.parse(await readFile(path.join(dir, 'comparison.json'), 'utf8')) as unknown[]).length, 2);
  await t.throwsAsync(runSink(compare, { methods: { x: { metrics: 'nope.json' } } }, [], ctx), { name: 'DataError', message: /nope\.json.*file not found/ });
});

test('time to SSIM: the engine seconds until a scored pass first reaches 0.95 and 0.99, in the table', async (t) => {
  const history = [
    { epoch: 1, seconds: 2 },
    { epoch: 2, seconds: 2, amplitude_ssim: 0.9, phase_ssim: 0.96 },
    { epoch: 3, seconds: 3 },
    { epoch: 4, seconds: 3, amplitude_ssim: 0.991, phase_ssim: 0.97 },
  ];
  t.deepEqual(timeToSsim(history), {
    amplitude: { '0.95': { pass: 4, seconds: 10 }, '0.99': { pass: 4, seconds: 10 } },
    phase: { '0.95': { pass: 2, seconds: 4 }, '0.99': null },
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-compare-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'm.json'), JSON.stringify({ amplitude: { ssim: 0.991 }, phase: { ssim: 0.97 }, frc: {} }));
  await writeFile(path.join(dir, 'h.json'), JSON.stringify(history));
  await runSink(
    compare,
    { methods: { epie: { metrics: 'm.json', history: 'h.json' }, flat: { metrics: 'm.json' } } },
    [],
    testContext({ id: 'compare', outDir: dir }),
  );
  const md = await readFile(path.join(dir, 'comparison.md'), 'utf8');
  t.true(md.includes('| 4 | 10.0 | 10.0 / 4.0 | 10.0 / – |'), md);
  t.true(md.includes('| – | – | – | – |'), md);
});
