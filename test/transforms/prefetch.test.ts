// prefetch and mapOrdered: order kept, read-ahead bounded, upstream errors
// reach the consumer, early exit closes the upstream and disposes unseen
// records, abort, no unhandled rejections, bad options.
import test from 'ava';
import { collect, collectStream, createStage, streamOf } from '../../src/testing/index.js';
import { mapOrdered } from '../../src/transforms/map.js';
import prefetch from '../../src/transforms/prefetch.js';
import { thrownName } from './helpers.js';

interface Probe {
  pulled: number;
  finished: number;
  disposed: number;
}

function counting(n: number, probe: Probe, failAt = -1) {
  return {
    meta: { record: 'other' as const },
    open: (signal: AbortSignal) =>
      (async function* () {
        try {
          for (let i = 0; i < n; i++) {
            signal.throwIfAborted();
            await new Promise((r) => setTimeout(r, 1));
            if (i === failAt) throw new Error(`boom at ${i}`);
            probe.pulled++;
            yield { i, dispose: () => probe.disposed++ };
          }
        } finally {
          probe.finished++;
        }
      })(),
  };
}

const unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

test('keeps order and pulls at most n ahead of the consumer', async (t) => {
  const probe: Probe = { pulled: 0, finished: 0, disposed: 0 };
  const s = await createStage(prefetch, { n: 3 }, [counting(20, probe)]);
  let seen = 0;
  let maxAhead = 0;
  for await (const r of s.open(new AbortController().signal) as AsyncIterable<{ i: number }>) {
    t.is(r.i, seen++);
    await new Promise((res) => setTimeout(res, 5));
    maxAhead = Math.max(maxAhead, probe.pulled - seen);
  }
  t.is(seen, 20);
  t.true(maxAhead <= 3 && maxAhead >= 1, `ahead ${maxAhead}`);
  t.is(probe.finished, 1);
});

test('early exit closes the upstream and disposes records the consumer never saw', async (t) => {
  const probe: Probe = { pulled: 0, finished: 0, disposed: 0 };
  const s = await createStage(prefetch, { n: 4 }, [counting(50, probe)]);
  const got = await collect(s.open(new AbortController().signal), 2);
  t.is(got.length, 2);
  t.is(probe.finished, 1);
  t.is(probe.disposed, probe.pulled - 2);
});

test('an upstream error reaches the consumer; abort stops it; no unhandled rejections', async (t) => {
  const probe: Probe = { pulled: 0, finished: 0, disposed: 0 };
  const s = await createStage(prefetch, {}, [counting(10, probe, 4)]);
  await t.throwsAsync(collectStream(s), { message: /boom at 4/ });
  const slow = await createStage(prefetch, { n: 2 }, [counting(1000, probe)]);
  const ac = new AbortController();
  t.is(
    await thrownName(async () => {
      let k = 0;
      for await (const _ of slow.open(ac.signal)) if (++k === 3) ac.abort();
    }),
    'AbortError',
  );
  t.is(probe.finished, 2);
  // An error that happens while the consumer is gone stays inside.
  const late = await createStage(prefetch, { n: 5 }, [counting(10, probe, 3)]);
  await collect(late.open(new AbortController().signal), 1);
  await new Promise((r) => setTimeout(r, 30));
  t.deepEqual(unhandled, []);
  t.deepEqual(await collectStream(await createStage(prefetch, {}, [streamOf([])])), []);
});

test('mapOrdered: results in input order with bounded concurrency; errors in order; early exit', async (t) => {
  let active = 0;
  let peak = 0;
  const fn = async (x: number): Promise<number> => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, (x * 7) % 5));
    active--;
    if (x === 13) throw new Error('bad 13');
    return x * 2;
  };
  const src = (n: number) => streamOf([...Array(n).keys()]).open(new AbortController().signal);
  t.deepEqual(
    await collect(mapOrdered(src(12), fn, 3)),
    [...Array(12).keys()].map((x) => 2 * x),
  );
  t.is(peak, 3);
  await t.throwsAsync(collect(mapOrdered(src(20), fn, 2)), { message: 'bad 13' });
  t.deepEqual(await collect(mapOrdered(src(20), fn, 2), 4), [0, 2, 4, 6]);
  t.throws(() => mapOrdered(src(1), fn, 0), { message: /concurrency/ });
});

test('bad options', (t) => {
  t.throws(() => prefetch.options.parse({ n: 0 }), { message: /n/ });
  t.throws(() => prefetch.options.parse({ ahead: 2 }), { message: /ahead/ });
});
