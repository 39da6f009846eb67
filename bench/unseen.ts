// Unseen-scan benchmark (issue #17): trains a network on a simulated corpus
// (scans 0…K−1 of the object family) and scores it on held-out scans whose
// objects the corpus never drew (first_scan 1000 + j): the network alone, the
// network + 10 refine passes, refine from a flat object with 10 and 50 passes,
// ePIE with the known probe (150 passes: what the data allow, bench/ceiling.ts)
// and a constant image (the SSIM floor). Each case is its own pipeline run, so
// its wall time is the time to result for one scan. Every case and the floor
// are scored over the scan box ± crop-margin (default 0: the box ± N/4 that
// evaluate uses by default holds corners no window lights, docs/RESULTS.md).
// Small by design (N = 32):
//   npm run bench -- unseen [--scans 12] [--epochs 8] [--held 3] [--backend tensorflow] [--crop-margin 0]
//     [--per all|scan] [--gridsize 1] [--support auto] [--act sigmoid] [--lr 1e-3]
//     [--batch 8] [--size 72] [--train '{"key":value}'] [--infer '{"stitch_window":"taper"}']
//     [--amp-min 0.3,0.5] [--skip-train] [--network-only] [--out DIR]
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { builtinRegistry } from '../src/components.js';
import { runPipelineFile } from '../src/pipeline/index.js';
import { evaluateObject } from '../src/physics/metrics.js';
import { scanCrop } from '../src/sinks/shared/object-frame.js';
import simulate from '../src/sources/simulate.js';
import type { Frame, Stream } from '../src/pipeline/types.js';
import { createStage, testContext } from '../src/testing/index.js';
import { arg, pairArg } from './args.js';

interface Score {
  amp: number;
  phase: number;
  seconds: number;
}

/** The bench's simulated scans; ampMin overrides the family's range of the smallest amplitude (another contrast). */
export function sim(o: { size: number; scans: number; first: number; ampMin?: [number, number] | undefined }): Record<string, unknown> {
  return {
    N: 32,
    object: { kind: 'family', size: o.size, ...(o.ampMin !== undefined ? { amp_min: o.ampMin } : {}) },
    probe: { radius: 8 },
    scan: { pattern: 'spiral', step: 2.5 },
    nphotons: 1e5,
    scans: o.scans,
    first_scan: o.first,
  };
}

const yaml = (doc: unknown): string => JSON.stringify(doc, null, 1);

async function runDoc(file: string, doc: unknown, outDir: string): Promise<{ sinks: Record<string, unknown>; seconds: number; cpu: number }> {
  await writeFile(file, yaml(doc));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { summary, error } = await runPipelineFile(file, { registry: builtinRegistry(), outDir });
  if (error !== undefined) throw error instanceof Error ? error : new Error(JSON.stringify(error));
  const c = process.cpuUsage(c0);
  return { sinks: summary.sinks, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

const ssim = (m: unknown): { amp: number; phase: number } => {
  const r = m as { amplitude: { ssim: number }; phase: { ssim: number } };
  return { amp: r.amplitude.ssim, phase: r.phase.ssim };
};

export async function run(args: string[]): Promise<void> {
  const K = Number(arg(args, 'scans', '12'));
  const epochs = Number(arg(args, 'epochs', '8'));
  const held = Number(arg(args, 'held', '3'));
  const backend = arg(args, 'backend', 'tensorflow');
  const per = arg(args, 'per', 'all');
  const g = Number(arg(args, 'gridsize', '1'));
  const size = Number(arg(args, 'size', '72'));
  const margin = Number(arg(args, 'crop-margin', '0'));
  const ampMin = pairArg(args, 'amp-min');
  const out = path.resolve(arg(args, 'out', path.join(os.tmpdir(), 'pf-unseen')));
  const extra = JSON.parse(arg(args, 'train', '{}')) as Record<string, unknown>;
  const inferExtra = JSON.parse(arg(args, 'infer', '{}')) as object;
  const train = {
    type: 'train',
    inputs: ['train_tensors', 'val_tensors'],
    n_filters_scale: Number(arg(args, 'fscale', '0.5')),
    nphotons: 1e5,
    epochs,
    lr: Number(arg(args, 'lr', '1e-3')),
    object_support: arg(args, 'support', 'auto'),
    amp_activation: arg(args, 'act', 'sigmoid'),
    reduce_lr: { factor: 0.5, patience: 2, min_lr: 1e-4 },
    early_stop: { patience: 4 },
    collapse: { action: 'warn' },
    checkpoint_dir: 'checkpoint',
    ...extra,
  };
  const common = { seed: 2024, backend };
  const trainDir = path.join(out, 'train');
  await mkdir(trainDir, { recursive: true });
  let trained: { seconds: number; cpu: number; summary: unknown } | undefined;
  if (!args.includes('--skip-train')) {
    const r = await runDoc(
      path.join(out, 'train.json'),
      {
        ...common,
        output: trainDir,
        sources: { corpus: { type: 'simulate', ...sim({ size, scans: K, first: 0, ampMin }) } },
        transforms: {
          normalized: { type: 'normalize', inputs: ['corpus'], per },
          groups: { type: 'group', inputs: ['normalized'], gridsize: g, k: 7 },
          parts: { type: 'split', inputs: ['groups'], by: 'scan', fractions: { train: 0.85, validation: 0.15 } },
          shuffled: { type: 'shuffle', inputs: ['parts'] },
          train_batches: { type: 'batch', inputs: ['shuffled'], batch_size: Number(arg(args, 'batch', '8')) },
          train_tensors: { type: 'tensorify', inputs: ['train_batches'] },
          val_batches: { type: 'batch', inputs: ['parts.validation'], batch_size: 32 },
          val_tensors: { type: 'tensorify', inputs: ['val_batches'] },
        },
        sinks: { train },
      },
      trainDir,
    );
    trained = { seconds: r.seconds, cpu: r.cpu, summary: r.sinks['train'] };
    process.stderr.write(`train: ${r.seconds.toFixed(0)} s wall, ${r.cpu.toFixed(0)} s CPU: ${JSON.stringify(r.sinks['train']).slice(0, 400)}\n`);
  }
  const rows: Record<string, Score | number>[] = [];
  for (let j = 0; j < held; j++) {
    const dir = path.join(out, `scan${j}`);
    await mkdir(dir, { recursive: true });
    const source = { scan: { type: 'simulate', ...sim({ size, scans: 1, first: 1000 + j, ampMin }) } };
    const norm = { normalized: { type: 'normalize', inputs: ['scan'], checkpoint: path.join(trainDir, 'checkpoint') } };
    const grouped = {
      groups: { type: 'group', inputs: ['normalized'], gridsize: g, k: 7 },
      all_batches: { type: 'batch', inputs: ['groups'], batch_size: 32 },
      all_tensors: { type: 'tensorify', inputs: ['all_batches'] },
    };
    const singles = {
      singles: { type: 'group', inputs: ['normalized'], gridsize: 1 },
      single_batches: { type: 'batch', inputs: ['singles'], batch_size: 32 },
      single_tensors: { type: 'tensorify', inputs: ['single_batches'] },
    };
    const infer = {
      type: 'infer',
      inputs: ['all_tensors'],
      checkpoint: path.join(trainDir, 'checkpoint'),
      ...inferExtra,
    };
    const evaluate = { type: 'evaluate', truth: 'scan', crop_margin: margin };
    const cases: Record<string, unknown> = {
      network: { transforms: { ...norm, ...grouped }, sinks: { infer, evaluate: { ...evaluate, inputs: ['infer'] } } },
      network_refine10: {
        transforms: { ...norm, ...grouped, ...singles },
        sinks: { infer, refine: { type: 'refine', inputs: ['single_tensors', 'infer'], epochs: 10 }, evaluate: { ...evaluate, inputs: ['refine'] } },
      },
      flat10: {
        transforms: { normalized: { type: 'normalize', inputs: ['scan'] }, ...singles },
        sinks: { refine: { type: 'refine', inputs: ['single_tensors'], epochs: 10 }, evaluate: { ...evaluate, inputs: ['refine'] } },
      },
      flat50: {
        transforms: { normalized: { type: 'normalize', inputs: ['scan'] }, ...singles },
        sinks: { refine: { type: 'refine', inputs: ['single_tensors'], epochs: 50 }, evaluate: { ...evaluate, inputs: ['refine'] } },
      },
      epie150: { sinks: { epie: { type: 'epie', inputs: ['scan'], epochs: 150 }, evaluate: { ...evaluate, inputs: ['epie'] } } },
    };
    const row: Record<string, Score | number> = { scan: 1000 + j };
    for (const [name, c] of Object.entries(cases)) {
      if (args.includes('--network-only') && name !== 'network') continue;
      const r = await runDoc(
        path.join(dir, `${name}.json`),
        { ...common, output: path.join(dir, name), sources: source, ...(c as object) },
        path.join(dir, name),
      );
      row[name] = { ...ssim(r.sinks['evaluate']), seconds: +r.seconds.toFixed(2) };
    }
    // The floor: a constant object scored over the cases' crop (before their registration trims it).
    const s = (await createStage(simulate, sim({ size, scans: 1, first: 1000 + j, ampMin }), [], testContext({ id: 'scan', seed: 2024 }))) as Stream<Frame>;
    const truth = s.meta.scan!.object!;
    const crop = scanCrop(s.meta.scan!, margin);
    await s.close?.();
    const flat = { height: truth.height, width: truth.width, re: new Float32Array(truth.re.length).fill(1), im: new Float32Array(truth.re.length) };
    const f = evaluateObject(truth, flat, { crop, register: false });
    row['constant'] = { amp: f.amplitude.ssim, phase: f.phase.ssim, seconds: 0 };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  // With --skip-train the corpus options above were not used: record the checkpoint scored instead.
  const corpus = trained !== undefined ? { K, epochs, per, train, trained } : { scored_checkpoint: path.join(trainDir, 'checkpoint') };
  const result = { ...corpus, gridsize: g, backend, crop_margin: margin, amp_min: ampMin ?? 'family default', infer: inferExtra, rows };
  await writeFile(path.join(out, 'result.json'), JSON.stringify(result, null, 1));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
