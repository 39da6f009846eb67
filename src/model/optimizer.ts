// Adam whose saved state resumes bit-for-bit. tfjs' AdamOptimizer keeps the
// bias-correction powers β₁ᵗ, β₂ᵗ as running products but, on setWeights,
// recomputes them with pow(β, t+1), which can differ in the last float32 bit
// and so changes every later step. This subclass saves the running products
// with the moments and restores them exactly.
import * as tf from '../tf.js';

/** A named tensor as tf.Optimizer.getWeights/setWeights exchange them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

const ACC1 = 'adam/acc_beta1';
const ACC2 = 'adam/acc_beta2';

interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

export class ResumableAdam extends tf.AdamOptimizer {
  private get internals(): AdamInternals {
    return this as unknown as AdamInternals;
  }

  /** [iterations, first moments…, second moments…, β₁ᵗ, β₂ᵗ]; moments are the live variables, the rest are new tensors. */
  override async getWeights(): Promise<NamedTensor[]> {
    const base = await super.getWeights();
    return [...base, { name: ACC1, tensor: this.internals.accBeta1.clone() }, { name: ACC2, tensor: this.internals.accBeta2.clone() }];
  }

  /** Accepts getWeights() output (with or without the β powers); does not dispose the given tensors. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const acc1 = weightValues.find((w) => w.name === ACC1);
    const acc2 = weightValues.find((w) => w.name === ACC2);
    await super.setWeights(weightValues.filter((w) => w.name !== ACC1 && w.name !== ACC2));
    if (acc1 !== undefined) this.internals.accBeta1.assign(acc1.tensor);
    if (acc2 !== undefined) this.internals.accBeta2.assign(acc2.tensor);
  }
}

/** Adam with Keras defaults (β₁ 0.9, β₂ 0.999, ε 1e-7) and resumable state. */
export function makeOptimizer(lr = 1e-3): ResumableAdam {
  return new ResumableAdam(lr, 0.9, 0.999, 1e-7);
}

/** Tensors getWeights() created that the optimizer does not own (iterations and β powers); dispose them after saving. */
export function ownedByCaller(w: NamedTensor, index: number): boolean {
  return index === 0 || w.name === ACC1 || w.name === ACC2;
}
