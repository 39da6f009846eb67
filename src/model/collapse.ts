// Collapse detection for training (issue #17). A PtychoPINN whose decoder
// ReLUs have died, or whose output no longer depends on its input, predicts
// the same flat object for every pattern: its loss stops changing and more
// epochs cannot help. Two measurements on one batch tell it apart from slow
// progress: the spatial spread of the predicted amplitude (std over the
// central N/2 square, relative to its mean) and of the phase (std in
// radians), per patch and channel and averaged; and the global gradient norm,
// reported alongside so a frozen network (spread alive, gradient ~0) shows too.
import * as tf from '../tf.js';

export interface OutputSpread {
  /** Mean over patches of std(|O|)/mean(|O|) in the central N/2 square. */
  amplitude: number;
  /** Mean over patches of std(arg O) in radians in the central N/2 square. */
  phase: number;
}

export interface Diagnosis extends OutputSpread {
  /** Global L2 norm of the loss gradient over the trainable variables. */
  gradNorm: number;
}

/** Spread of object patches re/im (B,N,N,C); reads only the central N/2 square, where the probe is. */
export function outputSpread(re: tf.Tensor4D, im: tf.Tensor4D): OutputSpread {
  const [, N] = re.shape;
  const q = Math.floor(N / 4);
  const h = N - 2 * q;
  return tf.tidy(() => {
    const r = re.slice([0, q, q, 0], [-1, h, h, -1]);
    const i = im.slice([0, q, q, 0], [-1, h, h, -1]);
    const amp = r.square().add(i.square()).sqrt();
    const a = tf.moments(amp, [1, 2]);
    const relAmp = a.variance.sqrt().div(a.mean.add(1e-12)).mean();
    // Phase spread about each patch's mean direction, so a wrap at ±π does not count as structure.
    const sr = r.sum([1, 2], true);
    const si = i.sum([1, 2], true);
    const rot = tf.atan2(i.mul(sr).sub(r.mul(si)), r.mul(sr).add(i.mul(si)));
    const ph = tf.moments(rot, [1, 2]).variance.sqrt().mean();
    return { amplitude: relAmp.dataSync()[0]!, phase: ph.dataSync()[0]! };
  });
}

export interface CollapseVerdict {
  collapsed: boolean;
  /** Which parts are flat: 'amplitude', 'phase'. */
  flat: string[];
}

/** Flat when a branch's spread lies below `tol` (0 disables the check). */
export function judgeCollapse(d: OutputSpread, tol: number): CollapseVerdict {
  if (!(tol > 0)) return { collapsed: false, flat: [] };
  const flat: string[] = [];
  if (!(d.amplitude >= tol)) flat.push('amplitude');
  if (!(d.phase >= tol)) flat.push('phase');
  return { collapsed: flat.length > 0, flat };
}

export const COLLAPSE_HINT = 'lower lr or raise warmup_steps, check nphotons against the data, or set collapse.tol: 0 to train on anyway';

/** One sentence for the log or the error: which part is flat after which epoch, with the numbers. */
export function describeCollapse(epoch: number, v: CollapseVerdict, d: Diagnosis): string {
  const flat = v.flat.join(' and ');
  return `training collapsed after epoch ${epoch}: the predicted ${flat} ${v.flat.length > 1 ? 'are' : 'is'} flat (spread: amplitude ${d.amplitude.toExponential(2)}, phase ${d.phase.toExponential(2)} rad; gradient norm ${d.gradNorm.toExponential(2)})`;
}
