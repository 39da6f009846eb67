// The `images` sink: PNG previews of a scan for a quick look at the data — the
// first few diffraction patterns (log scale), the probe, and the ground-truth
// object when the scan carries one. It reads only the first `count` records and
// then closes the stream, so it is cheap on any dataset size. Given a
// reconstruction record (inputs: [infer]) it shows that instead: amplitude and
// phase over the covered region, and the reconstruction's probe.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { canvasOf, reconstructionImages } from './shared/reconstruction.js';
import { outPath, readReconstruction } from './shared/util.js';
import { OptionsError } from '../errors.js';
import { renderImage, sideBySide, writePng, type RgbaImage } from '../io/png.js';
import { robustRange, withLimits } from '../io/ranges.js';
import { ANY_RECORD, defineSink, type Complex2D, type Frame, type Group, type Json } from '../pipeline/types.js';

const options = z
  .object({
    count: z.number().int().min(1).max(64).default(4).describe('how many patterns to show (the first records of the stream)'),
    log: z.boolean().default(true).describe('show log10(1 + amplitude) instead of the amplitude'),
    columns: z.number().int().min(1).max(16).default(4).describe('patterns per row'),
    patterns_png: z.string().default('patterns.png').describe('pattern grid, relative to the output directory'),
    probe_png: z.string().default('probe.png').describe('probe amplitude and phase, relative to the output directory'),
    object_png: z.string().default('object.png').describe('ground-truth amplitude and phase (only when the scan has one)'),
    reconstruction_png: z.string().default('reconstruction.png').describe('a reconstruction input: its amplitude and phase over the covered region'),
    vmin: z.number().optional().describe('lower end of the amplitude colour range (patterns: of the shown value); default: the low percentile'),
    vmax: z.number().optional().describe('upper end of the amplitude colour range (patterns: of the shown value); default: the high percentile'),
    phase_span: z
      .number()
      .positive()
      .max(Math.PI)
      .optional()
      .describe(
        "a reconstruction's phase is shown on [−phase_span, phase_span] rad around its mean; default: the 99th percentile of |phase| over the scanned pixels",
      ),
    percentiles: z
      .tuple([z.number().min(0).max(100), z.number().min(0).max(100)])
      .default([1, 99])
      .describe('percentiles of the scanned pixels (a reconstruction: weights > 0) that set the automatic colour range'),
  })
  .strict()
  .refine((o) => o.percentiles[0] < o.percentiles[1], { message: 'percentiles: the first must be below the second', path: ['percentiles'] });

function ampPhase(c: Complex2D, title: string, percentiles: readonly [number, number]): RgbaImage {
  const n = c.re.length,
    a = new Float32Array(n),
    p = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = Math.hypot(c.re[i]!, c.im[i]!);
    p[i] = Math.atan2(c.im[i]!, c.re[i]!);
  }
  const [lo, hi] = robustRange(a, { lo: percentiles[0], hi: percentiles[1] }),
    axes = { x0: 0, y0: 0 };
  return sideBySide(
    [
      renderImage(a, c.width, c.height, { colormap: 'viridis', min: lo, max: hi, colorbar: true, axes }),
      renderImage(p, c.width, c.height, { colormap: 'twilight', min: -Math.PI, max: Math.PI, colorbar: true, axes }),
    ],
    { titles: [`${title} amplitude`, `${title} phase (rad)`] },
  );
}

export default defineSink({
  kind: 'sink',
  accepts: [ANY_RECORD],
  type: 'images',
  description: 'Write PNG previews: the first diffraction patterns, the probe and the ground-truth object, or a reconstruction record (inputs: [infer])',
  options,
  async create(o, { ctx, inputs }) {
    const input = inputs[0];
    if (input === undefined) throw new OptionsError('MISSING_INPUT', `stage '${ctx.id}' needs an input stream`, { stage: ctx.id });
    const out = (p: string): string => outPath(ctx, p);
    const written: Record<string, string> = {};
    const save = async (key: string, file: string, img: RgbaImage): Promise<void> => {
      await mkdir(path.dirname(file), { recursive: true });
      await writePng(file, img.rgba, img.width, img.height);
      written[key] = file;
    };
    const tiles: RgbaImage[] = [],
      titles: string[] = [];
    const kind = input.meta.record;
    if (kind === 'frame' || kind === 'group') {
      for await (const rec of input.open(ctx.signal)) {
        ctx.signal.throwIfAborted();
        // A group's first channel stands for the group (HWC: every C-th value).
        const g = rec as Frame & Group,
          C = kind === 'group' ? g.indices.length : 1,
          src = kind === 'group' ? g.amplitudes : g.amplitude;
        const N = Math.round(Math.sqrt(src.length / C)),
          v = new Float32Array(N * N);
        for (let i = 0; i < N * N; i++) v[i] = o.log ? Math.log10(1 + Math.max(0, src[i * C]!)) : src[i * C]!;
        const [lo, hi] = withLimits(robustRange(v, { lo: o.percentiles[0], hi: o.percentiles[1] }), o.vmin, o.vmax);
        tiles.push(
          renderImage(v, N, N, { colormap: 'viridis', min: lo, max: hi, colorbar: true, scale: Math.max(1, Math.floor(160 / N)), axes: { x0: 0, y0: 0 } }),
        );
        titles.push(`${kind} ${g.index}`);
        if (tiles.length >= o.count) break;
      }
      if (tiles.length > 0)
        await save('patterns', out(o.patterns_png), sideBySide(tiles, { titles, columns: o.columns, title: o.log ? 'log10(1 + amplitude)' : 'amplitude' }));
    } else if (kind === 'reconstruction') {
      const r = await readReconstruction(input, ctx, 'its input');
      const shown = reconstructionImages(canvasOf(r), 'reconstruction', {
        ...(o.vmin !== undefined ? { vmin: o.vmin } : {}),
        ...(o.vmax !== undefined ? { vmax: o.vmax } : {}),
        ...(o.phase_span !== undefined ? { phase_span: o.phase_span } : {}),
        percentiles: o.percentiles,
      });
      await save('reconstruction', out(o.reconstruction_png), sideBySide([shown.amplitude, shown.phase]));
      await save('probe', out(o.probe_png), ampPhase(r.probe, 'reconstructed probe', o.percentiles));
    } else {
      ctx.log.info(`images: '${kind}' records carry no single patterns; showing the scan metadata only`);
    }
    const scan = input.meta.scan;
    if (scan !== undefined) {
      if (written.probe === undefined) await save('probe', out(o.probe_png), ampPhase(scan.probe, 'probe', o.percentiles));
      if (scan.object !== undefined) await save('object', out(o.object_png), ampPhase(scan.object, 'object', o.percentiles));
    }
    return { patterns: tiles.length, files: written } satisfies Json;
  },
});
