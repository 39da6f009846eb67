// The far-field forward model and the losses that compare it with data
// (SPEC §1, §5): A = |fftshift(FFT2(P·O))|/N per channel, Poisson NLL on counts
// (s·A)², and MAE on amplitudes. Pure tensor functions; callers dispose results.
import * as tf from '../tf.js';
import { OptionsError } from '../errors.js';
import { fft2c } from './fft.js';

/**
 * Added under the square root of |Ψ|². It keeps the gradient finite where the far
 * field vanishes: d/dre √(re²+im²+τ) = re/√(re²+im²+τ) is bounded by 1 and is 0 (not
 * 0/0 = NaN) at Ψ = 0. It biases A by at most √τ = 1e-6 (≪ one photon once scaled by
 * s ≈ 1e3), and is a normal float32.
 */
export const AMPLITUDE_TINY = 1e-12;

/**
 * Far-field amplitude |fftshift(FFT2(P·O))|/N for object patches (B,N,N,C) and a
 * probe (N,N) shared by every pattern and channel.
 */
export function farFieldAmplitude(objRe: tf.Tensor4D, objIm: tf.Tensor4D, probeRe: tf.Tensor2D, probeIm: tf.Tensor2D): tf.Tensor4D {
  const [, h, w] = objRe.shape;
  if (probeRe.shape[0] !== h || probeRe.shape[1] !== w || probeIm.shape.join() !== probeRe.shape.join()) {
    throw new OptionsError(
      'PHYSICS_SHAPE',
      `farFieldAmplitude: probe is ${probeRe.shape.join('×')} (im ${probeIm.shape.join('×')}) but the object patches are ${h}×${w}`,
      { hint: 'the probe must be N×N on the object grid' },
    );
  }
  return tf.tidy(() => {
    const pr = probeRe.reshape([1, h, w, 1]);
    const pi = probeIm.reshape([1, h, w, 1]);
    const psiRe = objRe.mul(pr).sub<tf.Tensor4D>(objIm.mul(pi));
    const psiIm = objRe.mul(pi).add<tf.Tensor4D>(objIm.mul(pr));
    const far = fft2c(psiRe, psiIm);
    return far.re.square().add(far.im.square()).add(AMPLITUDE_TINY).sqrt() as tf.Tensor4D;
  });
}

/**
 * Poisson negative log-likelihood without the data-only Stirling term, mean-reduced:
 * λ = (s·pred)², y = (s·obs)², mean(λ − y·log(λ + ε)). `scale` may be a (trainable)
 * scalar tensor; gradients flow to it.
 */
export function poissonNLL(predAmplitude: tf.Tensor, obsAmplitude: tf.Tensor, scale: number | tf.Scalar, eps = 1e-12): tf.Scalar {
  if (predAmplitude.shape.join() !== obsAmplitude.shape.join()) {
    throw new OptionsError(
      'PHYSICS_SHAPE',
      `poissonNLL: predicted [${predAmplitude.shape.join(',')}] and observed [${obsAmplitude.shape.join(',')}] differ in shape`,
    );
  }
  if (!(eps > 0)) throw new OptionsError('PHYSICS_OPTION', `poissonNLL: eps must be > 0, got ${eps}`, { hint: 'use 1e-12 or larger' });
  return tf.tidy(() => {
    const lambda = predAmplitude.mul(scale).square();
    const y = obsAmplitude.mul(scale).square();
    return lambda.sub(y.mul(lambda.add(eps).log())).mean<tf.Scalar>();
  });
}

/** Mean absolute error between two tensors of the same shape. */
export function maeLoss(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  if (a.shape.join() !== b.shape.join()) {
    throw new OptionsError('PHYSICS_SHAPE', `maeLoss: shapes [${a.shape.join(',')}] and [${b.shape.join(',')}] differ`);
  }
  return tf.tidy(() => a.sub(b).abs().mean<tf.Scalar>());
}
