// Checkpoints: a directory with `model.json` + `weights.bin` in the standard
// tfjs weights-manifest layout (format 'ptychoflow': the topology is described,
// not a tf.layers graph), `ptychoflow.json` (config, normalisation, probe,
// intensity scale, epoch, seed, history, training state, optimizer manifest)
// and `optimizer.bin` (Adam's slots). Written into a sibling temp directory and
// swapped in by rename, so the previous checkpoint stays whole until the new
// one is complete; a crash between the two renames leaves `<dir>.old-*`, which
// the next save or resume puts back (checkpoint-dir.ts). Only a ptychoflow
// checkpoint (or an empty directory) is ever replaced.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '../tf.js';
import { DataError, FormatError } from '../errors.js';
import { trackTemp } from '../util/signals.js';
import { assertCheckpointTarget, recoverCheckpointDir } from './checkpoint-dir.js';
import { modeOf, readJson, resolveDir } from './checkpoint-sidecar.js';
import type { Complex2D } from '../records/index.js';
import { modelConfigSchema, type ModelConfig } from './config.js';
import { ownedByCaller, type NamedTensor } from './optimizer.js';
import { PtychoPINN } from './pinn.js';

export { makeOptimizer, ResumableAdam, type NamedTensor } from './optimizer.js';
export { assertCheckpointTarget, isCheckpointDir, prepareCheckpointDir, recoverCheckpointDir } from './checkpoint-dir.js';

/** Test hook: called between the steps of a save (to simulate a crash there). */
let saveHook: ((step: 'written' | 'swapped-out') => void) | undefined;
export function setSaveHook(hook: typeof saveHook): void {
  saveHook = hook;
}

export interface CheckpointSidecar {
  config: ModelConfig;
  /** Diffraction normalisation factor the model was trained with (SPEC §3). */
  normalization: number;
  /** 'scan': every scan was normalised on its own (a new scan is too); 'all': one shared factor (absent: 'all'). */
  normalization_mode?: 'all' | 'scan';
  intensityScale: number;
  /** Epochs completed. */
  epoch: number;
  seed: number;
  history?: readonly unknown[];
  /** Free-form training state (schedule counters, data cursor) for resume. */
  train?: unknown;
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}
type Manifest = { paths: string[]; weights: WeightEntry[] }[];

const FORMAT = 'ptychoflow';
const VERSION = 1;

function pack(entries: { name: string; tensor: tf.Tensor }[]): { manifest: WeightEntry[]; data: Uint8Array } {
  const parts = entries.map((e) => {
    if (e.tensor.dtype !== 'float32' && e.tensor.dtype !== 'int32')
      throw new DataError('CHECKPOINT_DTYPE', `cannot save '${e.name}' of dtype ${e.tensor.dtype}`);
    const v = e.tensor.dataSync();
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  });
  const data = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.byteLength;
  }
  return { manifest: entries.map((e) => ({ name: e.name, shape: e.tensor.shape, dtype: e.tensor.dtype as 'float32' | 'int32' })), data };
}

function unpack(manifest: WeightEntry[], bytes: Buffer, file: string): NamedTensor[] {
  const out: NamedTensor[] = [];
  let off = 0;
  for (const w of manifest) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (off + 4 * n > bytes.byteLength) {
      for (const t of out) t.tensor.dispose();
      throw new FormatError('CHECKPOINT_TRUNCATED', `'${w.name}' runs past the end of the file (${bytes.byteLength} bytes)`, {
        file,
        hint: 'the checkpoint is incomplete; retrain or use an older one',
      });
    }
    const copy = bytes.buffer.slice(bytes.byteOffset + off, bytes.byteOffset + off + 4 * n);
    const values = w.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    out.push({ name: w.name, tensor: tf.tensor(values, w.shape, w.dtype) });
    off += 4 * n;
  }
  return out;
}

const stableName = (name: string): string => name.replace(/^ptychoflow\d+\//, '');

/** Writes a checkpoint directory atomically (see the file comment). */
export async function saveCheckpoint(dir: string, model: PtychoPINN, sidecar: CheckpointSidecar, optimizer?: tf.Optimizer): Promise<void> {
  const named = model.namedVariables();
  const net = named.filter((v) => !v.name.startsWith('probe/') && v.name !== 'log_intensity_scale');
  const weights = pack(net.map((v) => ({ name: v.name, tensor: v.variable })));
  let opt: { manifest: WeightEntry[]; data: Uint8Array } | undefined;
  if (optimizer !== undefined) {
    const state = await optimizer.getWeights();
    try {
      opt = pack(state.map((s) => ({ name: stableName(s.name), tensor: s.tensor })));
    } finally {
      state.forEach((s, i) => {
        if (ownedByCaller(s, i)) s.tensor.dispose();
      });
    }
  }
  const probe = model.probe();
  const logScale = named.find((v) => v.name === 'log_intensity_scale')!.variable.dataSync()[0]!;
  const modelJson = {
    format: FORMAT,
    generatedBy: `ptychoflow checkpoint v${VERSION}`,
    convertedBy: null,
    modelTopology: { class_name: 'PtychoPINN', config: model.config, support: model.supportMode, plan: model.plan, param_count: model.paramCount() },
    weightsManifest: [{ paths: ['weights.bin'], weights: weights.manifest }] satisfies Manifest,
  };
  const side = {
    format: FORMAT,
    version: VERSION,
    ...sidecar,
    config: model.config,
    support_mode: model.supportMode,
    seed: sidecar.seed,
    probe: { N: probe.width, factor: model.probeFactor, re: Array.from(probe.re), im: Array.from(probe.im) },
    log_intensity_scale: logScale,
    ...(opt !== undefined
      ? { optimizer: { class: optimizer?.getClassName(), weightsManifest: [{ paths: ['optimizer.bin'], weights: opt.manifest }] satisfies Manifest } }
      : {}),
  };

  const parent = path.dirname(path.resolve(dir));
  await mkdir(parent, { recursive: true });
  await recoverCheckpointDir(dir);
  assertCheckpointTarget(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${dir}.tmp-${tag}`;
  const untrack = trackTemp(tmp);
  try {
    await mkdir(tmp);
    await writeFile(path.join(tmp, 'weights.bin'), weights.data);
    if (opt !== undefined) await writeFile(path.join(tmp, 'optimizer.bin'), opt.data);
    await writeFile(path.join(tmp, 'model.json'), JSON.stringify(modelJson, null, 1));
    // The sidecar is written last: its presence marks a complete checkpoint.
    await writeFile(path.join(tmp, 'ptychoflow.json'), JSON.stringify(side));
    saveHook?.('written');
    if (existsSync(dir)) {
      const old = `${dir}.old-${tag}`;
      await rename(dir, old);
      try {
        saveHook?.('swapped-out');
        await rename(tmp, dir);
      } catch (e) {
        await rename(old, dir).catch(() => undefined);
        throw e;
      }
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, dir);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    untrack();
  }
}

/** One binary part of a checkpoint; a missing one is a typed error naming it. */
async function readPart(root: string, name: string): Promise<Buffer> {
  const file = path.join(root, name);
  try {
    return await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new FormatError('CHECKPOINT_INCOMPLETE', `${name} is missing though the checkpoint lists it`, {
      file,
      cause: e,
      hint: 'the checkpoint is incomplete; restore it, or train without resume: true',
    });
  }
}

/** Loads a checkpoint: the model (weights, probe, scale restored), its sidecar, and the optimizer state for optimizer.setWeights (caller disposes). */
export async function loadCheckpoint(dir: string): Promise<{ model: PtychoPINN; sidecar: CheckpointSidecar; optimizerState?: NamedTensor[] }> {
  const root = await resolveDir(dir);
  const sideFile = path.join(root, 'ptychoflow.json');
  const side = await readJson(sideFile);
  const mj = await readJson(path.join(root, 'model.json'));
  if (side.format !== FORMAT || mj.format !== FORMAT)
    throw new FormatError('CHECKPOINT_FORMAT', `not a ptychoflow checkpoint (format ${String(side.format)})`, { file: root });
  const parsed = modelConfigSchema.safeParse(side.config);
  if (!parsed.success) throw new FormatError('CHECKPOINT_CONFIG', `stored model config does not validate: ${parsed.error.message}`, { file: sideFile });
  const pr = side.probe as { N: number; factor: number; re: number[]; im: number[] } | undefined;
  if (pr === undefined || pr.re.length !== pr.N * pr.N || pr.im.length !== pr.N * pr.N)
    throw new FormatError('CHECKPOINT_PROBE', 'probe missing or of the wrong size', { file: sideFile, key: 'probe' });
  const probe: Complex2D = { height: pr.N, width: pr.N, re: Float32Array.from(pr.re), im: Float32Array.from(pr.im) };
  const seed = Number(side.seed);
  const model = PtychoPINN.restore(parsed.data, probe, Number(pr.factor), seed);
  const tensors: tf.Tensor[] = [];
  try {
    const manifest = (mj.weightsManifest as Manifest | undefined)?.[0]?.weights ?? [];
    const stored = unpack(manifest, await readPart(root, 'weights.bin'), path.join(root, 'weights.bin'));
    tensors.push(...stored.map((s) => s.tensor));
    const byName = new Map(stored.map((s) => [s.name, s.tensor]));
    const values = model.namedVariables().map((v) => {
      if (v.name === 'probe/re' || v.name === 'probe/im') return v.variable.clone();
      if (v.name === 'log_intensity_scale') return tf.scalar(Number(side.log_intensity_scale));
      const t = byName.get(v.name);
      if (t === undefined) throw new FormatError('CHECKPOINT_WEIGHTS', `weight '${v.name}' missing from weights.bin`, { file: root });
      return t;
    });
    tensors.push(...values);
    model.setWeights(values);
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const t of tensors) t.dispose();
  }
  let optimizerState: NamedTensor[] | undefined;
  const om = (side.optimizer as { weightsManifest?: Manifest } | undefined)?.weightsManifest?.[0]?.weights;
  if (om !== undefined) {
    const file = path.join(root, 'optimizer.bin');
    try {
      optimizerState = unpack(om, await readPart(root, 'optimizer.bin'), file);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const sidecar: CheckpointSidecar = {
    config: model.config,
    normalization: Number(side.normalization),
    normalization_mode: modeOf(side),
    intensityScale: model.intensityScale(),
    epoch: Number(side.epoch),
    seed,
    ...(Array.isArray(side.history) ? { history: side.history as unknown[] } : {}),
    ...(side.train !== undefined ? { train: side.train } : {}),
  };
  return { model, sidecar, ...(optimizerState !== undefined ? { optimizerState } : {}) };
}

export { readNormalization } from './checkpoint-sidecar.js';
