// The gridsize > 1 overlap constraint (SPEC §5): the C object patches predicted
// for one group are placed on that group's own canvas at their scan positions,
// averaged where they overlap, and cut out again per position, so the C patches
// the physics sees come from one consistent object.
//
// Conventions (SPEC §4, reference §5.4/5.6): offsets (B,1,2,C) hold [x, y] =
// centre − position per member; the canvas is centred on the group centre, so a
// member sits at canvas centre − offset: placement translates by −offset,
// extraction by +offset (then crops N×N). Canvas side P = N + 2·⌈max|offset|⌉, so no
// member loses pixels. The overlap count is built on the patches' support (the
// central S×S square where the network can put object: N/2 for the 'center'
// support, N otherwise), so a member's forced-zero border does not dilute its
// neighbours' values where they overlap it; outside every support the canvas is
// 0 (the reference divides by a central-mask count + 0.001, which amplifies any
// value outside the centre ~1000×; not reproduced). Each group has its own canvas
// (the reference sums whole batches into one canvas when B·C ≥ 64).
import * as tf from '../tf.js';
import { OptionsError } from '../errors.js';
import { sampleShifted } from './translate.js';

export interface ReassembleOptions {
  /** Canvas margin per side in pixels; default ⌈max|offset|⌉ (read from `offsets`). */
  pad?: number;
  /**
   * Side S of the central S×S square where the patches can be non-zero (the
   * model's object support: N/2 for 'center', N otherwise); default N. A canvas
   * pixel is averaged over the members whose support reaches it, so a member's
   * zero border never dilutes its neighbours' values.
   */
  support?: number;
}

/**
 * Overlap-averages each group's C patches (B,N,N,C) on a per-group canvas and
 * re-extracts them at their positions. Identity (a copy) for C = 1.
 */
export function reassembleAndExtract(
  re: tf.Tensor4D,
  im: tf.Tensor4D,
  offsets: tf.Tensor4D,
  N: number,
  opts: ReassembleOptions = {},
): { re: tf.Tensor4D; im: tf.Tensor4D } {
  const [B, H, W, C] = re.shape;
  if (H !== N || W !== N || im.shape.join() !== re.shape.join()) {
    throw new OptionsError(
      'PHYSICS_SHAPE',
      `reassembleAndExtract: patches must be (B, ${N}, ${N}, C) for both re and im, got [${re.shape.join(',')}] and [${im.shape.join(',')}]`,
    );
  }
  if (offsets.shape.join() !== [B, 1, 2, C].join()) {
    throw new OptionsError('PHYSICS_SHAPE', `reassembleAndExtract: offsets must be (B,1,2,C) = (${B},1,2,${C}) [x, y], got [${offsets.shape.join(',')}]`, {
      hint: 'one [x, y] offset (centre − position) per patch',
    });
  }
  if (C === 1) return tf.tidy(() => ({ re: re.clone(), im: im.clone() }));
  let pad = opts.pad;
  if (pad === undefined) {
    const o = offsets.dataSync();
    let m = 0;
    for (const v of o) m = Math.max(m, Math.abs(v));
    if (!Number.isFinite(m)) throw new OptionsError('PHYSICS_VALUE', 'reassembleAndExtract: offsets contain NaN or Inf');
    pad = Math.ceil(m);
  }
  if (!Number.isInteger(pad) || pad < 0) throw new OptionsError('PHYSICS_OPTION', `reassembleAndExtract: pad must be a non-negative integer, got ${pad}`);
  const S = opts.support ?? N;
  if (!Number.isInteger(S) || S < 1 || S > N || (N - S) % 2 !== 0) {
    throw new OptionsError('PHYSICS_OPTION', `reassembleAndExtract: support must be an integer in [1, ${N}] with N − support even, got ${S}`);
  }
  const P = N + 2 * pad;
  return tf.tidy(() => {
    // Offsets of member c of group b at flat index b·C + c (channel-major within a group).
    const o = offsets
      .reshape([B, 2, C])
      .transpose([0, 2, 1])
      .reshape<tf.Tensor2D>([B * C, 2]); // [ox, oy]
    // Placement: canvas pixel q takes patch position q − pad + offset.
    const placeAt = o.sub<tf.Tensor2D>(pad);
    // Extraction: patch pixel i takes canvas position i + pad − offset.
    const takeAt = o.neg().add<tf.Tensor2D>(pad);
    const place = (planes: tf.Tensor4D): tf.Tensor3D => sampleShifted(planes, placeAt, [P, P]).reshape([B, C, P, P]).sum<tf.Tensor3D>(1);
    // Overlap count = the placement of the support mask (1 on the central S×S
    // square). Mask and bilinear weights are separable, so it is Σ_c wy_c ⊗ wx_c
    // with 1-D placement sums w[q] = Σ_i m(i)·max(0, 1 − |q − pad + offset − i|) —
    // cheaper than a third 2-D warp.
    const d = new Float32Array(P * N);
    for (let q = 0; q < P; q++) for (let i = 0; i < N; i++) d[q * N + i] = q - pad - i;
    const dist = tf.tensor3d(d, [1, P, N]);
    const lo = (N - S) / 2;
    const m = new Float32Array(N);
    m.fill(1, lo, lo + S);
    const mask = tf.tensor3d(m, [1, 1, N]);
    const weights1d = (col: number): tf.Tensor3D =>
      tf
        .relu(tf.scalar(1).sub(dist.add(o.slice([0, col], [B * C, 1]).reshape([B * C, 1, 1])).abs()))
        .mul(mask)
        .sum(2)
        .reshape([B, C, P]);
    const count = tf.matMul(weights1d(1), weights1d(0), true, false); // (B,P,P)
    const safe = tf.where(count.greater(0), count, tf.onesLike(count));
    const spread = tf.ones([1, C, 1, 1]);
    const one = (x: tf.Tensor4D): tf.Tensor4D => {
      const planes = x.transpose([0, 3, 1, 2]).reshape<tf.Tensor4D>([B * C, N, N, 1]);
      const canvas = place(planes).div(safe); // (B,P,P), one canvas per group
      const copies = canvas
        .reshape([B, 1, P, P])
        .mul(spread)
        .reshape<tf.Tensor4D>([B * C, P, P, 1]);
      return sampleShifted(copies, takeAt, [N, N]).reshape([B, C, N, N]).transpose<tf.Tensor4D>([0, 2, 3, 1]);
    };
    return { re: one(re), im: one(im) };
  });
}
