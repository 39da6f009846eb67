// The network as a standard tfjs LayersModel (Keras functional topology +
// weights manifest), so `tf.loadLayersModel` opens it without ptychoflow.
// Written by hand from the plan rather than with tfjs-layers, which is not a
// runtime dependency. Everything the raw-op network does that has no layer of
// its own is expressed exactly with standard layers: the channel slice of the
// 'center'/'border' heads as kernels with zero rows for the unused channels,
// constant factors (π·tanh, 2·a₀·σ, the input's intensity scaling) as fixed
// 1×1 convolutions or folded into the first kernel, the border mask as
// border − pad(crop(border)).
import type { NetworkPlan } from './network.js';

/** Keras layer entry of a functional model config. */
interface LayerEntry {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, Record<string, never>][][];
}

export interface LayersArtifacts {
  modelTopology: Record<string, unknown>;
  weightSpecs: { name: string; shape: number[]; dtype: 'float32' }[];
  weightData: Uint8Array;
}

/** Network weights by checkpoint name (see paramSpecs). */
export type WeightValues = ReadonlyMap<string, { shape: readonly number[]; values: Float32Array }>;

class Graph {
  readonly layers: LayerEntry[] = [];
  readonly specs: LayersArtifacts['weightSpecs'] = [];
  readonly parts: Float32Array[] = [];

  add(class_name: string, name: string, config: Record<string, unknown>, inputs: string[], weights: [string, number[], Float32Array][] = []): string {
    this.layers.push({
      class_name,
      name,
      config: { name, trainable: true, dtype: 'float32', ...config },
      inbound_nodes: inputs.length === 0 ? [] : [inputs.map((i) => [i, 0, 0, {}])],
    });
    for (const [w, shape, values] of weights) {
      this.specs.push({ name: `${name}/${w}`, shape, dtype: 'float32' });
      this.parts.push(values);
    }
    return name;
  }

  conv(name: string, input: string, kernel: { shape: readonly number[]; values: Float32Array }, bias: Float32Array | undefined, activation: string): string {
    const shape = [...kernel.shape];
    const cfg = {
      filters: shape[3],
      kernel_size: [shape[0], shape[1]],
      strides: [1, 1],
      padding: 'same',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      activation,
      use_bias: bias !== undefined,
    };
    const weights: [string, number[], Float32Array][] = [['kernel', shape, kernel.values]];
    if (bias !== undefined) weights.push(['bias', [shape[3]!], bias]);
    return this.add('Conv2D', name, cfg, [input], weights);
  }

  /** A fixed 1×1 convolution multiplying every channel by `factor` (no bias). */
  scale(name: string, input: string, channels: number, factor: number): string {
    const k = new Float32Array(channels * channels);
    for (let c = 0; c < channels; c++) k[c * channels + c] = factor;
    return this.conv(name, input, { shape: [1, 1, channels, channels], values: k }, undefined, 'linear');
  }
}

/** The kernel [3,3,cin,cout] widened to `total` input channels, placed at input channel `offset`, zeros elsewhere. */
function widenKernel(kernel: Weight, total: number, offset: number): { shape: number[]; values: Float32Array } {
  const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
  const out = new Float32Array(kh * kw * total * cout);
  for (let p = 0; p < kh * kw; p++) {
    for (let i = 0; i < cin; i++) out.set(kernel.values.subarray((p * cin + i) * cout, (p * cin + i + 1) * cout), (p * total + offset + i) * cout);
  }
  return { shape: [kh, kw, total, cout], values: out };
}

function activation(g: Graph, name: string, input: string, kind: NetworkPlan['ampActivation'] | 'phase', channels: number, ampScale = 1): string {
  if (kind === 'phase') return g.scale(`${name}_pi`, g.add('Activation', `${name}_tanh`, { activation: 'tanh' }, [input]), channels, Math.PI);
  if (kind === 'scaled_sigmoid')
    return g.scale(`${name}_scale`, g.add('Activation', `${name}_sigmoid`, { activation: 'sigmoid' }, [input]), channels, 2 * ampScale);
  return g.add('Activation', `${name}_${kind}`, { activation: kind }, [input]);
}

type Weight = { shape: readonly number[]; values: Float32Array };

/** The graph being built with the weights it reads. */
interface Ctx {
  g: Graph;
  plan: NetworkPlan;
  w: (name: string) => Weight;
  /** A checkpoint convolution as a Conv2D layer (its kernel replaced when given). */
  conv: (name: string, input: string, act: string, kernel?: Weight) => string;
  up: (name: string, x: string) => string;
}

const pad = (q: number): Record<string, unknown> => ({
  padding: [
    [q, q],
    [q, q],
  ],
  data_format: 'channels_last',
});

/** One decoder branch from the bottleneck to its named output. */
function decodeBranch(c: Ctx, z: string, branch: 'amp' | 'phase'): string {
  const { g, plan, conv, up } = c;
  const act = branch === 'amp' ? plan.ampActivation : 'phase';
  const out = branch === 'amp' ? 'amplitude' : 'phase';
  let x = z;
  plan.body.forEach((_, j) => {
    x = up(`${branch}_block${j}_up`, conv(`${branch}/block${j}/conv1`, conv(`${branch}/block${j}/conv0`, x, 'relu'), 'relu'));
  });
  if (plan.support === 'full') {
    let y = up(`${branch}_up_up`, conv(`${branch}/up/conv1`, conv(`${branch}/up/conv0`, x, 'relu'), 'relu'));
    for (let r = 0; r < plan.fullResConvs; r++) y = conv(`${branch}/full_res/conv${r}`, y, 'relu');
    return rename(g, activation(g, `${branch}_head`, conv(`${branch}/head_full`, y, 'linear'), act, plan.C, plan.ampScale), out);
  }
  const ch = plan.bodyChannels;
  const q = plan.N / 4;
  const head = conv(`${branch}/head_center`, x, 'linear', widenKernel(c.w(`${branch}/head_center/kernel`), ch, 0));
  const centre = g.add('ZeroPadding2D', `${branch}_center_pad`, pad(q), [activation(g, `${branch}_head`, head, act, plan.C, plan.ampScale)]);
  if (plan.support === 'center') return rename(g, centre, out);
  // The border branch reads the body's last channels: as many as its first kernel takes.
  const borderK = c.w(`${branch}/border/conv0/kernel`);
  const b0 = conv(`${branch}/border/conv0`, x, 'relu', widenKernel(borderK, ch, ch - borderK.shape[2]!));
  const b = up(`${branch}_border_up`, conv(`${branch}/border/conv1`, b0, 'relu'));
  const border = g.add('Activation', `${branch}_border_swish`, { activation: 'swish' }, [conv(`${branch}/head_border`, b, 'linear')]);
  const crop = g.add(
    'Cropping2D',
    `${branch}_border_crop`,
    {
      cropping: [
        [q, q],
        [q, q],
      ],
      data_format: 'channels_last',
    },
    [border],
  );
  const minus = g.scale(`${branch}_border_minus`, g.add('ZeroPadding2D', `${branch}_border_inner`, pad(q), [crop]), plan.C, -1);
  return g.add('Add', out, {}, [centre, border, minus]);
}

/**
 * The LayersModel artifacts of a network: input (B,N,N,C) normalised
 * diffraction amplitudes as the network sees them, outputs `amplitude` and
 * `phase` (B,N,N,C), the object patches of PtychoPINN.predict as |O| and arg O.
 * `inputFactor` is the intensity rescaling the model applies to X before the
 * network (1 unless the intensity scale is trained).
 */
export function layersArtifacts(plan: NetworkPlan, weights: WeightValues, inputFactor = 1): LayersArtifacts {
  const g = new Graph();
  const w = (name: string): Weight => {
    const v = weights.get(name);
    if (v === undefined) throw new Error(`export: weight '${name}' missing`);
    return v;
  };
  const c: Ctx = {
    g,
    plan,
    w,
    conv: (name, input, act, kernel = w(`${name}/kernel`)) => g.conv(name.replaceAll('/', '_'), input, kernel, w(`${name}/bias`).values, act),
    up: (name, x) => g.add('UpSampling2D', name, { size: [2, 2], data_format: 'channels_last', interpolation: 'nearest' }, [x]),
  };
  const input = g.add('InputLayer', 'diffraction', { batch_input_shape: [null, plan.N, plan.N, plan.C], sparse: false }, []);
  let z = input;
  plan.encoder.forEach((_, i) => {
    let k0 = w(`encoder/block${i}/conv0/kernel`);
    if (i === 0 && inputFactor !== 1) k0 = { shape: k0.shape, values: k0.values.map((v) => v * inputFactor) };
    z = c.conv(`encoder/block${i}/conv1`, c.conv(`encoder/block${i}/conv0`, z, 'relu', k0), 'relu');
    z = g.add('MaxPooling2D', `encoder_block${i}_pool`, { pool_size: [2, 2], strides: [2, 2], padding: 'valid', data_format: 'channels_last' }, [z]);
  });
  const outputs = [decodeBranch(c, z, 'amp'), decodeBranch(c, z, 'phase')];
  const modelTopology = {
    class_name: 'Model',
    config: { name: 'ptychopinn', layers: g.layers, input_layers: [[input, 0, 0]], output_layers: outputs.map((o) => [o, 0, 0]) },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
  const weightData = new Uint8Array(g.parts.reduce((a, p) => a + p.byteLength, 0));
  let off = 0;
  for (const p of g.parts) {
    weightData.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off);
    off += p.byteLength;
  }
  return { modelTopology, weightSpecs: g.specs, weightData };
}

/** Gives a branch's last tensor the output's name with an identity (linear Activation) layer. */
function rename(g: Graph, x: string, name: string): string {
  return g.add('Activation', name, { activation: 'linear' }, [x]);
}
