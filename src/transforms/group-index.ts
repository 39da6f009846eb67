// The random-access view of `group`'s output (GroupIndex): member frames are
// read by index into a fixed set of cache slots (frame-slots.ts), a window of
// groups at a time (one read per run of consecutive frames), so groups are
// never materialised together and reads allocate nothing. When the frames are
// a declared linear map of other frames (FrameAccess.linear, as normalize's
// are), the frames behind it are read and the factor applied while they are
// interleaved: one pass over the data fewer, the same float32 result.
import type { FrameAccess, Group, GroupIndex } from '../pipeline/types.js';
import { FrameSlots } from './frame-slots.js';
import { interleaveInto, type GroupPlan } from './group-plan.js';
import { BufferPool, readFramesInto, uninitFloat32 } from './util.js';

/** Window buffers kept for reuse: the windows read ahead, the one consumed, and batches in flight downstream. */
const POOLED_WINDOWS = 8;

/**
 * GroupIndex over a plan and frame access, reading frames into a fixed set of
 * frame slots (shared by concurrent gets). The groups of one getMany share one
 * buffer, in order, so `packBatch` can take consecutive ones without a copy;
 * that buffer comes from a pool and goes back to it once every group of the
 * window has been released (Group.release).
 */
export function groupIndex(plan: GroupPlan, frames: FrameAccess, cacheFrames: number): GroupIndex {
  const NN = frames.N * frames.N;
  const linear = frames.linear;
  const source = linear?.of ?? frames;
  const factor = linear?.factor ?? 1;
  const intensity = linear?.intensity ?? false;
  const slots = new FrameSlots(Math.max(cacheFrames, plan.C), NN);
  const per = NN * plan.C;
  let pool: BufferPool | undefined;
  const read = (ids: readonly number[], out: readonly Float32Array[]): Promise<void> => readFramesInto(source, ids, out);
  const getMany = async (ids: readonly number[]): Promise<Group[]> => {
    const members = ids.map((i) => plan.members(i));
    const wanted = new Set<number>();
    for (const idx of members) for (const m of idx) wanted.add(m);
    const lease = await slots.acquire([...wanted], read);
    try {
      const size = ids.length * per;
      // Pooled at the size of the largest window seen; a shorter one (the last, or a single get) gets its own buffer.
      if (pool === undefined || pool.length < size) pool = new BufferPool(size, POOLED_WINDOWS);
      const from = pool;
      const buffer = size === from.length ? from.take() : uninitFloat32(size);
      let unreleased = ids.length;
      const out: Group[] = [];
      for (let k = 0; k < ids.length; k++) {
        const indices = members[k]!;
        const fs = Array.from(indices, (m) => lease.frames.get(m)!);
        interleaveInto(fs, NN, buffer, k * per, factor, intensity);
        const { center, offsets } = plan.geometry(indices);
        let released = false;
        const release = (): void => {
          if (released) return;
          released = true;
          if (--unreleased === 0) from.give(buffer);
        };
        out.push({ index: ids[k]!, indices, center, offsets, amplitudes: buffer.subarray(k * per, (k + 1) * per), release });
      }
      return out;
    } finally {
      lease.release();
    }
  };
  return {
    count: plan.count,
    groupBytes: NN * plan.C * 4,
    getMany,
    get: async (i) => (await getMany([i]))[0]!,
  };
}
