// The exact, idempotent merge of tile results: partials keyed by shard id
// (a shard redelivered and stored twice is still one entry, so it counts
// once), added in shard-id order in float64 (the same sum whatever order the
// shards finished in), then divided by the summed weight. With the tiles'
// partition-of-unity weights each pixel comes from exactly one shard.
import { ScaleError } from '../errors.js';
import type { Complex2D } from '../pipeline/types.js';
import type { CanvasResult } from '../sinks/shared/reconstruction.js';
import type { Partial } from './partial.js';

export interface Merged extends CanvasResult {
  probe: Complex2D;
  /** Σ w per pixel (1 everywhere when each pixel came from one shard once). */
  weightSum: Float64Array;
  shards: string[];
}

export function mergePartials(partials: ReadonlyMap<string, Partial>): Merged {
  const ids = [...partials.keys()].sort();
  if (ids.length === 0) throw new ScaleError('NOTHING_TO_MERGE', 'no shard results to merge', { hint: 'wait until shards are done (ptychoflow status JOB)' });
  const first = partials.get(ids[0]!)!;
  const { height, width, origin } = first,
    n = height * width;
  const re = new Float64Array(n),
    im = new Float64Array(n),
    w = new Float64Array(n),
    covered = new Uint8Array(n);
  for (const id of ids) {
    const p = partials.get(id)!;
    if (p.height !== height || p.width !== width || p.origin[0] !== origin[0] || p.origin[1] !== origin[1]) {
      throw new ScaleError(
        'CANVAS_MISMATCH',
        `shard '${id}' has a ${p.width}×${p.height} canvas at (${p.origin.join(', ')}), shard '${ids[0]}' ${width}×${height} at (${origin.join(', ')})`,
        { hint: 'all shards of a job must read the same scan; resubmit the job' },
      );
    }
    for (let i = 0; i < n; i++) {
      re[i] = re[i]! + p.sumRe[i]!;
      im[i] = im[i]! + p.sumIm[i]!;
      w[i] = w[i]! + p.weight[i]!;
      if (p.covered[i] !== 0) covered[i] = 1;
    }
  }
  const object: Complex2D = { height, width, re: new Float32Array(n), im: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    if (w[i]! > 0) {
      object.re[i] = re[i]! / w[i]!;
      object.im[i] = im[i]! / w[i]!;
    }
  }
  return { object, covered, placement: { height, width, originX: origin[0], originY: origin[1] }, probe: first.probe, weightSum: w, shards: ids };
}
