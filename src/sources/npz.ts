// The `npz` source: a scan in the canonical NPZ (SPEC §2), legacy layouts fixed
// with a logged note. Positions, probe and object are read at create (small; the
// probe may come from another file, option `probe`);
// patterns stay on disk and are read per open, in blocks, through a FrameStore
// (positioned reads; deflated archives via a spill file). Each pattern is
// checked as it is read (NaN, Inf, negative, size) and a bad one goes through
// the stage's error policy. A full sequential pass also checks the CRC-32.
import { Buffer } from 'node:buffer';
import path from 'node:path';
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import { checkCanonical, type PatternLayout } from '../io/canonical.js';
import { dtypeInfo, toFloat32, type NpyArray, type NpyHeader } from '../io/npy.js';
import { openNpz, type NpzReader } from '../io/npz.js';
import { parseProbeSpec } from '../io/probe-file.js';
import { defineSource, type Complex2D, type ErrorPolicy, type Frame, type FrameStore, type ScanMeta, type StageContext, type Stream } from '../pipeline/types.js';
import { checkedFrames, offeredStore, PatternChecks } from './checks.js';
import { expandPaths, manyFiles, scanNumbers } from './many-files.js';
import { overrideProbe } from './probe-override.js';
import { checkScanOrClose } from './scan-checks.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Frames read per positioned read on a sequential pass. */
const BLOCK_BYTES = 4 << 20;
/** Scratch blocks a store keeps for readInto (one per concurrent run is plenty). */
const SCRATCH_KEPT = 4;

/** A complex (or real) 2-D array as Complex2D (squeezing leading/trailing 1-axes). */
export function toComplex2D(a: NpyArray, file: string, key: string): Complex2D {
  const shape = a.shape.filter((d, k) => !(d === 1 && a.shape.length > 2 && (k === 0 || k === a.shape.length - 1)));
  const [height, width] = shape;
  if (shape.length !== 2 || height === undefined || width === undefined) throw new DataError('BAD_SHAPE', `expected a 2-D array, got (${a.shape.join(', ')})`, { file, key, hint: 'save it as an (H, W) array' });
  const n = height * width, complex = dtypeInfo(a.descr).complex;
  const re = new Float32Array(n), im = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    re[k] = Number(complex ? a.data[2 * k]! : a.data[k]!);
    im[k] = complex ? Number(a.data[2 * k + 1]!) : 0;
  }
  return { height, width, re, im };
}

async function readComplex2D(npz: NpzReader, key: string, file: string): Promise<Complex2D> {
  return toComplex2D(await npz.readArray(key), file, key);
}

async function readVector(npz: NpzReader, key: string, count: number): Promise<Float64Array> {
  const a = await npz.readArray(key);
  const out = new Float64Array(count);
  for (let k = 0; k < count; k++) out[k] = Number(a.data[k]!);
  return out;
}

/** Random access to the patterns of an open NPZ. */
export class NpzFrameStore implements FrameStore {
  readonly N: number;
  /** Archive key holding the patterns. */
  readonly key: string;
  private readonly frameBytes: number;
  /** Patterns are float32 in host byte order: frames can be views over the bytes read. */
  private readonly f4View: boolean;
  private strided: Float32Array | undefined;
  /** Which patterns are known clean or dropped (the source's exclusions). */
  readonly checks: PatternChecks;
  private closed = false;

  constructor(
    private readonly npz: NpzReader,
    private readonly layout: PatternLayout,
    readonly count: number,
    private readonly intensity: boolean,
  ) {
    this.N = layout.N;
    this.key = layout.key;
    const info = dtypeInfo(layout.descr);
    this.frameBytes = layout.N * layout.N * info.itemsize;
    this.f4View = info.dtype === 'f4' && info.littleEndian && HOST_LITTLE_ENDIAN;
    this.checks = new PatternChecks(count, layout.N, { file: path.basename(npz.path), key: layout.key }, patternProblem);
  }

  /**
   * Converts raw pattern bytes to float32 amplitudes. `bytes` is always a
   * fresh read this store owns, so little-endian float32 patterns at an
   * aligned offset become a view over it (no copy; intensities are
   * square-rooted in place).
   */
  private convert(bytes: Uint8Array): Float32Array {
    const NN = this.N * this.N;
    const a = this.f4View && bytes.byteOffset % 4 === 0 && bytes.length >= 4 * NN ? new Float32Array(bytes.buffer, bytes.byteOffset, NN) : toFloat32(bytes, this.layout.descr, NN);
    if (this.intensity) sqrtInPlace(a);
    return a;
  }

  /**
   * Legacy (N, N, n) or Fortran-order patterns are not contiguous on disk; they
   * are gathered once into memory in (n, N, N) order (legacy files are small).
   */
  private async gathered(): Promise<Float32Array> {
    if (this.strided !== undefined) return this.strided;
    const a = await this.npz.readArray(this.layout.key);
    const { n, N } = this.layout;
    const src = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number | bigint>, Number);
    let out = src;
    if (this.layout.transposed) {
      out = new Float32Array(src.length);
      for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) for (let j = 0; j < n; j++) out[(j * N + r) * N + c] = src[(r * N + c) * n + j]!;
    }
    if (this.intensity) for (let k = 0; k < out.length; k++) out[k] = Math.sqrt(out[k]!);
    this.strided = out;
    return out;
  }

  private check(index: number): void {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: path.basename(this.npz.path), key: this.layout.key });
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new DataError('BAD_INDEX', `frame index ${index} is outside 0..${this.count - 1}`, { file: path.basename(this.npz.path), key: this.layout.key });
  }

  async read(index: number): Promise<Float32Array> {
    const [a] = await this.readMany([index]);
    return a!;
  }

  /** Reads frames, one positioned read per run of consecutive indices (capped at BLOCK_BYTES). */
  async readMany(indices: readonly number[]): Promise<Float32Array[]> {
    for (const i of indices) this.check(i);
    const NN = this.N * this.N;
    if (this.layout.storage === 'strided') {
      const all = await this.gathered();
      return this.checked(indices, indices.map((i) => all.slice(i * NN, (i + 1) * NN)));
    }
    const order = [...new Set(indices)].sort((a, b) => a - b);
    const got = new Map<number, Float32Array>();
    const maxRun = Math.max(1, Math.floor(BLOCK_BYTES / this.frameBytes));
    const runs: Promise<void>[] = [];
    for (let k = 0; k < order.length;) {
      let end = k + 1;
      while (end < order.length && order[end] === order[end - 1]! + 1 && end - k < maxRun) end++;
      const first = order[k]!, len = end - k;
      // Runs are read concurrently (positioned reads do not interfere).
      runs.push(
        this.npz.readRange(this.layout.key, first * this.frameBytes, len * this.frameBytes).then((bytes) => {
          for (let j = 0; j < len; j++) got.set(first + j, this.convert(bytes.subarray(j * this.frameBytes, (j + 1) * this.frameBytes)));
        }),
      );
      k = end;
    }
    // allSettled first: no read may still be running when an error reaches the caller (who may close the file).
    const settled = await Promise.allSettled(runs);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    return this.checked(indices, indices.map((i) => got.get(i)!));
  }

  /** Scratch blocks for reads that cannot land in place, kept for reuse (at most SCRATCH_KEPT). */
  private readonly scratch: Uint8Array[] = [];

  /**
   * Reads frames `indices[j]` into `out[j]` (N×N values each), one positioned
   * read per run of consecutive indices whose targets lie back to back,
   * straight into place when the file holds float32 in host byte order (else
   * through a reused scratch block and a conversion). Nothing is allocated
   * per frame, so a caller with fixed buffers (group's frame slots) reads
   * without leaving garbage behind. Checked like readMany.
   */
  async readInto(indices: readonly number[], out: readonly Float32Array[]): Promise<void> {
    const NN = this.N * this.N;
    if (out.length !== indices.length) throw new RangeError(`readInto: ${indices.length} indices but ${out.length} targets`);
    for (const o of out) if (o.length !== NN) throw new RangeError(`readInto: a target holds ${o.length} values, not ${this.N}×${this.N}`);
    for (const i of indices) this.check(i);
    if (this.layout.storage === 'strided') {
      const all = await this.gathered();
      indices.forEach((i, j) => out[j]!.set(all.subarray(i * NN, (i + 1) * NN)));
      this.checked(indices, out);
      return;
    }
    const order = indices.map((_, j) => j).sort((a, b) => indices[a]! - indices[b]!);
    const maxRun = Math.max(1, Math.floor(BLOCK_BYTES / this.frameBytes));
    const runs: Promise<void>[] = [];
    for (let k = 0; k < order.length;) {
      let end = k + 1;
      while (end < order.length && indices[order[end]!] === indices[order[end - 1]!]! + 1 && end - k < maxRun) end++;
      runs.push(this.readRun(indices[order[k]!]!, order.slice(k, end).map((j) => out[j]!)));
      k = end;
    }
    // allSettled first: no read may still be writing into `out` when an error reaches the caller.
    const settled = await Promise.allSettled(runs);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    this.checked(indices, out);
  }

  /** Frames first, first + 1, … into `dests`. */
  private async readRun(first: number, dests: readonly Float32Array[]): Promise<void> {
    const fb = this.frameBytes;
    if (this.f4View) {
      // Straight into place: one read per stretch of targets that lie back to back.
      const reads: Promise<void>[] = [];
      for (let j = 0; j < dests.length;) {
        const d0 = dests[j]!;
        let end = j + 1;
        while (end < dests.length && dests[end]!.buffer === d0.buffer && dests[end]!.byteOffset === d0.byteOffset + (end - j) * fb) end++;
        reads.push(this.npz.readRangeInto(this.layout.key, (first + j) * fb, new Uint8Array(d0.buffer, d0.byteOffset, (end - j) * fb)));
        j = end;
      }
      const settled = await Promise.allSettled(reads);
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
      if (this.intensity) for (const d of dests) sqrtInPlace(d);
      return;
    }
    // Other dtypes: read the run into a scratch block, then convert.
    const bytes = dests.length * fb;
    const k = this.scratch.findIndex((b) => b.length >= bytes);
    const block = k >= 0 ? this.scratch.splice(k, 1)[0]! : new Uint8Array(Buffer.allocUnsafeSlow(bytes).buffer);
    try {
      const raw = block.subarray(0, bytes);
      await this.npz.readRangeInto(this.layout.key, first * fb, raw);
      dests.forEach((d, j) => d.set(this.convert(raw.subarray(j * fb, (j + 1) * fb))));
    } finally {
      if (this.scratch.length < SCRATCH_KEPT) this.scratch.push(block);
    }
  }

  /** Frames read by index are checked like streamed ones (see PatternChecks.checkRead). */
  private checked<T extends readonly Float32Array[]>(indices: readonly number[], frames: T): T {
    this.checks.checkRead(indices, frames);
    return frames;
  }

  /**
   * Patterns in order, in blocks; a complete pass checks the entry's CRC-32.
   * With `reuse` the blocks are reused: a pattern (of a float32 file) is valid
   * only until the next one is asked for.
   */
  async *sequential(signal: AbortSignal, reuse = false): AsyncGenerator<{ index: number; amplitude: Float32Array }> {
    const NN = this.N * this.N;
    if (this.layout.storage === 'strided') {
      const all = await this.gathered();
      for (let i = 0; i < this.count; i++) {
        signal.throwIfAborted();
        yield { index: i, amplitude: all.slice(i * NN, (i + 1) * NN) };
      }
      return;
    }
    const per = Math.max(1, Math.floor(BLOCK_BYTES / this.frameBytes));
    let index = 0;
    for await (const block of this.npz.chunks(this.layout.key, per * this.frameBytes, { reuse })) {
      for (let o = 0; o + this.frameBytes <= block.length; o += this.frameBytes) {
        if (index >= this.count) return;
        signal.throwIfAborted();
        yield { index, amplitude: this.convert(block.subarray(o, o + this.frameBytes)) };
        index++;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.strided = undefined;
    await this.npz.close();
  }
}

function sqrtInPlace(a: Float32Array): void {
  for (let k = 0; k < a.length; k++) a[k] = Math.sqrt(a[k]!);
}

/** Why a pattern cannot be used, or undefined when it is fine. */
export function patternProblem(a: Float32Array, N: number): string | undefined {
  if (a.length !== N * N) return `pattern has ${a.length} values, expected ${N}×${N}`;
  // Clean path on the bits: a float32 is finite, not NaN and ≥ +0 exactly when
  // its bit pattern, read as int32, lies in [0, 0x7f800000). −0 also leaves
  // this loop; the exact checks from there on accept it.
  const bits = new Int32Array(a.buffer, a.byteOffset, a.length);
  const n = bits.length;
  let k = 0;
  while (k < n) {
    const b = bits[k]!;
    if (b < 0 || b >= 0x7f800000) break;
    k++;
  }
  if (k === n) return undefined;
  for (; k < a.length; k++) {
    const v = a[k]!;
    if (Number.isNaN(v)) return `pattern holds NaN (pixel ${k})`;
    if (!Number.isFinite(v)) return `pattern holds Inf (pixel ${k})`;
    if (v < 0) return `pattern holds a negative amplitude ${v} (pixel ${k})`;
  }
  return undefined;
}

async function openScan(file: string, ctx: StageContext, input: 'amplitude' | 'intensity', limit: number | undefined): Promise<{ scan: ScanMeta; store: NpzFrameStore; scanIndex?: Float64Array }> {
  const label = path.basename(file);
  let npz: NpzReader;
  try {
    npz = await openNpz(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('FILE_NOT_FOUND', 'file not found', { stage: ctx.id, file, hint: 'the path is relative to the pipeline file' });
    throw e;
  }
  try {
    const headers = new Map<string, NpyHeader>();
    for (const k of npz.entries()) headers.set(k, npz.header(k));
    const check = checkCanonical(headers);
    const first = check.problems[0];
    if (first !== undefined || check.layout === undefined) {
      const more = check.problems.length > 1 ? ` (+${check.problems.length - 1} more: ${check.problems.slice(1).map((p) => `[${p.key}] ${p.message}`).join('; ')})` : '';
      throw new DataError('CONTRACT', `${first?.message ?? 'not a canonical scan'}${more}`, { stage: ctx.id, file: label, key: first?.key ?? 'diffraction', hint: first?.hint ?? 'see docs/formats.md' });
    }
    for (const note of check.notes) ctx.log.info(`${label}: ${note}`);
    const layout = check.layout;
    if (layout.integer && input === 'amplitude') ctx.log.info(`${label}: integer patterns taken as amplitudes; set input: intensity if they are counts`);
    if (input === 'intensity') ctx.log.info(`${label}: input is intensity: patterns converted to amplitude by a square root`);
    const count = limit === undefined ? layout.n : Math.min(limit, layout.n);
    const xcoords = await readVector(npz, 'xcoords', count);
    const ycoords = await readVector(npz, 'ycoords', count);
    const probe = await readComplex2D(npz, 'probeGuess', label);
    const object = headers.has('objectGuess') ? await readComplex2D(npz, 'objectGuess', label) : undefined;
    const scanIndex = headers.has('scan_index') ? await readVector(npz, 'scan_index', count) : undefined;
    const store = new NpzFrameStore(npz, layout, count, input === 'intensity');
    const scan: ScanMeta = { N: layout.N, count, xcoords, ycoords, probe, ...(object === undefined ? {} : { object }), ...(scanIndex === undefined ? {} : { scanIndex: scanNumbers(scanIndex, label) }), origin: file, notes: { dtype: layout.descr, input, patterns_in_file: layout.n } };
    return { scan, store, ...(scanIndex === undefined ? {} : { scanIndex }) };
  } catch (e) {
    await npz.close();
    throw e;
  }
}

export default defineSource({
  inputFiles: (o) => [...(o.path !== undefined ? [o.path] : []), ...(o.paths ?? []).filter((p) => !/[*?]/.test(p)), ...(o.probe !== undefined ? [parseProbeSpec(o.probe).file] : [])],
  kind: 'source',
  emits: 'frame',
  type: 'npz',
  description: 'Reads a scan from a canonical NPZ (diffraction, xcoords, ycoords, probeGuess[, objectGuess]); patterns stay on disk.',
  options: z
    .object({
      path: z.string().min(1).optional().describe('The .npz file, relative to the pipeline file (or give `paths`).'),
      paths: z.array(z.string().min(1)).min(1).optional().describe("Several .npz files (globs with * and ? in the file name), one instrument: each file's scans are scans of their own (group never mixes them, split by: scan holds out whole ones); at most two files are open at a time."),
      on_error: z.enum(['fail', 'skip', 'route']).default('fail').describe('What to do with a bad pattern (NaN, Inf, negative): fail, skip it, or route it to the errors output.'),
      input: z.enum(['amplitude', 'intensity']).default('amplitude').describe('What the patterns hold: amplitude, or intensity/counts (square-rooted on read).'),
      limit: z.number().int().positive().optional().describe('Read at most this many patterns (the first ones).'),
      probe: z
        .string()
        .min(1)
        .optional()
        .describe("Use this probe instead of the file's probeGuess (e.g. one refined by another reconstruction): a .npy, an .npz holding probeGuess or probe, or FILE.npz:KEY; relative to the pipeline file."),
    })
    .strict(),
  async create(options, { ctx }) {
    const one = (file: string): Promise<Stream<Frame>> => openOne(options, file, ctx);
    if (options.paths !== undefined) {
      if (options.path !== undefined) throw new OptionsError('BAD_OPTION', 'give `path` or `paths`, not both', { stage: ctx.id, key: 'paths' });
      return manyFiles(await expandPaths(options.paths, ctx.baseDir, ctx.id), one, ctx);
    }
    if (options.path === undefined) throw new OptionsError('BAD_OPTION', 'the npz source needs `path` (one file) or `paths` (several)', { stage: ctx.id, key: 'path' });
    return one(path.resolve(ctx.baseDir, options.path));
  },
});

/** One file as a stream (the source with `path`, or each file of `paths`). */
async function openOne(options: { on_error: ErrorPolicy; input: 'amplitude' | 'intensity'; limit?: number | undefined; probe?: string | undefined }, file: string, ctx: StageContext): Promise<Stream<Frame>> {
  const opened = await openScan(file, ctx, options.input, options.limit);
  const { store, scanIndex } = opened;
  const scan = await overrideProbe(opened.scan, options.probe, ctx, store, `${path.basename(file)}'s probeGuess`);
  await checkScanOrClose(scan, { stage: ctx.id, file: path.basename(file), ...(options.probe !== undefined ? { keys: { probe: 'probe' } } : {}) }, store);
  const { checks } = store;
  // Borrowed: the patterns are views over reused read blocks (see Stream.openBorrowed).
  const frames = (signal: AbortSignal, borrowed: boolean): AsyncGenerator<Frame> => checkedFrames(store.sequential(signal, borrowed), { scan, checks, ctx, policy: options.on_error, scanIndex });
  return {
    meta: { record: 'frame', scan, count: scan.count },
    frames: offeredStore(store, checks, options.on_error, ctx, (s) => store.sequential(s, true)),
    open: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal, false),
    openBorrowed: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal, true),
    close: () => store.close(),
  };
}
