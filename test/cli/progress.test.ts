// The run-wide progress display: the ETA over all sinks (budgets and a
// previous run's times count), one line per stage on a TTY, no line per
// pass, numbers with units.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createProgressRenderer, formatProgress } from '../../src/cli/progress.js';
import { outlineOf, previousSinkSeconds, RunClock, sinkFraction } from '../../src/cli/run-clock.js';
import type { ProgressEvent } from '../../src/pipeline/types.js';
import { duration, rate, sig } from '../../src/util/format.js';

function fakeClock(): { now: () => number; advance: (s: number) => void } {
  let t = 0;
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

const epoch = (index: number, done: number, total: number, finished = false): ProgressEvent => ({
  stage: 'train',
  label: 'epoch',
  pass: { index, of: 10 },
  done,
  total,
  unit: 'batches',
  info: { loss: 0.012345, lr: 1e-3, groups_per_s: 310.4 },
  ...(finished ? { finished } : {}),
});

test('the ETA is the running sink extrapolated plus the budgets of the pending ones', (t) => {
  const c = fakeClock();
  const clock = new RunClock(
    outlineOf([
      { id: 'train', options: { epochs: 10 } },
      { id: 'infer', options: {} },
      { id: 'refine', options: { epochs: 100, max_minutes: 1 } },
    ]),
    c.now,
  );
  clock.start('train');
  c.advance(20);
  clock.observe(epoch(2, 19, 19, true));
  const eta = clock.eta()!;
  t.true(eta.complete);
  t.is(Math.round(eta.seconds), 80 + 60);
  t.is(Math.round(eta.fraction * 100), Math.round((20 / 160) * 100));
  // Training ends early (early stop): its remainder is gone at once.
  clock.end('train');
  t.is(Math.round(clock.eta()!.seconds), 60);
  // The budget caps the running sink: 50 s in, 10 s are left whatever the passes say.
  clock.start('refine');
  c.advance(50);
  clock.observe({ stage: 'refine', label: 'pass', pass: { index: 2, of: 100 }, done: 5, total: 10 });
  t.is(Math.round(clock.eta()!.seconds), 10);
});

test('a pending multi-pass sink without budget or history makes the ETA a lower bound; a previous run fills it in', (t) => {
  const c = fakeClock();
  const sinks = [
    { id: 'train', options: { epochs: 4 } },
    { id: 'refine', options: { epochs: 100 } },
  ];
  const clock = new RunClock(outlineOf(sinks), c.now);
  clock.start('train');
  c.advance(10);
  clock.observe(epoch(1, 5, 10));
  t.false(clock.eta()!.complete);
  t.regex(formatProgress(epoch(1, 5, 10), clock), /run ETA ≥/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pf-prev-'));
  try {
    writeFileSync(
      path.join(dir, 'summary.json'),
      JSON.stringify({
        status: 'ok',
        stages: [
          { id: 'refine', ms: 9000 },
          { id: 'train', ms: 1000 },
        ],
        sinks: { refine: { seconds: 30, passes: 50 }, train: null },
      }),
    );
    const prev = previousSinkSeconds(dir);
    t.deepEqual(prev, { refine: { seconds: 30, passes: 50 }, train: { seconds: 1 } });
    const again = new RunClock(outlineOf(sinks, prev), c.now);
    again.start('train');
    c.advance(10);
    again.observe({ ...epoch(1, 5, 10), pass: { index: 1, of: 4 } });
    const eta = again.eta()!;
    t.true(eta.complete);
    t.is(Math.round(eta.seconds), 70 + 60, 'refine: 100 passes now, 50 in 30 s before');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a multi-pass sink is measured by its passes only; a single-pass one by its counts', (t) => {
  t.is(sinkFraction({ stage: 'refine', label: 'fit scale', done: 9, total: 10 }, true), undefined);
  t.is(sinkFraction({ stage: 'refine', label: 'pass', pass: { index: 3, of: 4 }, done: 5, total: 10 }, true), 2.5 / 4);
  t.is(sinkFraction({ stage: 'infer', label: 'stitch', done: 5, total: 10 }, false), 0.5);
});

test('the line names the sink, its epoch, a bar and fields with units', (t) => {
  const c = fakeClock();
  const clock = new RunClock(
    outlineOf([
      { id: 'train', options: { epochs: 10, max_minutes: 5 } },
      { id: 'infer', options: {} },
    ]),
    c.now,
  );
  clock.start('train');
  c.advance(30);
  t.regex(formatProgress(epoch(3, 5, 10), clock, 10), /run 10% ETA 4m30s$/, 'before any pass is seen: the rest of the budget');
  clock.observe(epoch(3, 5, 10));
  const line = formatProgress(epoch(3, 5, 10), clock, 10);
  t.is(line, 'train (1/2) epoch 3/10 [#####.....] 5/10 batches · loss 0.01235 · lr 1.0e-3 · 310 groups/s · run 25% ETA 1m30s');
});

function sinkStream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = { isTTY: tty, columns: 200, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

test('without a TTY: periodic lines, none for the end of a pass, one for the end of a single-pass task', (t) => {
  const { stream, text } = sinkStream(false);
  const render = createProgressRenderer(stream, { intervalMs: 60_000 });
  render(epoch(1, 1, 10));
  for (let i = 2; i <= 10; i++) render(epoch(1, i, 10, i === 10));
  render(epoch(2, 1, 10));
  t.is(text().split('\n').filter(Boolean).length, 1, 'the first event only: the rest fall within the interval');
  render({ stage: 'infer', label: 'stitch', done: 10, total: 10, unit: 'batches', finished: true });
  t.regex(text().split('\n').filter(Boolean)[1]!, /^infer stitch \[#+\] 10\/10 batches$/);
});

test('on a TTY: one redrawn line; a pass ends without a newline, a single-pass task keeps its last line', (t) => {
  const { stream, text } = sinkStream(true);
  const render = createProgressRenderer(stream);
  for (let i = 1; i <= 10; i++) render(epoch(1, i, 10, i === 10));
  render(epoch(2, 1, 10));
  t.false(text().includes('\n'));
  t.is(text().split('\r\u001b[2K').filter(Boolean).length, 11);
  render({ stage: 'scan', label: 'simulate', done: 4, total: 4, unit: 'patterns', finished: true });
  t.true(text().endsWith('4/4 patterns\n'));
  render.clear();
  t.true(text().endsWith('4/4 patterns\n'), 'nothing live to clear');
});

test('numbers for people: counts exact, four significant digits, rates at two, durations with units', (t) => {
  t.is(sig(1112714), '1112714');
  t.is(sig(0.012345), '0.01235');
  t.is(sig(1.5e-3), '1.500e-3');
  t.is(sig(-13220000.5), '-1.322e+7');
  t.is(rate(1e-3), '1.0e-3');
  t.is(rate(0.02), '0.020');
  t.is(duration(4.24), '4.2 s');
  t.is(duration(65), '1m05s');
  t.is(duration(7260), '2h01m');
});
