// How a plugin author tests a stage: the helpers from `ptychoflow/testing`
// run it over an array and collect the stream, just as ptychoflow's own tests do.
import test from 'ava';
import { checkCompliance, collectStream, createStage, streamOf } from 'ptychoflow/testing';
import type { Frame } from 'ptychoflow';
import { threshold } from './threshold.js';

const frames: Frame[] = [
  { index: 0, x: 10, y: 10, amplitude: new Float32Array([0.5, 2, 1.25, 3]) },
  { index: 1, x: 12, y: 10, amplitude: new Float32Array([1.5, 0, 7, 1.49]) },
];

test('zeroes amplitudes below the floor and keeps the rest', async (t) => {
  const out = await createStage(threshold, { floor: 1.5 }, [streamOf(frames, { record: 'frame' })]);
  const got = (await collectStream(out)) as Frame[];
  t.deepEqual([...got[0]!.amplitude], [0, 2, 0, 3]);
  t.deepEqual([...got[1]!.amplitude], [1.5, 0, 7, 0]);
  t.deepEqual([...frames[0]!.amplitude], [0.5, 2, 1.25, 3], 'input records are not modified');
});

test('an empty stream stays empty, and bad options are refused', async (t) => {
  const out = await createStage(threshold, { floor: 1 }, [streamOf<Frame>([], { record: 'frame' })]);
  t.deepEqual(await collectStream(out), []);
  await t.throwsAsync(createStage(threshold, { floor: -1 }, [streamOf(frames)]));
  await t.throwsAsync(createStage(threshold, { floor: 1, colour: 'red' }, [streamOf(frames)]));
});

test('passes the stage-compliance suite (early exit, abort, no tensors, same records per pass)', async (t) => {
  const more: Frame[] = [...frames, { index: 2, x: 14, y: 10, amplitude: new Float32Array([3, 0.1, 2, 0]) }];
  t.deepEqual(await checkCompliance({ def: threshold, options: { floor: 1.5 }, inputs: () => [streamOf(more, { record: 'frame' })] }), []);
});
