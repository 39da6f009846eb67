// The `simulate` source (SPEC §8): a synthetic scan with exact ground truth,
// emitted exactly like the npz source (Frame records, meta.scan with the object,
// meta.frames for random access). Frames are computed on demand, never held as
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
import { DataError, OptionsError } from '../errors.js';
import { readGrayPng } from '../io/png.js';
import { loadProbeFile } from '../io/probe-file.js';
import { farFieldAmplitude } from '../physics/fftjs.js';
import { grfObject, linesObject, objectFromImages } from '../physics/objects.js';
import { extractPatch } from '../physics/patch.js';
import { defaultProbe } from '../physics/probegen.js';
import { randomPositions, rasterPositions, spiralPositions, type ScanPositions } from '../physics/scanpattern.js';
import type { Complex2D, Frame, FrameStore, ScanMeta, StageContext } from '../pipeline/types.js';
import { defineSource } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';

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
    z.object({
      kind: z.literal('image').describe('Amplitude from one grey image, phase from another.'),
      amplitude: z.string().optional().describe('PNG for the amplitude (default: the embedded camera image).'),
      phase: z.string().optional().describe('PNG for the phase (default: the embedded Shepp–Logan phantom).'),
      size,
      ...ranges,
    }).strict(),
    z.object({
      kind: z.literal('lines').describe('Random smoothed line segments.'),
      count: z.number().int().positive().optional().describe('Number of segments (default size²/256).'),
      smoothing: z.number().min(0).default(1).describe('Gaussian smoothing σ in pixels.'),
      size,
      ...ranges,
    }).strict(),
    z.object({
      kind: z.literal('grf').describe('Gaussian random fields for amplitude and phase.'),
      correlation_length: z.number().positive().default(6).describe('σ of the smoothing kernel in pixels.'),
      size,
      ...ranges,
    }).strict(),
  ])
  .prefault({ kind: 'image' })
  .describe('The ground-truth object.');

const probeSchema = z
  .union([
    z.string(),
    z.object({
      radius: z.number().positive().optional().describe('Aperture radius in pixels (default N/5).'),
      edge: z.number().positive().optional().describe('Soft-edge width in pixels (default max(0.5, N/64)).'),
      rim_phase: z.number().default(2 * Math.PI).describe('Defocus: phase at the aperture radius, radians.'),
    }).strict(),
  ])
  .default('default')
  .describe("'default' (defocused disk), a defocused disk with options, or a path to a .npy probe, an .npz holding probeGuess (or probe), or FILE.npz:KEY.");

const scanSchema = z
  .object({
    pattern: z.enum(['raster', 'random', 'spiral']).default('raster').describe('Raster (with optional jitter), uniformly random positions, or a Fermat spiral (sub-pixel positions, spacing `step`).'),
    step: z.number().positive().optional().describe('Raster or spiral spacing in pixels (default N/8: ~70 % overlap with the default probe; raster with count: fitted to it).'),
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
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OptionsError('FILE_NOT_FOUND', 'image not found', { stage: ctx.id, file, key, hint: 'paths are relative to the pipeline file' });
    throw e;
  }
}

interface Simulation {
  readonly N: number;
  readonly object: Complex2D;
  readonly probe: Complex2D;
  readonly pos: ScanPositions;
  /** Counts per unit of A² (0 when noise is off). */
  readonly countsScale: number;
  readonly seed: number;
}

/** Frame i's amplitude: far field of probe × window, then Poisson counts when countsScale > 0. */
function simulateFrame(sim: Simulation, i: number): Float32Array {
  const { N, probe } = sim;
  const w = extractPatch(sim.object, sim.pos.x[i]!, sim.pos.y[i]!, N);
  const re = w.re, im = w.im;
  for (let k = 0; k < N * N; k++) {
    const pr = probe.re[k]!, pi = probe.im[k]!, or = re[k]!, oi = im[k]!;
    re[k] = pr * or - pi * oi;
    im[k] = pr * oi + pi * or;
  }
  const amp = farFieldAmplitude(re, im, N);
  const c = sim.countsScale;
  if (c > 0) {
    const rng = Rng.derive(sim.seed, 'frame', i);
    for (let k = 0; k < amp.length; k++) amp[k] = Math.sqrt(rng.poisson(c * amp[k]! * amp[k]!) / c);
  }
  return amp;
}

/** Random access with a small LRU cache (group reads neighbours many times over). */
class SimulatedFrames implements FrameStore {
  private readonly cache = new Map<number, Float32Array>();
  constructor(private readonly sim: Simulation, readonly count: number, private readonly capacity: number, private readonly stage: string) {}
  get N(): number {
    return this.sim.N;
  }
  async read(index: number): Promise<Float32Array> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new OptionsError('FRAME_INDEX', `frame index ${index} is outside 0..${this.count - 1}`, { stage: this.stage });
    let a = this.cache.get(index);
    if (a !== undefined) {
      this.cache.delete(index);
    } else {
      a = simulateFrame(this.sim, index);
    }
    if (this.capacity > 0) {
      this.cache.set(index, a);
      if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    }
    // A copy: callers may keep or modify what they get without touching the cache.
    return Float32Array.from(a);
  }
  async readMany(indices: readonly number[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const i of indices) out.push(await this.read(i));
    return out;
  }
  async close(): Promise<void> {
    this.cache.clear();
  }
}

export default defineSource({
  kind: 'source',
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
      seed: z.number().int().min(0).max(2 ** 32 - 1).optional().describe('Seed (default: the pipeline seed).'),
      cache_frames: z.number().int().min(0).default(64).describe('Frames kept in the random-access cache.'),
    })
    .strict(),
  async create(o, { ctx }) {
    const seed = o.seed ?? ctx.seed;
    const N = o.N;
    const ob = o.object;
    const objRng = Rng.derive(seed, 'simulate', 'object');
    const ranges = { ampMin: ob.amp_min, phaseRange: ob.phase_range };
    let object: Complex2D;
    if (ob.kind === 'image') {
      if ((ob.amplitude === undefined) !== (ob.phase === undefined)) {
        throw new OptionsError('OPTIONS', 'give both object.amplitude and object.phase, or neither for the embedded images', { stage: ctx.id, key: 'object' });
      }
      const ampFile = ob.amplitude === undefined ? DEFAULT_AMPLITUDE : path.resolve(ctx.baseDir, ob.amplitude);
      const phaseFile = ob.phase === undefined ? DEFAULT_PHASE : path.resolve(ctx.baseDir, ob.phase);
      object = objectFromImages(await readImage(ampFile, 'object.amplitude', ctx), await readImage(phaseFile, 'object.phase', ctx), ob.size, ranges);
    } else if (ob.kind === 'lines') {
      object = linesObject(ob.size, objRng, { ...ranges, smoothing: ob.smoothing, ...(ob.count === undefined ? {} : { count: ob.count }) });
    } else {
      object = grfObject(ob.size, objRng, { ...ranges, correlationLength: ob.correlation_length });
    }

    let probe: Complex2D;
    let probeOrigin = 'default';
    if (typeof o.probe === 'string' && o.probe !== 'default') {
      ({ probe, origin: probeOrigin } = await loadProbeFile(o.probe, ctx.baseDir, ctx.id));
      if (probe.width !== N) throw new OptionsError('PROBE_SIZE', `the probe is ${probe.width}×${probe.height} but N is ${N}`, { stage: ctx.id, file: probeOrigin, hint: `set N: ${probe.width}` });
    } else {
      const p = typeof o.probe === 'string' ? { rim_phase: 2 * Math.PI } : o.probe;
      probe = defaultProbe(N, { rimPhase: p.rim_phase, ...('radius' in p && p.radius !== undefined ? { radius: p.radius } : {}), ...('edge' in p && p.edge !== undefined ? { edge: p.edge } : {}) });
    }

    const area = { width: object.width, height: object.height, N, margin: o.scan.margin };
    const scanRng = Rng.derive(seed, 'simulate', 'scan');
    let pos: ScanPositions;
    try {
      pos = o.scan.pattern === 'random'
        ? randomPositions(area, scanRng, o.scan.count ?? 256)
        : o.scan.pattern === 'spiral'
        ? spiralPositions(area, { ...(o.scan.step === undefined ? {} : { step: o.scan.step }), ...(o.scan.count === undefined ? {} : { count: o.scan.count }) })
        : rasterPositions(area, scanRng, { jitter: o.scan.jitter, ...(o.scan.step === undefined ? {} : { step: o.scan.step }), ...(o.scan.count === undefined ? {} : { count: o.scan.count }) });
    } catch (e) {
      if (e instanceof OptionsError) throw new OptionsError(e.code, e.message, { stage: ctx.id, key: 'scan' });
      throw e;
    }
    const count = pos.x.length;

    // Mean exit-wave energy Σ|P·O_i|² = Σ A_i² (Parseval): exact, without any FFT.
    let energy = 0;
    for (let i = 0; i < count; i++) {
      const w = extractPatch(object, pos.x[i]!, pos.y[i]!, N);
      for (let k = 0; k < N * N; k++) energy += (probe.re[k]! ** 2 + probe.im[k]! ** 2) * (w.re[k]! ** 2 + w.im[k]! ** 2);
    }
    const meanEnergy = energy / count;
    if (!(meanEnergy > 0)) throw new DataError('EMPTY_SCAN', 'the simulated exit waves carry no energy (zero probe or object)', { stage: ctx.id, key: 'probe' });
    const countsScale = o.nphotons / meanEnergy;
    const sim: Simulation = { N, object, probe, pos, countsScale: o.noise === 'poisson' ? countsScale : 0, seed };
    const frames = new SimulatedFrames(sim, count, o.cache_frames, ctx.id);

    const scan: ScanMeta = {
      N,
      count,
      xcoords: pos.x,
      ycoords: pos.y,
      probe,
      object,
      origin: 'simulate',
      notes: { nphotons: o.nphotons, noise: o.noise, counts_per_unit_intensity: countsScale, mean_energy: meanEnergy, object: ob.kind, probe: probeOrigin, seed },
    };
    ctx.log.info(`simulate: ${count} patterns of ${N}×${N}, ${ob.kind} object ${object.width}×${object.height}, ${o.noise} noise at ${o.nphotons} photons/pattern`);
    return {
      meta: { record: 'frame', scan, frames, count },
      open(signal: AbortSignal): AsyncIterable<Frame> {
        return (async function* () {
          for (let i = 0; i < count; i++) {
            signal.throwIfAborted();
            yield { index: i, x: pos.x[i]!, y: pos.y[i]!, amplitude: simulateFrame(sim, i), scanIndex: 0 };
            if ((i + 1) % 256 === 0 || i + 1 === count) ctx.progress({ label: 'simulate', done: i + 1, total: count, unit: 'patterns', finished: i + 1 === count });
          }
        })();
      },
      close: () => frames.close(),
    };
  },
});
