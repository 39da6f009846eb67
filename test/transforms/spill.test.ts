// spill: a stream that can be read once is read again from disk, in arrival
// order, once its first pass has ended; a second reader during the first
// pass, or after a live first pass stopped early, is refused with a typed
// error; the temp file goes with close().
import { existsSync } from 'node:fs';
import test from 'ava';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';
import spill, { FrameTape } from '../../src/transforms/spill.js';

/** A live-like stream: frames in a scrambled order, one open only. */
function once(n: number, N = 4): Stream<Frame> & { opens: number } {
  const s = {
    opens: 0,
    meta: { record: 'frame' as const, live: true },
    open(): AsyncIterable<Frame> {
      if (s.opens++ > 0) throw new Error('opened twice');
      return (async function* () {
        for (let k = 0; k < n; k++) {
          const i = (k * 5) % n;
          yield { index: i, x: i * 1.5, y: -i, amplitude: new Float32Array(N * N).fill(i + 0.25), ...(i % 2 === 1 ? { scanIndex: 1 } : {}) };
        }
      })();
    },
  };
  return s;
}

const flat = (fs: Frame[]): string => JSON.stringify(fs.map((f) => [f.index, f.x, f.y, f.scanIndex ?? null, Array.from(f.amplitude)]));

test('a one-pass stream, read again, gives the same frames in arrival order from disk', async (t) => {
  const input = once(13);
  const s = (await createStage(spill, {}, [input], testContext({ id: 'spill' }))) as Stream<Frame>;
  const first = await collectStream(s);
  const [second, third] = [await collectStream(s), await collectStream(s)];
  t.is(input.opens, 1);
  t.is(first.length, 13);
  t.is(flat(second), flat(first));
  t.is(flat(third), flat(first));
  t.not(second[0]!.amplitude, third[0]!.amplitude, 'each frame its own array');
  await s.close?.();
  await s.close?.();
});

test('a second reader before the first pass ended, or after a live first pass stopped early, is refused', async (t) => {
  const s = (await createStage(spill, {}, [once(8)], testContext({ id: 'spill' }))) as Stream<Frame>;
  const it = s.open(new AbortController().signal)[Symbol.asyncIterator]();
  await it.next();
  const e = await t.throwsAsync(collectStream(s));
  t.is((e as { code?: string }).code, 'LIVE_REOPENED');
  t.regex(e.message, /before the first pass reached the end/);
  await it.return?.();
  const e2 = await t.throwsAsync(collectStream(s));
  t.regex(e2.message, /stopped early/);
  await s.close?.();
});

test('the spill file exists while the tape does and goes with remove()', async (t) => {
  const tape = new FrameTape('spill');
  const input = once(5, 64);
  let n = 0;
  for await (const f of tape.pass(input, new AbortController().signal)) n += f.amplitude.length;
  t.is(n, 5 * 64 * 64);
  t.true(tape.file !== undefined && existsSync(tape.file));
  await tape.remove();
  t.false(existsSync(tape.file!));
});
