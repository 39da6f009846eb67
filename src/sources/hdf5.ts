// The `hdf5` source: a scan in an HDF5 file, read with h5wasm (HDF5's C library
// compiled to WebAssembly: no native build; chunked and gzip-compressed
// datasets work, other compression filters do not). Three layouts (SPEC §2):
//   canonical  the canonical NPZ keys as datasets at the root (diffraction or
//              diff3d, xcoords, ycoords, probeGuess[, objectGuess, scan_index]);
//   ptychodus  a ptychodus product: the same arrays in its /raw_data group
//              (its root `probe` and `object` stand in when /raw_data has no
//              probeGuess or objectGuess; the first probe mode is used);
//   cxi        CXI: counts in entry_1/data_1/data (or the detector's data),
//              sample positions entry_1/sample_1/geometry_1/translation in
//              metres, converted to object pixels with the far-field pixel
//              size λ·z / (N·detector pixel) or `pixel_size_m`; the detector's
//              bad-pixel mask, if any, sets those pixels to 0. CXI holds no
//              probe in a standard place: give one with `probe`.
// As with npz, positions, probe and object are read at create and patterns
// stay on disk: they are read by hyperslab, a block of consecutive frames per
// read, checked (NaN, Inf, negative) and put through the error policy. All
// HDF5 calls run in one reader thread (hdf5-worker.mjs) shared by every file.
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { DataError, FormatError, OptionsError } from '../errors.js';
import { loadProbeFile } from '../io/probe-file.js';
import { defineSource, type Complex2D, type ErrorPolicy, type Frame, type FrameStore, type ScanMeta, type StageContext, type Stream } from '../pipeline/types.js';
import { expandPaths, manyFiles, scanNumbers } from './many-files.js';
import { checkedFrames, offeredStore, PatternChecks } from './checks.js';
import { patternProblem } from './npz.js';
import { checkPositive, checkScanOrClose } from './scan-checks.js';
import { readManyViaInto } from '../core/frames.js';

/** Bytes of patterns read per hyperslab on a sequential pass (and at most per run of a random read). */
const BLOCK_BYTES = 4 << 20;

export type H5Layout = 'canonical' | 'ptychodus' | 'cxi';

/** A dataset as the reader thread describes it. */
interface DatasetInfo {
  shape: number[];
  dtype: string;
  /** HDF5 type class: 0 integer, 1 float, 6 compound, … */
  cls: number;
  /** A two-member compound: complex (r, i) as h5py writes it. */
  complex: boolean;
}

interface Structure {
  datasets: Record<string, DatasetInfo>;
  groups: string[];
}

/** What the reader thread returns for a dataset or a hyperslab. */
type H5Value = ArrayLike<number> | BigInt64Array | BigUint64Array | number | bigint | [number, number][] | null;

/**
 * The HDF5 reader thread (hdf5-worker.mjs), shared by every open file and
 * started on first use. It runs h5wasm without the tsx loader (see the
 * worker's header) and keeps HDF5's synchronous reads off the main thread.
 * It holds the process open only while a request is in flight.
 */
class H5Reader {
  private worker: Worker | undefined;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private start(): Worker {
    const w = new Worker(new URL('./hdf5-worker.mjs', import.meta.url), { execArgv: [] });
    w.unref();
    w.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    const fail = (e: Error): void => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the HDF5 reader thread exited (code ${code})`)));
    return w;
  }

  request<T>(op: string, args: Record<string, unknown>): Promise<T> {
    this.worker ??= this.start();
    const w = this.worker;
    const id = this.next++;
    if (this.pending.size === 0) w.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ id, op, ...args });
    });
  }
}

const reader = new H5Reader();

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether the file carries the HDF5 signature (at 0, or after a user block of 512·2^k bytes). */
export function isHdf5(file: string): boolean {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : at * 2) {
      if (readSync(fd, head, 0, 8, at) === 8 && SIGNATURE.every((b, k) => head[k] === b)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Values of a real numeric dataset or hyperslab as numbers (bigint and typed arrays alike). */
function numbers(v: H5Value): ArrayLike<number> {
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Float64Array.from(v, Number);
  if (ArrayBuffer.isView(v)) return v as unknown as ArrayLike<number>;
  if (typeof v === 'number') return [v];
  if (typeof v === 'bigint') return [Number(v)];
  throw new TypeError('not a numeric array');
}

/** Most values per stored byte gzip can give (deflate's limit is 1032:1, and a value takes at least one byte). */
const MAX_RATIO = 1032;

/** A file opened for one source: datasets by path, with errors that name the file and key. */
class H5Scan {
  private closed = false;

  private constructor(
    private readonly handle: number,
    readonly structure: Structure,
    readonly label: string,
    private readonly fileSize: number,
  ) {}

  /**
   * Whether a dataset declares more values than the file could hold even at
   * gzip's best ratio: it is then (mostly) unallocated, and reading it would
   * cost memory and time for fill values the file does not contain.
   */
  unallocated(key: string): boolean {
    const n = this.dataset(key).shape.reduce((a, b) => a * b, 1);
    return n > MAX_RATIO * this.fileSize;
  }

  static async open(file: string, label: string, allowExternal = false): Promise<H5Scan> {
    try {
      const r = await reader.request<{ handle: number } & Structure>('open', { path: file, allowExternal });
      return new H5Scan(r.handle, { datasets: r.datasets, groups: r.groups }, label, statSync(file).size);
    } catch (e) {
      const text = String(e instanceof Error ? e.message : e);
      // The reader thread's own refusals (link cycles, external links) carry their code first.
      const own = /^(HDF5_STRUCTURE|HDF5_EXTERNAL_LINK): (.*)$/s.exec(text);
      if (own !== null) throw new FormatError(own[1]!, own[2]!, { file: label, ...(own[1] === 'HDF5_EXTERNAL_LINK' ? { hint: 'set allow.hdf5_external_links: true if you trust the linked files' } : {}) });
      // HDF5's diagnostics name the library's build paths: keep the first lines, without them.
      const brief = text.split('\n').slice(0, 2).join(' ').replace(/\S*\/\S+\.c\b( line \d+)?/g, '').replace(/\s+/g, ' ').trim();
      throw new FormatError('NOT_HDF5', `HDF5 could not open it: ${brief}`, { file: label });
    }
  }

  has(key: string): boolean {
    return this.structure.datasets[key] !== undefined;
  }

  dataset(key: string): DatasetInfo {
    const d = this.structure.datasets[key];
    if (d === undefined) throw new DataError('MISSING_KEY', `no dataset '${key}'`, { file: this.label, key, hint: 'see docs/formats.md for the HDF5 layouts the hdf5 source reads' });
    return d;
  }

  async value(key: string): Promise<H5Value> {
    if (this.unallocated(key)) {
      throw new DataError('HDF5_UNALLOCATED', `declares ${this.dataset(key).shape.join('×')} values, more than the ${this.fileSize}-byte file can hold (unallocated storage?)`, { file: this.label, key, hint: 'write the dataset with its data' });
    }
    return this.request('value', { key });
  }

  /** Rows first..first+count−1 along the first axis. */
  async slice(key: string, first: number, count: number): Promise<H5Value> {
    return this.request('slice', { key, first, count });
  }

  private async request(op: string, args: Record<string, unknown>): Promise<H5Value> {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the file is closed', { file: this.label });
    try {
      return await reader.request<H5Value>(op, { handle: this.handle, ...args });
    } catch (e) {
      const key = typeof args.key === 'string' ? args.key : undefined;
      throw new FormatError('READ_FAILED', `could not be read: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`, {
        file: this.label,
        ...(key === undefined ? {} : { key }),
        hint: 'the file may be truncated, or compressed with a filter h5wasm lacks (only gzip is built in)',
      });
    }
  }

  /** A real vector of `count` values (a (count, k) array gives its column `column`). */
  async vector(key: string, count: number, column?: number): Promise<Float64Array> {
    const { shape } = this.dataset(key);
    const cols = column === undefined ? 1 : shape[1] ?? 0;
    if (shape[0] !== count || (column === undefined ? shape.length !== 1 : shape.length !== 2 || column >= cols)) {
      throw new DataError('BAD_SHAPE', `has shape (${shape.join(', ')}), expected (${count}${column === undefined ? '' : ', ≥ ' + (column + 1)})`, { file: this.label, key, hint: 'one entry per pattern' });
    }
    const v = numbers(await this.value(key));
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = v[i * cols + (column ?? 0)]!;
    return out;
  }

  async scalar(key: string): Promise<number> {
    const x = numbers(await this.value(key))[0];
    if (x === undefined || !Number.isFinite(x)) throw new DataError('BAD_VALUE', 'is not a finite number', { file: this.label, key });
    return x;
  }

  /** A complex (or real) 2-D array; leading axes of length 1 are dropped and of a mode axis (I, H, W) the first mode is kept. */
  async complex2d(key: string, notes: string[]): Promise<Complex2D> {
    const d = this.dataset(key);
    let shape = [...d.shape];
    while (shape.length > 2 && shape[0] === 1) shape = shape.slice(1);
    if (shape.length === 3) {
      notes.push(`${key}: ${shape[0]} modes, the first one used`);
      shape = shape.slice(1);
    }
    const [height, width] = shape;
    if (shape.length !== 2 || height === undefined || width === undefined) {
      throw new DataError('BAD_SHAPE', `expected a 2-D array (or modes × 2-D), got (${d.shape.join(', ')})`, { file: this.label, key });
    }
    if (!d.complex && d.cls !== 0 && d.cls !== 1) throw new DataError('BAD_DTYPE', `holds ${d.dtype} values that are neither real nor complex (r, i)`, { file: this.label, key });
    const n = height * width;
    const re = new Float32Array(n);
    const im = new Float32Array(n);
    const v = await this.value(key);
    if (d.complex) {
      const pairs = v as [number, number][];
      for (let k = 0; k < n; k++) {
        re[k] = Number(pairs[k]![0]);
        im[k] = Number(pairs[k]![1]);
      }
    } else {
      const r = numbers(v);
      for (let k = 0; k < n; k++) re[k] = r[k]!;
    }
    return { height, width, re, im };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await reader.request('close', { handle: this.handle });
  }
}

/** Which layout a file holds (for `layout: auto`). */
export function detectLayout(st: Structure): H5Layout | undefined {
  if (st.groups.includes('entry_1')) return 'cxi';
  if (st.datasets['raw_data/diffraction'] !== undefined) return 'ptychodus';
  if (st.datasets.diffraction !== undefined || st.datasets.diff3d !== undefined) return 'canonical';
  return undefined;
}

/** Random access to the patterns of an HDF5 dataset (n, N, N), by hyperslab. */
export class H5FrameStore implements FrameStore {
  readonly N: number;
  /** Which patterns are known clean or dropped (the source's exclusions). */
  readonly checks: PatternChecks;
  private closed = false;

  constructor(
    private readonly scan: H5Scan,
    readonly key: string,
    readonly count: number,
    N: number,
    private readonly intensity: boolean,
    /** Pixels to set to 0 (the detector's bad-pixel mask), or undefined. */
    private readonly masked: Int32Array | undefined,
  ) {
    this.N = N;
    this.checks = new PatternChecks(count, N, { file: scan.label, key }, patternProblem);
  }

  private check(index: number): void {
    if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: this.scan.label, key: this.key });
    if (!Number.isInteger(index) || index < 0 || index >= this.count) throw new DataError('BAD_INDEX', `frame index ${index} is outside 0..${this.count - 1}`, { file: this.scan.label, key: this.key });
  }

  /** Frames first .. first + len − 1 as one hyperslab. */
  private async slab(first: number, len: number): Promise<ArrayLike<number>> {
    return numbers(await this.scan.slice(this.key, first, len));
  }

  /** Frame j of a hyperslab into `out`, converted to amplitude. */
  private convert(src: ArrayLike<number>, j: number, out: Float32Array): void {
    const NN = this.N * this.N;
    const base = j * NN;
    if (src instanceof Float32Array) out.set(src.subarray(base, base + NN));
    else for (let p = 0; p < NN; p++) out[p] = src[base + p]!;
    if (this.intensity) for (let p = 0; p < NN; p++) out[p] = Math.sqrt(out[p]!);
    if (this.masked !== undefined) for (const p of this.masked) out[p] = 0;
  }

  async read(index: number): Promise<Float32Array> {
    return (await readManyViaInto(this, [index]))[0]!;
  }

  readMany(indices: readonly number[]): Promise<Float32Array[]> {
    return readManyViaInto(this, indices);
  }

  /** Frames `indices[j]` into `out[j]`, one hyperslab per run of consecutive indices; checked like streamed ones. */
  async readInto(indices: readonly number[], out: readonly Float32Array[]): Promise<void> {
    const NN = this.N * this.N;
    if (out.length !== indices.length) throw new RangeError(`readInto: ${indices.length} indices but ${out.length} targets`);
    for (const o of out) if (o.length !== NN) throw new RangeError(`readInto: a target holds ${o.length} values, not ${this.N}×${this.N}`);
    for (const i of indices) this.check(i);
    const order = indices.map((_, j) => j).sort((a, b) => indices[a]! - indices[b]!);
    const maxRun = Math.max(1, Math.floor(BLOCK_BYTES / (4 * NN)));
    for (let k = 0; k < order.length;) {
      let end = k + 1;
      while (end < order.length && indices[order[end]!] === indices[order[end - 1]!]! + 1 && end - k < maxRun) end++;
      const first = indices[order[k]!]!;
      const slab = await this.slab(first, end - k);
      for (let j = k; j < end; j++) this.convert(slab, j - k, out[order[j]!]!);
      k = end;
    }
    this.checks.checkRead(indices, out);
  }

  /** Patterns in order, a hyperslab of consecutive frames at a time. */
  async *sequential(signal: AbortSignal): AsyncGenerator<{ index: number; amplitude: Float32Array }> {
    const NN = this.N * this.N;
    const per = Math.max(1, Math.floor(BLOCK_BYTES / (4 * NN)));
    for (let first = 0; first < this.count; first += per) {
      signal.throwIfAborted();
      if (this.closed) throw new DataError('STORE_CLOSED', 'the frame store is closed', { file: this.scan.label, key: this.key });
      const len = Math.min(per, this.count - first);
      const slab = await this.slab(first, len);
      for (let j = 0; j < len; j++) {
        const a = new Float32Array(NN);
        this.convert(slab, j, a);
        yield { index: first + j, amplitude: a };
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.scan.close();
  }
}

interface Opened {
  scan: ScanMeta;
  store: H5FrameStore;
  scanIndex?: Float64Array;
  notes: string[];
}

interface OpenOptions {
  layout: 'auto' | H5Layout;
  input: 'amplitude' | 'intensity' | undefined;
  limit: number | undefined;
  pixel_size_m: number | undefined;
  position_sign: 1 | -1;
  apply_mask: boolean;
  hasProbeOption: boolean;
}

/** The patterns dataset's shape checked: (n, N, N). */
function patternShape(h: H5Scan, key: string): { n: number; N: number; dataset: DatasetInfo } {
  const dataset = h.dataset(key);
  const shape = dataset.shape;
  const [n, a, b] = shape;
  if (shape.length !== 3 || n === undefined || a === undefined || b === undefined) {
    throw new DataError('BAD_SHAPE', `patterns must be (n, N, N), got (${shape.join(', ')})`, { file: h.label, key, hint: 'store the patterns as one (n, N, N) dataset' });
  }
  if (a !== b) throw new DataError('NOT_SQUARE', `patterns are ${a}×${b}; they must be square`, { file: h.label, key });
  // HDF5 type classes 0 and 1: integers and floats.
  if (dataset.cls !== 0 && dataset.cls !== 1) {
    throw new DataError('BAD_DTYPE', `patterns must be real numbers, got dtype ${dataset.dtype}`, { file: h.label, key });
  }
  return { n, N: a, dataset };
}

async function openLayout(h: H5Scan, file: string, layout: H5Layout, o: OpenOptions): Promise<Opened> {
  const notes: string[] = [];
  if (layout === 'cxi') {
    const key = h.has('entry_1/data_1/data') ? 'entry_1/data_1/data' : 'entry_1/instrument_1/detector_1/data';
    const { n: total, N, dataset } = patternShape(h, key);
    const n = o.limit === undefined ? total : Math.min(o.limit, total);
    const tkey = 'entry_1/sample_1/geometry_1/translation';
    const tx = (await h.vector(tkey, total, 0)).subarray(0, n);
    const ty = (await h.vector(tkey, total, 1)).subarray(0, n);
    let px = o.pixel_size_m;
    if (px === undefined) {
      const det = 'entry_1/instrument_1/detector_1';
      const lambda = checkPositive(await h.scalar('entry_1/instrument_1/source_1/wavelength'), { file: h.label, key: 'entry_1/instrument_1/source_1/wavelength', what: 'the wavelength' });
      const dist = checkPositive(await h.scalar(`${det}/distance`), { file: h.label, key: `${det}/distance`, what: 'the detector distance' });
      const dpx = checkPositive(await h.scalar(`${det}/x_pixel_size`), { file: h.label, key: `${det}/x_pixel_size`, what: 'the detector pixel size' });
      if (h.has(`${det}/y_pixel_size`) && Math.abs((await h.scalar(`${det}/y_pixel_size`)) - dpx) > 1e-6 * dpx) {
        throw new DataError('NON_SQUARE_PIXELS', 'detector pixels are not square', { file: h.label, key: `${det}/y_pixel_size`, hint: 'give pixel_size_m (the object pixel size in metres)' });
      }
      px = (lambda * dist) / (N * dpx);
      notes.push(`object pixel size ${px.toPrecision(4)} m = wavelength · distance / (N · detector pixel) (far field)`);
    }
    const xcoords = Float64Array.from(tx, (v) => (o.position_sign * v) / px);
    const ycoords = Float64Array.from(ty, (v) => (o.position_sign * v) / px);
    notes.push(`positions: ${o.position_sign === -1 ? '−' : ''}translation / pixel size (x from column 0, y from column 1)`);
    let masked: Int32Array | undefined;
    const mkey = 'entry_1/instrument_1/detector_1/mask';
    if (o.apply_mask && h.has(mkey)) {
      const m = h.dataset(mkey);
      if (m.shape.join() !== [N, N].join()) throw new DataError('BAD_SHAPE', `mask is (${m.shape.join(', ')}), patterns are ${N}×${N}`, { file: h.label, key: mkey, hint: 'set apply_mask: false to ignore it' });
      const mv = numbers(await h.value(mkey));
      const bad: number[] = [];
      for (let p = 0; p < N * N; p++) if (mv[p] !== 0) bad.push(p);
      masked = Int32Array.from(bad);
      notes.push(`${bad.length} pixel(s) the detector mask marks set to 0`);
    }
    const input = o.input ?? 'intensity';
    if (o.input === undefined) notes.push('CXI patterns taken as intensity (counts): square-rooted on read');
    if (!o.hasProbeOption) {
      throw new OptionsError('NO_PROBE', 'a CXI file holds no probe in a standard place', { file: h.label, key: 'probe', hint: 'give the source a probe: probe: FILE.npz[:KEY] or FILE.npy' });
    }
    const store = new H5FrameStore(h, key, n, N, input === 'intensity', masked);
    const probe: Complex2D = { height: N, width: N, re: new Float32Array(N * N), im: new Float32Array(N * N) };
    const scan: ScanMeta = { N, count: n, xcoords, ycoords, probe, origin: file, notes: { layout, input, dtype: dataset.dtype, patterns_in_file: total, pixel_size_m: px } };
    return { scan, store, notes };
  }
  const root = layout === 'ptychodus' ? 'raw_data/' : '';
  let key = `${root}diffraction`;
  if (layout === 'canonical' && !h.has(key) && h.has('diff3d')) {
    key = 'diff3d';
    notes.push("legacy key 'diff3d' read as diffraction");
  }
  const { n: total, N, dataset } = patternShape(h, key);
  const n = o.limit === undefined ? total : Math.min(o.limit, total);
  const xcoords = (await h.vector(`${root}xcoords`, total)).subarray(0, n);
  const ycoords = (await h.vector(`${root}ycoords`, total)).subarray(0, n);
  const scanIndex = h.has(`${root}scan_index`) ? (await h.vector(`${root}scan_index`, total)).subarray(0, n) : undefined;
  const pick = (own: string, fallback: string | undefined): string | undefined => (h.has(own) ? own : fallback !== undefined && h.has(fallback) ? fallback : undefined);
  const probeKey = pick(`${root}probeGuess`, layout === 'ptychodus' ? 'probe' : undefined);
  const objectKey = pick(`${root}objectGuess`, layout === 'ptychodus' ? 'object' : undefined);
  let probe: Complex2D | undefined;
  if (probeKey !== undefined) probe = await h.complex2d(probeKey, notes);
  else if (!o.hasProbeOption) throw new DataError('MISSING_KEY', `no probe (${root}probeGuess${layout === 'ptychodus' ? ' or probe' : ''})`, { file: h.label, key: `${root}probeGuess`, hint: 'add it to the file, or give the source a probe: option' });
  if (probe !== undefined && (probe.width !== N || probe.height !== N) && !o.hasProbeOption) {
    throw new DataError('PROBE_SIZE', `the probe is ${probe.width}×${probe.height} but the patterns are ${N}×${N}`, { file: h.label, key: probeKey ?? 'probeGuess', hint: 'the probe must be sampled like the patterns' });
  }
  const object = objectKey === undefined ? undefined : await h.complex2d(objectKey, notes);
  const input = o.input ?? 'amplitude';
  const store = new H5FrameStore(h, key, n, N, input === 'intensity', undefined);
  const scan: ScanMeta = {
    N,
    count: n,
    xcoords,
    ycoords,
    probe: probe ?? { height: N, width: N, re: new Float32Array(N * N), im: new Float32Array(N * N) },
    ...(object === undefined ? {} : { object }),
    ...(scanIndex === undefined ? {} : { scanIndex: scanNumbers(scanIndex, h.label) }),
    origin: file,
    notes: { layout, input, dtype: dataset.dtype, patterns_in_file: total },
  };
  return { scan, store, notes, ...(scanIndex === undefined ? {} : { scanIndex }) };
}

async function openScan(file: string, ctx: StageContext, o: OpenOptions): Promise<Opened> {
  const label = path.basename(file);
  if (!existsSync(file)) throw new DataError('FILE_NOT_FOUND', 'file not found', { stage: ctx.id, file, hint: 'the path is relative to the pipeline file' });
  if (!isHdf5(file)) throw new FormatError('NOT_HDF5', 'not an HDF5 file (no HDF5 signature)', { stage: ctx.id, file: label, hint: 'the hdf5 source reads .h5/.hdf5/.cxi files; use npz for .npz' });
  const h = await H5Scan.open(file, label, ctx.allow?.hdf5_external_links === true);
  try {
    const layout = o.layout === 'auto' ? detectLayout(h.structure) : o.layout;
    if (layout === undefined) {
      const top = [...Object.keys(h.structure.datasets), ...h.structure.groups].filter((k) => !k.includes('/'));
      throw new DataError('UNKNOWN_LAYOUT', `found none of the layouts the hdf5 source reads (top level: ${top.join(', ')})`, {
        stage: ctx.id,
        file: label,
        hint: 'expected diffraction at the root (canonical), raw_data/diffraction (ptychodus) or entry_1 (CXI); see docs/formats.md',
      });
    }
    return await openLayout(h, file, layout, o);
  } catch (e) {
    // The errors name file and key; the engine adds the stage.
    await h.close();
    throw e;
  }
}

/** One dataset of an HDF5 file, as `inspect` reports it. */
export interface H5DatasetReport {
  shape: number[];
  dtype: string;
  size: number;
  min?: number;
  max?: number;
  mean?: number;
  /** Complex (an r/i compound): mean modulus. */
  mean_abs?: number;
}

/**
 * What an HDF5 file holds (every dataset with statistics, accumulated a block
 * along the first axis at a time) and whether the hdf5 source can read it as a
 * scan (with a probe option assumed given, which CXI needs).
 */
export async function inspectHdf5(file: string): Promise<{ datasets: Record<string, H5DatasetReport>; layout: H5Layout | undefined; problems: string[] }> {
  const label = path.basename(file);
  if (!isHdf5(file)) throw new FormatError('NOT_HDF5', 'not an HDF5 file (no HDF5 signature)', { file: label });
  const h = await H5Scan.open(file, label);
  try {
    const datasets: Record<string, H5DatasetReport> = {};
    for (const [name, d] of Object.entries(h.structure.datasets)) datasets[name] = await datasetReport(h, name, d);
    const layout = detectLayout(h.structure);
    const problems: string[] = [];
    if (layout === undefined) problems.push('none of the layouts the hdf5 source reads (canonical keys at the root, raw_data/diffraction, or CXI entry_1)');
    else {
      try {
        await openLayout(h, file, layout, { layout, input: undefined, limit: undefined, pixel_size_m: undefined, position_sign: -1, apply_mask: true, hasProbeOption: true });
        if (layout === 'cxi') problems.push('CXI holds no probe in a standard place: give the source a probe option');
      } catch (e) {
        problems.push(e instanceof Error ? e.message : String(e));
      }
    }
    return { datasets, layout, problems };
  } finally {
    await h.close();
  }
}

async function datasetReport(h: H5Scan, name: string, d: DatasetInfo): Promise<H5DatasetReport> {
  const shape = d.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  const out: H5DatasetReport = { shape, dtype: d.dtype, size };
  // No statistics of fill values the file does not hold.
  if (size === 0 || (d.cls !== 0 && d.cls !== 1 && !d.complex) || h.unallocated(name)) return out;
  let min = Infinity, max = -Infinity, sum = 0;
  const rows = shape.length === 0 ? 1 : shape[0]!;
  const perRow = size / rows;
  const step = Math.max(1, Math.floor(BLOCK_BYTES / 8 / perRow));
  for (let r = 0; r < rows; r += step) {
    const v = shape.length === 0 ? await h.value(name) : await h.slice(name, r, Math.min(step, rows - r));
    if (d.complex) {
      for (const pair of v as [number, number][]) sum += Math.hypot(Number(pair[0]), Number(pair[1]));
    } else {
      const a = numbers(v);
      for (let k = 0; k < a.length; k++) {
        const x = a[k]!;
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
      }
    }
  }
  if (d.complex) out.mean_abs = sum / size;
  else Object.assign(out, { min, max, mean: sum / size });
  return out;
}

export default defineSource({
  kind: 'source',
  emits: 'frame',
  type: 'hdf5',
  description: 'Reads a scan from an HDF5 file: canonical keys at the root, a ptychodus product (/raw_data) or CXI (entry_1); patterns stay on disk.',
  options: z
    .object({
      path: z.string().min(1).optional().describe('The .h5/.hdf5/.cxi file, relative to the pipeline file (or give `paths`).'),
      paths: z.array(z.string().min(1)).min(1).optional().describe("Several files (globs with * and ? in the file name), one instrument: each file's scans are scans of their own (group never mixes them, split by: scan holds out whole ones); at most two files are open at a time."),
      layout: z.enum(['auto', 'canonical', 'ptychodus', 'cxi']).default('auto').describe('Which layout the file holds (auto: entry_1 → cxi, raw_data/diffraction → ptychodus, diffraction → canonical).'),
      on_error: z.enum(['fail', 'skip', 'route']).default('fail').describe('What to do with a bad pattern (NaN, Inf, negative): fail, skip it, or route it to the errors output.'),
      input: z.enum(['amplitude', 'intensity']).optional().describe('What the patterns hold (default: amplitude, but intensity for CXI, whose patterns are counts); intensities are square-rooted on read.'),
      limit: z.number().int().positive().optional().describe('Read at most this many patterns (the first ones).'),
      probe: z.string().min(1).optional().describe('Use this probe (a .npy, an .npz holding probeGuess or probe, or FILE.npz:KEY); required for CXI.'),
      pixel_size_m: z.number().positive().optional().describe('CXI: the object pixel size in metres (default: wavelength · distance / (N · detector pixel), far field).'),
      position_sign: z.union([z.literal(1), z.literal(-1)]).default(-1).describe('CXI: positions = sign · translation / pixel size (−1: the beam moves opposite to the sample).'),
      apply_mask: z.boolean().default(true).describe("CXI: set the pixels the detector's mask marks to 0."),
    })
    .strict(),
  async create(options, { ctx }) {
    const one = (file: string): Promise<Stream<Frame>> => openOne(options, file, ctx);
    if (options.paths !== undefined) {
      if (options.path !== undefined) throw new OptionsError('BAD_OPTION', 'give `path` or `paths`, not both', { stage: ctx.id, key: 'paths' });
      return manyFiles(await expandPaths(options.paths, ctx.baseDir, ctx.id), one, ctx);
    }
    if (options.path === undefined) throw new OptionsError('BAD_OPTION', 'the hdf5 source needs `path` (one file) or `paths` (several)', { stage: ctx.id, key: 'path' });
    return one(path.resolve(ctx.baseDir, options.path));
  },
});

type H5Options = { layout: 'auto' | 'canonical' | 'ptychodus' | 'cxi'; on_error: ErrorPolicy; input?: 'amplitude' | 'intensity' | undefined; limit?: number | undefined; probe?: string | undefined; pixel_size_m?: number | undefined; position_sign: 1 | -1; apply_mask: boolean };

/** One file as a stream (the source with `path`). */
async function openOne(options: H5Options, file: string, ctx: StageContext): Promise<Stream<Frame>> {
  const opened = await openScan(file, ctx, {
    layout: options.layout,
    input: options.input,
    limit: options.limit,
    pixel_size_m: options.pixel_size_m,
    position_sign: options.position_sign,
    apply_mask: options.apply_mask,
    hasProbeOption: options.probe !== undefined,
  });
  const { store, scanIndex } = opened;
  let scan = opened.scan;
  const label = path.basename(file);
  for (const note of opened.notes) ctx.log.info(`${label}: ${note}`);
  if (options.probe !== undefined) {
    try {
      const { probe, origin } = await loadProbeFile(options.probe, ctx.baseDir, ctx.id);
      if (probe.width !== scan.N || probe.height !== scan.N) {
        throw new OptionsError('PROBE_SIZE', `the probe is ${probe.width}×${probe.height} but the patterns are ${scan.N}×${scan.N}`, { stage: ctx.id, file: origin, key: 'probe', hint: 'the probe must be sampled like the patterns' });
      }
      ctx.log.info(`probe from ${origin}`);
      scan = { ...scan, probe, notes: { ...scan.notes, probe: origin } };
    } catch (e) {
      await store.close();
      throw e;
    }
  }
  const cxi = scan.notes?.layout === 'cxi', ptychodus = scan.notes?.layout === 'ptychodus';
  const keys = cxi ? { x: 'entry_1/sample_1/geometry_1/translation', y: 'entry_1/sample_1/geometry_1/translation', probe: 'probe' } : ptychodus ? { x: 'raw_data/xcoords', y: 'raw_data/ycoords' } : {};
  await checkScanOrClose(scan, { stage: ctx.id, file: label, keys: options.probe !== undefined ? { ...keys, probe: 'probe' } : keys }, store);
  const { checks } = store;
  const frames = (signal: AbortSignal): AsyncGenerator<Frame> => checkedFrames(store.sequential(signal), { scan, checks, ctx, policy: options.on_error, scanIndex });
  return {
    meta: { record: 'frame', scan, count: scan.count },
    frames: offeredStore(store, checks, options.on_error, ctx, (s) => store.sequential(s)),
    open: (signal: AbortSignal): AsyncIterable<Frame> => frames(signal),
    close: () => store.close(),
  };
}
