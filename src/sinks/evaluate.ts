// The `evaluate` sink (SPEC §7): scores the object an `infer` sink wrote (its
// NPZ, run with `after: [infer]`) against a ground truth — the scan's
// objectGuess or an array in another NPZ (e.g. a reference reconstruction) —
// and writes metrics.json, the FRC curve and a truth/reconstruction figure.
// It reads only its input's metadata (truth, scan positions), never its records.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import { relativeInside } from '../io/paths.js';
import { linePlot, renderImage, sideBySide, writePng } from '../io/png.js';
import { evaluateObject, type CropBox, type EvalResult } from '../physics/metrics.js';
import { defineSink, type Complex2D, type Json, type ScanMeta, type StageContext, type Stream } from '../pipeline/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { scanCrop, toObjectFrame } from './shared/object-frame.js';
import { readComplex } from './shared/reconstruction.js';
import { outPath, readReconstruction } from './shared/util.js';

const box = z.object({ x0: z.number(), y0: z.number(), x1: z.number(), y1: z.number() }).strict();

const options = z
  .object({
    reconstruction: z
      .string()
      .default('reconstruction.npz')
      .describe(
        'Without an input: the NPZ of an earlier run (infer or refine) to score, relative to the run output directory; within one run take the record instead (inputs: [infer])',
      ),
    reconstruction_key: z.string().default('object').describe('complex array in the reconstruction NPZ'),
    truth: z.string().default('scan').describe("'scan' = the objectGuess of the input scan, or the path of an NPZ (relative to the pipeline file)"),
    truth_key: z.string().optional().describe('array in the truth NPZ (default: objectGuess, else object)'),
    crop: z
      .union([z.literal('scan'), z.literal('none'), box])
      .default('scan')
      .describe("'scan' = scan box ± crop_margin, 'none', or {x0,y0,x1,y1} in object pixels"),
    crop_margin: z.number().nonnegative().optional().describe('pixels added around the scan box (default N/4, the half-width of the stitched M = N/2 centre)'),
    register: z.boolean().default(true).describe('register the reconstruction with sub-pixel phase correlation first'),
    register_on: z.enum(['complex', 'amplitude']).default('complex').describe('fields used for registration'),
    upsample: z.number().int().min(1).max(1000).default(50).describe('registration precision is 1/upsample pixels'),
    max_shift: z
      .number()
      .positive()
      .optional()
      .describe(
        'largest registration shift (px per axis) to apply; a larger one is distrusted and the images are scored unshifted (default: 1/8 of the cropped side)',
      ),
    phase_align: z.enum(['plane', 'mean', 'none']).default('plane').describe('what to remove from the phase difference before scoring'),
    amplitude_scale: z.enum(['mean_ratio', 'none']).default('mean_ratio').describe('scale the reconstructed amplitude by mean(truth)/mean(recon)'),
    metrics: z.string().default('metrics.json').describe('metrics JSON, relative to the output directory'),
    frc_png: z.string().default('frc.png').describe('FRC curve image, relative to the output directory'),
    figure_png: z.string().default('comparison.png').describe('truth/reconstruction figure, relative to the output directory'),
  })
  .strict();

/** JSON numbers cannot be ±Infinity or NaN: those become null (PSNR null = identical images). */
const finite = (v: number | null): number | null => (v !== null && Number.isFinite(v) ? v : null);

export function metricsJson(r: EvalResult): Json {
  const s = (x: EvalResult['amplitude']): Json => ({
    mae: finite(x.mae),
    mse: finite(x.mse),
    psnr: finite(x.psnr),
    ssim: finite(x.ssim),
    data_range: finite(x.data_range),
  });
  return {
    shift: r.shift,
    ...(r.rejected_shift === undefined ? {} : { rejected_shift: r.rejected_shift }),
    crop: { ...r.crop },
    amplitude: s(r.amplitude),
    phase: s(r.phase),
    amplitude_factor: finite(r.amplitude_factor),
    phase_plane: { a: r.phase_plane.a, b: r.phase_plane.b, c: r.phase_plane.c },
    frc: {
      frc_half: finite(r.frc.frc_half),
      frc_17: finite(r.frc.frc_17),
      frc_half_ring: r.frc.frc_half_ring,
      frc_17_ring: r.frc.frc_17_ring,
      size: r.frc.size,
      freq: r.frc.freq,
      curve: r.frc.curve.map((v) => finite(v)),
    },
  };
}

type Options = z.output<typeof options>;

/** The ground truth: the scan's objectGuess, or an array in another NPZ. */
async function loadTruth(o: Options, scan: ScanMeta | undefined, ctx: StageContext): Promise<{ truth: Complex2D; label: string }> {
  if (o.truth !== 'scan') {
    const file = path.resolve(ctx.baseDir, o.truth);
    return { truth: await readComplex(file, o.truth_key, ['objectGuess', 'object'], ctx.id), label: file };
  }
  if (scan?.object === undefined) {
    throw new DataError('NO_TRUTH', `the input scan (${scan?.origin ?? 'no input stream'}) has no objectGuess to evaluate against`, {
      stage: ctx.id,
      hint: "give the source an NPZ with an 'objectGuess' array, or set the evaluate option `truth` to an NPZ path (and `truth_key`)",
    });
  }
  return { truth: scan.object, label: `objectGuess of ${scan.origin}` };
}

/** The reconstruction placed on the truth's pixel grid: the record from infer/refine (inputs: [infer]), or an NPZ of an earlier run. */
async function loadReconstruction(
  o: Options,
  input: Stream<unknown> | undefined,
  truth: Complex2D,
  ctx: StageContext,
): Promise<{ recon: Complex2D; file: string }> {
  const given = input === undefined ? undefined : await readReconstruction(input, ctx, 'input 0');
  const file = given?.file ?? path.resolve(ctx.outDir, o.reconstruction);
  const raw: Complex2D & { origin?: [number, number] } =
    given === undefined ? await readComplex(file, o.reconstruction_key, [], ctx.id) : { ...given.object, origin: [given.origin[0], given.origin[1]] };
  if (raw.origin === undefined && (raw.height !== truth.height || raw.width !== truth.width)) {
    ctx.log.warn('reconstruction has no origin and another shape than the truth: assuming both start at object pixel (0, 0)', {
      recon: `${raw.height}x${raw.width}`,
      truth: `${truth.height}x${truth.width}`,
    });
  }
  return { recon: toObjectFrame(raw, raw.origin?.[0] ?? 0, raw.origin?.[1] ?? 0, truth.height, truth.width), file };
}

/** The scored region from the `crop` option; refused when it leaves less than 16×16 pixels of the object. */
function cropBox(o: Options, scan: ScanMeta | undefined, truth: Complex2D, stage: string): CropBox | undefined {
  let crop: CropBox | undefined;
  if (o.crop === 'scan' && scan !== undefined) crop = scanCrop(scan, o.crop_margin);
  else if (typeof o.crop === 'object') crop = o.crop;
  if (crop !== undefined && (Math.min(crop.x1, truth.width) - Math.max(crop.x0, 0) < 16 || Math.min(crop.y1, truth.height) - Math.max(crop.y0, 0) < 16)) {
    throw new OptionsError('BAD_CROP', `crop ${JSON.stringify(crop)} leaves less than 16×16 pixels of the ${truth.height}×${truth.width} object`, {
      stage,
      hint: 'check the crop option and that the truth belongs to this scan',
    });
  }
  return crop;
}

async function writeFrcPlot(file: string, r: EvalResult): Promise<void> {
  const fmt = (v: number | null): string => (v === null ? '< 2 px' : `${v.toFixed(1)} px`);
  const plot = linePlot([{ name: 'FRC', x: r.frc.freq, y: r.frc.curve }], {
    title: `FRC  0.5: ${fmt(r.frc.frc_half)}  1/7: ${fmt(r.frc.frc_17)}`,
    xlabel: 'spatial frequency (1/px)',
    ylabel: 'correlation',
    xmin: 0,
    xmax: 0.5,
    ymin: 0,
    ymax: 1.05,
    hlines: [
      { y: 0.5, label: '0.5' },
      { y: 1 / 7, label: '1/7' },
    ],
  });
  await writePng(file, plot.rgba, plot.width, plot.height);
}

/** Truth and reconstruction side by side, amplitude and phase, each pair on the truth's colour range. */
async function writeFigure(file: string, r: EvalResult): Promise<void> {
  const im = r.images,
    scale = Math.max(1, Math.min(4, Math.floor(360 / Math.max(im.width, im.height))));
  let lo = Infinity,
    hi = -Infinity; // the truth's range for both, so the colours compare
  for (const v of im.truthAmp) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const amp = { colormap: 'viridis' as const, min: lo, max: hi, colorbar: true, scale };
  // Phase on the cyclic map over ±π, or over the truth's range when it is small (contrast).
  let plo = Infinity,
    phi = -Infinity;
  for (const v of im.truthPhase) {
    plo = Math.min(plo, v);
    phi = Math.max(phi, v);
  }
  const ph = { colormap: 'twilight' as const, ...(phi - plo < Math.PI ? { min: plo, max: phi } : { min: -Math.PI, max: Math.PI }), colorbar: true, scale };
  const wrapped = (a: Float32Array): Float32Array => a.map((v) => v - 2 * Math.PI * Math.round(v / (2 * Math.PI)));
  const fig = sideBySide(
    [
      renderImage(im.truthAmp, im.width, im.height, { ...amp, title: 'truth amplitude' }),
      renderImage(im.reconAmp, im.width, im.height, { ...amp, title: `recon amplitude ssim ${r.amplitude.ssim.toFixed(3)}` }),
      renderImage(wrapped(im.truthPhase), im.width, im.height, { ...ph, title: 'truth phase (rad)' }),
      renderImage(wrapped(im.reconPhase), im.width, im.height, { ...ph, title: `recon phase ssim ${r.phase.ssim.toFixed(3)}` }),
    ],
    { columns: 2, title: `shift (${r.shift[0].toFixed(2)}, ${r.shift[1].toFixed(2)}) px, crop x ${r.crop.x0}-${r.crop.x1} y ${r.crop.y0}-${r.crop.y1}` },
  );
  await writePng(file, fig.rgba, fig.width, fig.height);
}

export default defineSink({
  inputFiles: (o) => (o.truth === 'scan' ? [] : [o.truth]),
  kind: 'sink',
  accepts: [['reconstruction']],
  type: 'evaluate',
  description:
    'Score a reconstruction (the record of infer/refine, or an NPZ) against the ground truth: registration, phase plane, MAE/MSE/PSNR/SSIM, FRC; writes metrics.json and figures',
  arity: { min: 0, max: 1 },
  options,
  async create(o, { ctx, inputs }) {
    const scan = inputs[0]?.meta.scan;
    const { truth, label: truthLabel } = await loadTruth(o, scan, ctx);
    ctx.signal.throwIfAborted();
    const { recon, file: reconFile } = await loadReconstruction(o, inputs[0], truth, ctx);
    const crop = cropBox(o, scan, truth, ctx.id);
    const r = evaluateObject(truth, recon, {
      ...(crop === undefined ? {} : { crop }),
      register: o.register,
      register_on: o.register_on,
      upsample: o.upsample,
      ...(o.max_shift === undefined ? {} : { max_shift: o.max_shift }),
      phase_align: o.phase_align,
      amplitude_scale: o.amplitude_scale,
    });
    ctx.signal.throwIfAborted();
    if (r.rejected_shift !== undefined) {
      ctx.log.warn(
        `registration found a shift of (${r.rejected_shift[0].toFixed(1)}, ${r.rejected_shift[1].toFixed(1)}) px, larger than max_shift: not applied (a weak reconstruction correlates anywhere); scored unshifted`,
      );
    }
    const files = { metrics: outPath(ctx, o.metrics), frc_png: outPath(ctx, o.frc_png), figure_png: outPath(ctx, o.figure_png) };
    for (const f of Object.values(files)) await mkdir(path.dirname(f), { recursive: true });
    const result = {
      truth: truthLabel,
      reconstruction: reconFile,
      ...(metricsJson(r) as Record<string, Json>),
      files,
      note: 'psnr null = infinite (identical); frc_half/frc_17 null = never crosses (resolution at the Nyquist limit, 2 px)',
    } as Json;
    // The file names its neighbours relative to the output directory; the summary keeps absolute paths.
    await writeFileAtomic(files.metrics, `${JSON.stringify(relativeInside(result, ctx.outDir), null, 2)}\n`);
    await writeFrcPlot(files.frc_png, r);
    await writeFigure(files.figure_png, r);
    ctx.log.info('evaluated', { amplitude_ssim: r.amplitude.ssim, phase_ssim: r.phase.ssim, frc_half: r.frc.frc_half });
    return result;
  },
});
