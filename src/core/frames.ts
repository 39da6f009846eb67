// Reading frames from a stream's random-access capability into buffers the
// caller keeps, whether or not the capability offers readInto.
import { DataError } from '../errors.js';
import type { FrameAccess } from './stream.js';

/** readMany for an access whose native read is readInto: fresh N×N arrays, filled by it. */
export async function readManyViaInto(
  access: { readonly N: number; readInto(ids: readonly number[], out: readonly Float32Array[]): Promise<void> },
  indices: readonly number[],
): Promise<Float32Array[]> {
  const out = indices.map(() => new Float32Array(access.N * access.N));
  await access.readInto(indices, out);
  return out;
}

/** Frames `ids[j]` of `store` into `out[j]`: its readInto when it has one, else readMany and a copy. */
export async function readFramesInto(store: FrameAccess, ids: readonly number[], out: readonly Float32Array[]): Promise<void> {
  if (store.readInto !== undefined) return store.readInto(ids, out);
  const got = await store.readMany(ids);
  got.forEach((a, j) => {
    const dest = out[j]!;
    if (a.length !== dest.length) throw new DataError('BAD_FRAME', `frame ${ids[j]!} has ${a.length} values, expected ${dest.length}`);
    dest.set(a);
  });
}
