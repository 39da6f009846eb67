// normalize on a stream that can be read once: the factor measured on the
// first `warmup` frames and frozen (every frame scaled by it, the input
// opened once), the factor taken from a checkpoint's sidecar, and the two
// ways of giving a factor refused together.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import { collectStream, createStage, streamOf, testContext } from '../../src/testing/index.js';
import normalize, { measureFactor } from '../../src/transforms/normalize.js';
import { syntheticScan } from '../transforms/helpers.js';

/** The synthetic scan as a live stream that counts its opens. */
function live(n: number): { stream: Stream<Frame>; opens: () => number } {
  const src = syntheticScan(n, 4, 9);
  let opens = 0;
  const stream: Stream<Frame> = {
    meta: { record: 'frame', scan: src.meta.scan!, live: true },
    open: (signal) => {
      opens++;
      return src.open(signal);
    },
  };
  return { stream, opens: () => opens };
}

test('a live input is scaled by the factor of its first `warmup` frames, frozen, and opened once', async (t) => {
  const { stream, opens } = live(30);
  const s = (await createStage(normalize, { warmup: 10 }, [stream], testContext({ id: 'n' }))) as Stream<Frame>;
  t.is(opens(), 0, 'nothing is read at create');
  const got = await collectStream(s);
  t.is(opens(), 1);
  t.is(got.length, 30);
  const raw = await collectStream(syntheticScan(30, 4, 9));
  const m = await measureFactor(streamOf(raw.slice(0, 10)).open(new AbortController().signal), false);
  for (const [i, f] of got.entries()) t.true(Math.abs(f.amplitude[5]! - m.factor * raw[i]!.amplitude[5]!) < 1e-4 * f.amplitude[5]!, `frame ${i}`);
  // A stream shorter than the warmup still comes out, scaled by what it had.
  const short = (await createStage(normalize, {}, [live(5).stream], testContext({ id: 'n' }))) as Stream<Frame>;
  t.is((await collectStream(short)).length, 5);
});

test('normalize takes its factor from a checkpoint, and refuses factor and checkpoint together', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pf-norm-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'ptychoflow.json'), JSON.stringify({ format: 'ptychoflow', normalization: 2.5 }));
  const { stream } = live(4);
  const s = (await createStage(normalize, { checkpoint: dir }, [stream], testContext({ id: 'n' }))) as Stream<Frame>;
  t.is(s.meta.normalization, 2.5);
  const raw = await collectStream(syntheticScan(4, 4, 9));
  const got = await collectStream(s);
  t.is(got[2]!.amplitude[3], Math.fround(2.5 * raw[2]!.amplitude[3]!));
  await t.throwsAsync(createStage(normalize, { checkpoint: dir, factor: 2 }, [live(4).stream], testContext({ id: 'n' })), { code: 'BAD_OPTION' });
  await t.throwsAsync(createStage(normalize, { checkpoint: path.join(dir, 'none') }, [live(4).stream], testContext({ id: 'n' })), { code: 'NO_CHECKPOINT' });
});
