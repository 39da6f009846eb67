// `ptychoflow export CHECKPOINT --format tfjs-layers OUT`: the trained network
// as a standard tfjs LayersModel directory (model.json + weights.bin) that
// `tf.loadLayersModel` opens in any project, without ptychoflow (docs/checkpoints.md).
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { selectBackend } from '../backend/select.js';
import { OptionsError } from '../errors.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { layersArtifacts } from '../model/export-layers.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ptychoflowVersion } from '../util/version.js';
import { EXIT, type CliIO } from './io.js';

export interface ExportFlags {
  format: 'tfjs-layers';
  json?: boolean;
}

const GENERATED_BY = 'ptychoflow export';

/** OUT may be new, empty, or an earlier export (only its two files): nothing else is ever overwritten. */
async function assertExportTarget(out: string, checkpoint: string): Promise<void> {
  if (path.resolve(out) === path.resolve(checkpoint)) {
    throw new OptionsError('EXPORT_TARGET_NOT_OURS', `the output directory ${out} is the checkpoint itself`, {
      file: out,
      hint: 'name a new directory for the exported model',
    });
  }
  if (!existsSync(out)) return;
  const entries = await readdir(out).catch(() => {
    throw new OptionsError('OUTPUT_NOT_A_DIRECTORY', `${out} exists and is not a directory`, {
      file: out,
      hint: 'name a new directory for the exported model',
    });
  });
  if (entries.length === 0) return;
  const ours = entries.every((e) => e === 'model.json' || e === 'weights.bin');
  const mj =
    ours && entries.includes('model.json')
      ? ((JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8').catch(() => '{}')) as { generatedBy?: unknown }).generatedBy ?? '')
      : '';
  if (!(typeof mj === 'string' && mj.startsWith(GENERATED_BY))) {
    throw new OptionsError(
      'EXPORT_TARGET_NOT_OURS',
      `${out} holds files that an export did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`,
      {
        file: out,
        hint: 'name a new or empty directory; only an earlier export is replaced',
      },
    );
  }
}

export async function exportCommand(checkpoint: string, out: string, o: ExportFlags, io: CliIO): Promise<number> {
  await assertExportTarget(out, checkpoint);
  await selectBackend('cpu');
  const { model, sidecar, optimizerState } = await loadCheckpoint(checkpoint);
  for (const t of optimizerState ?? []) t.tensor.dispose();
  let art;
  try {
    const weights = new Map(model.namedVariables().map((v) => [v.name, { shape: v.variable.shape, values: v.variable.dataSync<'float32'>().slice() }]));
    // The model scales X by s₀/s before the network when s is trained; the export folds that into the first kernel.
    art = layersArtifacts(model.plan, weights, model.baseScale / model.intensityScale());
  } finally {
    model.dispose();
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: `${GENERATED_BY} ${ptychoflowVersion()}`,
    convertedBy: null,
    modelTopology: art.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: art.weightSpecs }],
    userDefinedMetadata: {
      ptychoflow: {
        checkpoint: path.relative(path.resolve(out), path.resolve(checkpoint)),
        epoch: sidecar.epoch,
        normalization: sidecar.normalization,
        config: model.config,
        support: model.supportMode,
      },
      inputs: 'diffraction: (B,N,N,C) amplitudes normalised as in training (multiply raw sqrt(counts) by `normalization`)',
      outputs: 'amplitude, phase: (B,N,N,C) object patches |O| and arg O',
    },
  };
  // weights.bin first: model.json names it, so a model.json on disk always has its weights.
  await writeFileAtomic(path.join(out, 'weights.bin'), art.weightData);
  await writeFileAtomic(path.join(out, 'model.json'), JSON.stringify(modelJson));
  const summary = {
    out: path.resolve(out),
    format: o.format,
    layers: (art.modelTopology.config as { layers: unknown[] }).layers.length,
    weights: art.weightSpecs.length,
    bytes: art.weightData.byteLength,
  };
  io.stdout.write(
    o.json === true
      ? JSON.stringify(summary) + '\n'
      : `exported ${checkpoint} → ${out} (tfjs LayersModel: ${summary.layers} layers, ${(summary.bytes / 1e6).toFixed(2)} MB of weights)\n`,
  );
  return EXIT.ok;
}
