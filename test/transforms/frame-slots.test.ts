// FrameSlots, group's fixed-memory frame cache: cached frames are not read
// again, pinned slots are never overwritten by a concurrent read, a full set of
// pinned slots spills to temporary arrays, and a failed read rejects every
// caller waiting on it and leaves nothing half-cached.
import test from 'ava';
import { FrameSlots, type FrameReader } from '../../src/transforms/frame-slots.js';

const NN = 4;
const value = (id: number): Float32Array => new Float32Array(NN).fill(id + 0.5);

/** A reader that fills frame id with id + 0.5 and records what it was asked for. */
function reader(): { read: FrameReader; asked: number[][] } {
  const asked: number[][] = [];
  return {
    asked,
    read: async (ids, out) => {
      asked.push([...ids]);
      await new Promise((r) => setTimeout(r, 1));
      ids.forEach((id, j) => out[j]!.set(value(id)));
    },
  };
}

test('frames come back right; cached ones are not read again; misses are read in ascending order', async (t) => {
  const slots = new FrameSlots(8, NN);
  const r = reader();
  const a = await slots.acquire([5, 2, 9, 2], r.read);
  t.deepEqual(
    [...a.frames.keys()].sort((x, y) => x - y),
    [2, 5, 9],
  );
  for (const [id, f] of a.frames) t.deepEqual(f, value(id));
  a.release();
  a.release(); // idempotent
  const b = await slots.acquire([9, 5, 7], r.read);
  for (const [id, f] of b.frames) t.deepEqual(f, value(id));
  b.release();
  t.deepEqual(r.asked, [[2, 5, 9], [7]]);
  t.is(slots.size, 4);
});

test('fresh frames of one read land in consecutive slots (one read per run in the store)', async (t) => {
  const slots = new FrameSlots(8, NN);
  const r = reader();
  const lease = await slots.acquire([3, 4, 5], r.read);
  const [f3, f4, f5] = [3, 4, 5].map((id) => lease.frames.get(id)!);
  t.is(f3!.buffer, f5!.buffer);
  t.is(f4!.byteOffset, f3!.byteOffset + NN * 4);
  t.is(f5!.byteOffset, f4!.byteOffset + NN * 4);
  lease.release();
});

test('a pinned slot is never reused; when all are pinned the extra frames go to temporary arrays', async (t) => {
  const slots = new FrameSlots(3, NN);
  const r = reader();
  const held = await slots.acquire([0, 1, 2], r.read);
  // Every slot is pinned: frames 10, 11 are read into arrays outside the slots.
  const extra = await slots.acquire([10, 11], r.read);
  t.deepEqual(extra.frames.get(10), value(10));
  t.deepEqual(extra.frames.get(11), value(11));
  for (const [id, f] of held.frames) t.deepEqual(f, value(id), `pinned frame ${id} intact`);
  t.is(slots.size, 3, 'the temporaries are not cached');
  extra.release();
  held.release();
  // Unpinned now: new frames evict the old ones, oldest slot first.
  const next = await slots.acquire([20], r.read);
  t.deepEqual(next.frames.get(20), value(20));
  next.release();
  t.is(slots.size, 3);
});

test('concurrent callers share a read in flight and each sees the frame', async (t) => {
  const slots = new FrameSlots(4, NN);
  const r = reader();
  const [a, b] = await Promise.all([slots.acquire([1, 2], r.read), slots.acquire([2, 3], r.read)]);
  t.deepEqual(a.frames.get(2), value(2));
  t.deepEqual(b.frames.get(2), value(2));
  t.deepEqual(r.asked, [[1, 2], [3]]);
  a.release();
  b.release();
});

test('a failed read rejects every caller waiting on it and is retried by the next', async (t) => {
  const slots = new FrameSlots(4, NN);
  let fail = true;
  const read: FrameReader = async (ids, out) => {
    await new Promise((r) => setTimeout(r, 1));
    if (fail) throw new Error('disk on fire');
    ids.forEach((id, j) => out[j]!.set(value(id)));
  };
  const results = await Promise.allSettled([slots.acquire([1, 2], read), slots.acquire([2], read)]);
  t.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  t.is(slots.size, 0, 'nothing half-cached');
  fail = false;
  const again = await slots.acquire([1, 2], read);
  t.deepEqual(again.frames.get(2), value(2));
  again.release();
  // All four slots are free again: four new frames fit without temporaries.
  const four = await slots.acquire([5, 6, 7, 8], read);
  t.is(slots.size, 4);
  four.release();
});

test('capacity must be a positive integer', (t) => {
  t.throws(() => new FrameSlots(0, NN), { instanceOf: RangeError });
  t.throws(() => new FrameSlots(1.5, NN), { instanceOf: RangeError });
});
