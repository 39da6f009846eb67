// The `simulate` source (SPEC §8): a synthetic scan with exact ground truth,
// emitted exactly like the npz source (Frame records, meta.scan with the object,
// random access through Stream.frames). Frames are computed on demand, never held as
// a whole: frame i = |fftshift(FFT2(P · O_i))| / N (SPEC §1) with O_i the
// window at position i, and with Poisson noise drawn from
// Rng.derive(seed, 'frame', i), so any frame is the same however and whenever
// it is computed.
//
// Counts: c = nphotons / mean_i Σ|P·O_i|² (counts per unit of A², measured
// exactly via Parseval at create), counts_i ~ Poisson(c · A_i²), and the
// emitted amplitude is sqrt(counts_i / c). It is in the units of the noise-free
// amplitude A (noise: none gives A exactly), the mean per-pattern total of
// (emitted²·c) is nphotons, and c is recorded in meta.scan.notes.
import path from 'node:path';
import { z } from 'zod';
import { OptionsError } from '../errors.js';
import { readGrayPng } from '../io/png.js';
import { loadProbeFile } from '../io/probe-file.js';
import { familyObject } from '../physics/family.js';
import { grfObject, linesObject, objectFromImages, type GrayImage } from '../physics/objects.js';
import { defaultProbe } from '../physics/probegen.js';
import { randomPositions, rasterPositions, spiralPositions, type ScanPositions } from '../physics/scanpattern.js';
import type { Complex2D, Frame, ScanMeta, StageContext } from '../pipeline/types.js';
import { defineSource } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';
import { meanExitEnergy, ScanCache, SimulatedFrames, type ScanSimulation } from './simulate-frames.js';
import { stageSeed } from '../core/options.js';

const ASSETS = path.resolve(import.meta.dirname, '../assets');
const DEFAULT_AMPLITUDE = path.join(ASSETS, 'camera256.png');
const DEFAULT_PHASE = path.join(ASSETS, 'phantom256.png');

const size = z.number().int().min(8).default(256).describe('Object side in pixels (square).');
const ranges = {
  amp_min: z.number().min(0).max(1).default(0.5).describe('Smallest object amplitude; the largest is 1.'),
  phase_range: z.number().min(0).default(Math.PI).describe('Phase span in radians: phase lies in [−range/2, range/2].'),
};

const objectSchema = z
  .discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('image').describe('Amplitude from one grey image, phase from another.'),
        amplitude: z.string().optional().describe('PNG for the amplitude (default: the embedded camera image).'),
        phase: z.string().optional().describe('PNG for the phase (default: the embedded Shepp–Logan phantom).'),
        size,
        ...ranges,
      })
      .strict(),
    z
      .object({
        kind: z.literal('lines').describe('Random smoothed line segments.'),
        count: z.number().int().positive().optional().describe('Number of segments (default size²/256).'),
        smoothing: z.number().min(0).default(1).describe('Gaussian smoothing σ in pixels.'),
        size,
        ...ranges,
      })
      .strict(),
    z
      .object({
        kind: z.literal('family').describe('A different object per scan (`scans`), each drawn from its own seeded generator.'),
        kinds: z
          .array(z.enum(['image', 'phantom', 'lines', 'grf']))
          .min(1)
          .default(['image', 'phantom', 'lines', 'grf'])
          .describe('Members: the images with random crops, 90° rotations and flips; random ellipse phantoms; line segments; Gaussian random fields.'),
        images: z.array(z.string()).optional().describe('PNGs for the image kind (default: the embedded camera and phantom images).'),
        amp_min: z
          .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
          .default([0.3, 0.9])
          .describe('Range of the smallest amplitude, drawn per object.'),
        phase_range: z
          .tuple([z.number().min(0), z.number().min(0)])
          .default([0.5, Math.PI])
          .describe('Range of the phase span (radians), drawn per object.'),
        size,
      })
      .strict(),
    z
      .object({
        kind: z.literal('grf').describe('Gaussian random fields for amplitude and phase.'),
        correlation_length: z.number().positive().default(6).describe('σ of the smoothing kernel in pixels.'),
        size,
        ...ranges,
      })
      .strict(),
  ])
  .prefault({ kind: 'image' })
  .describe('The ground-truth object.');

const probeSchema = z
  .union([
    z.string(),
    z
      .object({
        radius: z.number().positive().optional().describe('Aperture radius in pixels (default N/5).'),
        edge: z.number().positive().optional().describe('Soft-edge width in pixels (default max(0.5, N/64)).'),
        rim_phase: z
          .number()
          .default(2 * Math.PI)
          .describe('Defocus: phase at the aperture radius, radians.'),
      })
      .strict(),
  ])
  .default('default')
  .describe("'default' (defocused disk), a defocused disk with options, or a path to a .npy probe, an .npz holding probeGuess (or probe), or FILE.npz:KEY.");

const scanSchema = z
  .object({
    pattern: z
      .enum(['raster', 'random', 'spiral'])
      .default('raster')
      .describe('Raster (with optional jitter), uniformly random positions, or a Fermat spiral (sub-pixel positions, spacing `step`).'),
    step: z
      .number()
      .positive()
      .optional()
      .describe('Raster or spiral spacing in pixels (default N/8: ~70 % overlap with the default probe; raster with count: fitted to it).'),
    jitter: z.number().min(0).default(0).describe('σ of Gaussian position jitter in pixels (raster).'),
    count: z.number().int().positive().optional().describe('Number of positions (random: default 256; raster, spiral: at most this many).'),
    margin: z.number().min(0).default(0).describe('Extra distance of window edges from the object edges, pixels.'),
  })
  .strict()
  .prefault({})
  .describe('Scan positions.');

async function readImage(file: string, key: string, ctx: StageContext): Promise<{ width: number; height: number; data: Float32Array }> {
  try {
    return await readGrayPng(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new OptionsError('FILE_NOT_FOUND', 'image not found', { stage: ctx.id, file, key, hint: 'paths are relative to the pipeline file' });
    throw e;
  }
}

type ObjectOptions = z.output<typeof objectSchema>;

/** Scan k's object; scan 0 keeps the single-scan generator, so one-scan pipelines are unchanged. */
function objectMaker(ob: ObjectOptions, seed: number, images: GrayImage[]): (k: number) => Complex2D {
  return (k) => {
    const rng = k === 0 ? Rng.derive(seed, 'simulate', 'object') : Rng.derive(seed, 'simulate', 'object', k);
    if (ob.kind === 'family') return familyObject({ kinds: ob.kinds, size: ob.size, ampMin: ob.amp_min, phaseRange: ob.phase_range, images }, rng);
    const ranges = { ampMin: ob.amp_min, phaseRange: ob.phase_range };
    if (ob.kind === 'image') return objectFromImages(images[0]!, images[1]!, ob.size, ranges);
    if (ob.kind === 'lines') return linesObject(ob.size, rng, { ...ranges, smoothing: ob.smoothing, ...(ob.count === undefined ? {} : { count: ob.count }) });
    return grfObject(ob.size, rng, { ...ranges, correlationLength: ob.correlation_length });
  };
}

/** The probe: read from a file (its size must be N), or the defocused disk with the given options. */
async function simulationProbe(spec: z.output<typeof probeSchema>, N: number, ctx: StageContext): Promise<{ probe: Complex2D; origin: string }> {
  if (typeof spec === 'string' && spec !== 'default') {
    const { probe, origin } = await loadProbeFile(spec, ctx.baseDir, ctx.id);
    if (probe.width !== N)
      throw new OptionsError('PROBE_SIZE', `the probe is ${probe.width}×${probe.height} but N is ${N}`, {
        stage: ctx.id,
        file: origin,
        hint: `set N: ${probe.width}`,
      });
    return { probe, origin };
  }
  const p = typeof spec === 'string' ? { rim_phase: 2 * Math.PI } : spec;
  return {
    probe: defaultProbe(N, {
      rimPhase: p.rim_phase,
      ...('radius' in p && p.radius !== undefined ? { radius: p.radius } : {}),
      ...('edge' in p && p.edge !== undefined ? { edge: p.edge } : {}),
    }),
    origin: 'default',
  };
}

/** Scan k's positions on an object of side `side`; a position option that cannot be met names the stage and `scan`. */
function positionMaker(sc: z.output<typeof scanSchema>, side: number, N: number, seed: number, stage: string): (k: number) => ScanPositions {
  const area = { width: side, height: side, N, margin: sc.margin };
  const step = sc.step === undefined ? {} : { step: sc.step };
  const count = sc.count === undefined ? {} : { count: sc.count };
  return (k) => {
    const scanRng = k === 0 ? Rng.derive(seed, 'simulate', 'scan') : Rng.derive(seed, 'simulate', 'scan', k);
    try {
      if (sc.pattern === 'random') return randomPositions(area, scanRng, sc.count ?? 256);
      if (sc.pattern === 'spiral') return spiralPositions(area, { ...step, ...count });
      return rasterPositions(area, scanRng, { jitter: sc.jitter, ...step, ...count });
    } catch (e) {
      if (e instanceof OptionsError) throw new OptionsError(e.code, e.message, { stage, key: 'scan' });
      throw e;
    }
  };
}

export default defineSource({
  kind: 'source',
  emits: 'frame',
  type: 'simulate',
  description: 'Simulates a far-field ptychography scan (object, probe, positions, Poisson counts) with ground truth.',
  options: z
    .object({
      N: z.number().int().min(4).default(64).describe('Diffraction pattern size N×N (= probe size).'),
      object: objectSchema,
      probe: probeSchema,
      scan: scanSchema,
      nphotons: z.number().positive().default(1e9).describe('Mean total counts per pattern.'),
      noise: z.enum(['poisson', 'none']).default('poisson').describe('Poisson counting noise, or the noise-free amplitude.'),
      seed: stageSeed(),
      scans: z
        .number()
        .int()
        .min(1)
        .default(1)
        .describe('Number of scans: frames carry scanIndex 0…scans−1, each scan its own object (from its own generator) and positions, one probe.'),
      first_scan: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('Number of the first scan drawn: a corpus with first_scan 1000 holds objects that one with scans < 1000 never drew (held-out scans).'),
      cache_scans: z.number().int().min(1).default(2).describe('Scans (objects) kept built at a time; memory is flat in the number of scans.'),
      cache_frames: z.number().int().min(0).default(64).describe('Frames kept in the random-access cache.'),
    })
    .strict(),
  async create(o, { ctx }) {
    const seed = o.seed ?? ctx.seed;
    const N = o.N;
    const ob = o.object;
    const makeObject = objectMaker(ob, seed, await loadImages(o.object, ctx));
    const { probe, origin: probeOrigin } = await simulationProbe(o.probe, N, ctx);
    const positions = positionMaker(o.scan, ob.size, N, seed, ctx.id);
    const K = o.scans;
    const build = (k: number): ScanSimulation => {
      const abs = o.first_scan + k;
      const object = makeObject(abs);
      const pos = positions(abs);
      const meanEnergy = meanExitEnergy(object, probe, pos, N);
      const noise = (i: number): Rng => (abs === 0 ? Rng.derive(seed, 'frame', i) : Rng.derive(seed, 'frame', abs, i));
      return { object, pos, meanEnergy, countsScale: o.noise === 'poisson' ? o.nphotons / meanEnergy : 0, noise };
    };
    const first = build(0);
    const perScan = first.pos.x.length;
    const count = K * perScan;
    const xcoords = new Float64Array(count),
      ycoords = new Float64Array(count);
    const scanIndex = new Int32Array(count);
    for (let k = 0; k < K; k++) {
      const p = k === 0 ? first.pos : positions(o.first_scan + k);
      xcoords.set(p.x, k * perScan);
      ycoords.set(p.y, k * perScan);
      scanIndex.fill(k, k * perScan, (k + 1) * perScan);
    }
    const scans = new ScanCache({ N, probe, scans: K, perScan, build }, o.cache_scans);
    const frames = new SimulatedFrames({ N, probe, scans: K, perScan, build: (k) => scans.get(k) }, scans, o.cache_frames, ctx.id);
    const countsScale = first.countsScale > 0 ? first.countsScale : o.nphotons / first.meanEnergy;
    const meanEnergy = first.meanEnergy;

    const scan: ScanMeta = {
      N,
      count,
      xcoords,
      ycoords,
      probe,
      // One scan: its truth. Several: each scan's truth is made again by a source with first_scan and scans: 1.
      ...(K === 1 ? { object: first.object } : {}),
      ...(K > 1 ? { scanIndex } : {}),
      origin: 'simulate',
      notes: {
        nphotons: o.nphotons,
        noise: o.noise,
        counts_per_unit_intensity: countsScale,
        mean_energy: meanEnergy,
        object: ob.kind,
        probe: probeOrigin,
        seed,
        scans: K,
        first_scan: o.first_scan,
      },
    };
    ctx.log.info(
      `simulate: ${K > 1 ? `${K} scans of ${perScan}` : count} patterns of ${N}×${N}, ${ob.kind} object ${ob.size}×${ob.size}, ${o.noise} noise at ${o.nphotons} photons/pattern`,
    );
    return {
      meta: { record: 'frame', scan, count },
      frames,
      open(signal: AbortSignal): AsyncIterable<Frame> {
        return (async function* () {
          for (let i = 0; i < count; i++) {
            signal.throwIfAborted();
            const k = scanIndex[i]!;
            yield { index: i, x: xcoords[i]!, y: ycoords[i]!, amplitude: frames.compute(i), scanIndex: k };
            if ((i + 1) % 256 === 0 || i + 1 === count)
              ctx.progress({ label: 'simulate', done: i + 1, total: count, unit: 'patterns', finished: i + 1 === count });
          }
        })();
      },
      close: () => frames.close(),
    };
  },
});

/** The images the object needs: [amplitude, phase] for 'image', the family's pool for 'family', none otherwise. */
async function loadImages(
  ob: { kind: string; amplitude?: string | undefined; phase?: string | undefined; images?: string[] | undefined },
  ctx: StageContext,
): Promise<GrayImage[]> {
  if (ob.kind === 'image') {
    if ((ob.amplitude === undefined) !== (ob.phase === undefined)) {
      throw new OptionsError('OPTIONS', 'give both object.amplitude and object.phase, or neither for the embedded images', { stage: ctx.id, key: 'object' });
    }
    const ampFile = ob.amplitude === undefined ? DEFAULT_AMPLITUDE : path.resolve(ctx.baseDir, ob.amplitude);
    const phaseFile = ob.phase === undefined ? DEFAULT_PHASE : path.resolve(ctx.baseDir, ob.phase);
    return [await readImage(ampFile, 'object.amplitude', ctx), await readImage(phaseFile, 'object.phase', ctx)];
  }
  if (ob.kind === 'family') {
    const files = ob.images === undefined ? [DEFAULT_AMPLITUDE, DEFAULT_PHASE] : ob.images.map((f) => path.resolve(ctx.baseDir, f));
    return Promise.all(files.map((f) => readImage(f, 'object.images', ctx)));
  }
  return [];
}
