// The frames of a simulated corpus of K scans (the `simulate` source): each
// scan has its own object and positions and shares the probe. Frame indices
// are global (scan k holds k·n … k·n + n − 1, n positions per scan); a scan's
// object and counts scale are made on first use and kept in a small LRU, so
// memory stays flat in the number of scans. Any frame is the same however
// and whenever it is computed: its noise comes from its own generator.
import { DataError, OptionsError } from '../errors.js';
import { farFieldAmplitude } from '../physics/fftjs.js';
import { extractPatch } from '../physics/patch.js';
import type { ScanPositions } from '../physics/scanpattern.js';
import type { Complex2D, FrameStore } from '../pipeline/types.js';
import { type Rng } from '../util/rng.js';

export interface ScanSimulation {
  readonly object: Complex2D;
  readonly pos: ScanPositions;
  /** Counts per unit of A² (0 when noise is off). */
  readonly countsScale: number;
  /** Mean exit-wave energy Σ|P·O_i|² over the scan's positions. */
  readonly meanEnergy: number;
  /** Generator of frame i's noise. */
  noise(i: number): Rng;
}

export interface CorpusSpec {
  readonly N: number;
  readonly probe: Complex2D;
  readonly scans: number;
  /** Positions per scan (the same for every scan). */
  readonly perScan: number;
  /** Builds scan k (0-based within this source). */
  build(k: number): ScanSimulation;
}

/** Mean Σ|P·O_i|² (= Σ A_i², Parseval) over a scan's windows: exact, without any FFT. */
export function meanExitEnergy(object: Complex2D, probe: Complex2D, pos: ScanPositions, N: number): number {
  let energy = 0;
  for (let i = 0; i < pos.x.length; i++) {
    const w = extractPatch(object, pos.x[i]!, pos.y[i]!, N);
    for (let k = 0; k < N * N; k++) energy += (probe.re[k]! ** 2 + probe.im[k]! ** 2) * (w.re[k]! ** 2 + w.im[k]! ** 2);
  }
  const mean = energy / pos.x.length;
  if (!(mean > 0)) throw new DataError('EMPTY_SCAN', 'the simulated exit waves carry no energy (zero probe or object)', { key: 'probe' });
  return mean;
}

/** Frame i of a scan: far field of probe × window, then Poisson counts when countsScale > 0. */
export function simulateFrame(sim: ScanSimulation, probe: Complex2D, N: number, i: number): Float32Array {
  const w = extractPatch(sim.object, sim.pos.x[i]!, sim.pos.y[i]!, N);
  const re = w.re,
    im = w.im;
  for (let k = 0; k < N * N; k++) {
    const pr = probe.re[k]!,
      pi = probe.im[k]!,
      or = re[k]!,
      oi = im[k]!;
    re[k] = pr * or - pi * oi;
    im[k] = pr * oi + pi * or;
  }
  const amp = farFieldAmplitude(re, im, N);
  const c = sim.countsScale;
  if (c > 0) {
    const rng = sim.noise(i);
    for (let k = 0; k < amp.length; k++) amp[k] = Math.sqrt(rng.poisson(c * amp[k]! * amp[k]!) / c);
  }
  return amp;
}

/** Scans built on demand, the last `capacity` kept. */
export class ScanCache {
  private readonly cache = new Map<number, ScanSimulation>();
  constructor(
    private readonly spec: CorpusSpec,
    private readonly capacity = 2,
  ) {}
  get(k: number): ScanSimulation {
    let s = this.cache.get(k);
    if (s !== undefined) this.cache.delete(k);
    else s = this.spec.build(k);
    this.cache.set(k, s);
    if (this.cache.size > Math.max(1, this.capacity)) this.cache.delete(this.cache.keys().next().value!);
    return s;
  }
  clear(): void {
    this.cache.clear();
  }
}

/** Random access by global frame index, with a small LRU of frames (group reads neighbours many times over). */
export class SimulatedFrames implements FrameStore {
  private readonly cache = new Map<number, Float32Array>();
  readonly count: number;
  constructor(
    private readonly spec: CorpusSpec,
    private readonly scans: ScanCache,
    private readonly capacity: number,
    private readonly stage: string,
  ) {
    this.count = spec.scans * spec.perScan;
  }
  get N(): number {
    return this.spec.N;
  }
  /** Frame `index` computed afresh (no cache). */
  compute(index: number): Float32Array {
    const k = Math.floor(index / this.spec.perScan);
    return simulateFrame(this.scans.get(k), this.spec.probe, this.spec.N, index - k * this.spec.perScan);
  }
  async read(index: number): Promise<Float32Array> {
    if (!Number.isInteger(index) || index < 0 || index >= this.count)
      throw new OptionsError('FRAME_INDEX', `frame index ${index} is outside 0..${this.count - 1}`, { stage: this.stage });
    let a = this.cache.get(index);
    if (a !== undefined) this.cache.delete(index);
    else a = this.compute(index);
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
    this.scans.clear();
  }
}
