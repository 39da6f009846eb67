// An object family for simulated corpora (issue #17): object k of a corpus is
// drawn from its own seeded generator, so any scan of a corpus can be made
// again alone (lazily, in any order). Members: the bundled images with random
// square crops, a rotation by a multiple of 90° and a flip (exact, no
// resampling), random phantoms (overlapping ellipses), random line segments,
// and Gaussian random fields; each with a random amplitude contrast and phase
// span drawn from the given ranges.
import { OptionsError } from '../errors.js';
import type { Complex2D } from '../records/index.js';
import type { Rng } from '../util/rng.js';
import { composeObject, gaussianBlur, gaussianRandomField, grfObject, linesObject, resizeGray, type GrayImage } from './objects.js';

export type FamilyKind = 'image' | 'phantom' | 'lines' | 'grf';

export interface FamilyOptions {
  kinds: readonly FamilyKind[];
  size: number;
  /** Range of the smallest amplitude (the largest is 1). */
  ampMin: readonly [number, number];
  /** Range of the phase span in radians. */
  phaseRange: readonly [number, number];
  /** Images for the 'image' kind (amplitude and phase are drawn from them independently). */
  images: readonly GrayImage[];
}

const between = (rng: Rng, [lo, hi]: readonly [number, number]): number => lo + (hi - lo) * rng.uniform();

/** A random square crop (side ≥ size/… up to the whole image), rotated k·90° and maybe mirrored, resized to size. */
function randomView(img: GrayImage, size: number, rng: Rng): Float32Array {
  const s0 = Math.min(img.width, img.height);
  const side = Math.max(2, Math.round(s0 * (0.4 + 0.6 * rng.uniform())));
  const x0 = rng.int(img.width - side + 1),
    y0 = rng.int(img.height - side + 1);
  const rot = rng.int(4),
    flip = rng.uniform() < 0.5;
  const crop = new Float32Array(side * side);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      let rr = r,
        cc = flip ? side - 1 - c : c;
      for (let k = 0; k < rot; k++) [rr, cc] = [cc, side - 1 - rr];
      crop[rr * side + cc] = img.data[(y0 + r) * img.width + x0 + c]!;
    }
  }
  return resizeGray({ width: side, height: side, data: crop }, size, size).data;
}

/** Overlapping ellipses of random size, orientation and weight, lightly smoothed. */
function phantomMap(size: number, rng: Rng): Float32Array {
  const out = new Float32Array(size * size);
  const n = 4 + rng.int(8);
  for (let e = 0; e < n; e++) {
    const cx = rng.uniform() * size,
      cy = rng.uniform() * size;
    const a = size * (0.05 + 0.3 * rng.uniform()),
      b = size * (0.05 + 0.3 * rng.uniform());
    const th = Math.PI * rng.uniform(),
      w = 2 * rng.uniform() - 0.5;
    const ct = Math.cos(th),
      st = Math.sin(th);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const u = ((x - cx) * ct + (y - cy) * st) / a,
          v = (-(x - cx) * st + (y - cy) * ct) / b;
        if (u * u + v * v <= 1) out[y * size + x]! += w;
      }
    }
  }
  return gaussianBlur(out, size, size, 0.7);
}

/** Object number k's draw, from its own generator `rng`. */
export function familyObject(opts: FamilyOptions, rng: Rng): Complex2D {
  if (opts.kinds.length === 0) throw new OptionsError('OBJECT_OPTION', 'an object family needs at least one kind');
  const kind = opts.kinds[rng.int(opts.kinds.length)]!;
  const ranges = { ampMin: between(rng, opts.ampMin), phaseRange: between(rng, opts.phaseRange) };
  const { size } = opts;
  switch (kind) {
    case 'image': {
      if (opts.images.length === 0) throw new OptionsError('OBJECT_OPTION', "the 'image' kind needs images");
      const a = randomView(opts.images[rng.int(opts.images.length)]!, size, rng);
      const p = randomView(opts.images[rng.int(opts.images.length)]!, size, rng);
      return composeObject(a, p, size, size, ranges);
    }
    case 'phantom':
      return composeObject(phantomMap(size, rng), phantomMap(size, rng), size, size, ranges);
    case 'lines':
      return linesObject(size, rng, { ...ranges, smoothing: 0.5 + rng.uniform() });
    case 'grf': {
      const ell = 2 + 6 * rng.uniform();
      return rng.uniform() < 0.5
        ? grfObject(size, rng, { ...ranges, correlationLength: ell })
        : composeObject(gaussianRandomField(size, rng, ell), gaussianRandomField(size, rng, 2 * ell), size, size, ranges);
    }
  }
}
