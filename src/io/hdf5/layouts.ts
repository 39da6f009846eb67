// The three scan layouts the hdf5 source reads (SPEC §2):
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
//              probe in a standard place: the caller gives one.
// Positions, probe and object are read here; patterns are only described
// (dataset, count, intensity, mask) for a frame store to read later.
import { DataError, OptionsError } from '../../errors.js';
import type { Complex2D, ScanMeta } from '../../records/index.js';
import type { H5File } from './file.js';
import { numbers, type DatasetInfo, type Structure } from './reader.js';

export type H5Layout = 'canonical' | 'ptychodus' | 'cxi';

/** Which layout a file holds (for `layout: auto`). */
export function detectLayout(st: Structure): H5Layout | undefined {
  if (st.groups.includes('entry_1')) return 'cxi';
  if (st.datasets['raw_data/diffraction'] !== undefined) return 'ptychodus';
  if (st.datasets.diffraction !== undefined || st.datasets.diff3d !== undefined) return 'canonical';
  return undefined;
}

/** Where a layout's patterns are, for a frame store. */
export interface H5Patterns {
  key: string;
  count: number;
  N: number;
  intensity: boolean;
  /** Pixels to set to 0 (the detector's bad-pixel mask), or undefined. */
  masked: Int32Array | undefined;
}

export interface H5Opened {
  scan: ScanMeta;
  patterns: H5Patterns;
  scanIndex?: Float64Array;
  notes: string[];
}

export interface H5OpenOptions {
  input?: 'amplitude' | 'intensity' | undefined;
  limit?: number | undefined;
  pixel_size_m?: number | undefined;
  position_sign: 1 | -1;
  apply_mask: boolean;
  hasProbeOption: boolean;
}

function positive(v: number, file: string, key: string, what: string): number {
  if (!(Number.isFinite(v) && v > 0))
    throw new DataError('BAD_VALUE', `${what} is ${v}; it must be a positive number`, { file, key, hint: 'fix the file, or give the value as an option' });
  return v;
}

/** The patterns dataset's shape checked: (n, N, N). */
function patternShape(h: H5File, key: string): { n: number; N: number; dataset: DatasetInfo } {
  const dataset = h.dataset(key);
  const shape = dataset.shape;
  const [n, a, b] = shape;
  if (shape.length !== 3 || n === undefined || a === undefined || b === undefined) {
    throw new DataError('BAD_SHAPE', `patterns must be (n, N, N), got (${shape.join(', ')})`, {
      file: h.label,
      key,
      hint: 'store the patterns as one (n, N, N) dataset',
    });
  }
  if (a !== b) throw new DataError('NOT_SQUARE', `patterns are ${a}×${b}; they must be square`, { file: h.label, key });
  // HDF5 type classes 0 and 1: integers and floats.
  if (dataset.cls !== 0 && dataset.cls !== 1) {
    throw new DataError('BAD_DTYPE', `patterns must be real numbers, got dtype ${dataset.dtype}`, { file: h.label, key });
  }
  return { n, N: a, dataset };
}

/** A scan in layout `layout`: geometry, probe and object read, patterns described. */
export function openLayout(h: H5File, file: string, layout: H5Layout, o: H5OpenOptions): Promise<H5Opened> {
  return layout === 'cxi' ? openCxi(h, file, o) : openRooted(h, file, layout, o);
}

const zeroProbe = (N: number): Complex2D => ({ height: N, width: N, re: new Float32Array(N * N), im: new Float32Array(N * N) });

/** The object pixel size in metres from CXI's wavelength, distance and detector pixel (far field). */
async function cxiPixelSize(h: H5File, N: number, notes: string[]): Promise<number> {
  const det = 'entry_1/instrument_1/detector_1';
  const lambda = positive(await h.scalar('entry_1/instrument_1/source_1/wavelength'), h.label, 'entry_1/instrument_1/source_1/wavelength', 'the wavelength');
  const dist = positive(await h.scalar(`${det}/distance`), h.label, `${det}/distance`, 'the detector distance');
  const dpx = positive(await h.scalar(`${det}/x_pixel_size`), h.label, `${det}/x_pixel_size`, 'the detector pixel size');
  if (h.has(`${det}/y_pixel_size`) && Math.abs((await h.scalar(`${det}/y_pixel_size`)) - dpx) > 1e-6 * dpx) {
    throw new DataError('NON_SQUARE_PIXELS', 'detector pixels are not square', {
      file: h.label,
      key: `${det}/y_pixel_size`,
      hint: 'give pixel_size_m (the object pixel size in metres)',
    });
  }
  const px = (lambda * dist) / (N * dpx);
  notes.push(`object pixel size ${px.toPrecision(4)} m = wavelength · distance / (N · detector pixel) (far field)`);
  return px;
}

/** The pixels CXI's detector mask marks (non-zero), or undefined without a mask. */
async function cxiMask(h: H5File, N: number, notes: string[]): Promise<Int32Array | undefined> {
  const mkey = 'entry_1/instrument_1/detector_1/mask';
  if (!h.has(mkey)) return undefined;
  const m = h.dataset(mkey);
  if (m.shape.join() !== [N, N].join())
    throw new DataError('BAD_SHAPE', `mask is (${m.shape.join(', ')}), patterns are ${N}×${N}`, {
      file: h.label,
      key: mkey,
      hint: 'set apply_mask: false to ignore it',
    });
  const mv = numbers(await h.value(mkey));
  const bad: number[] = [];
  for (let p = 0; p < N * N; p++) if (mv[p] !== 0) bad.push(p);
  notes.push(`${bad.length} pixel(s) the detector mask marks set to 0`);
  return Int32Array.from(bad);
}

async function openCxi(h: H5File, file: string, o: H5OpenOptions): Promise<H5Opened> {
  const notes: string[] = [];
  const key = h.has('entry_1/data_1/data') ? 'entry_1/data_1/data' : 'entry_1/instrument_1/detector_1/data';
  const { n: total, N, dataset } = patternShape(h, key);
  const n = o.limit === undefined ? total : Math.min(o.limit, total);
  const tkey = 'entry_1/sample_1/geometry_1/translation';
  const tx = (await h.vector(tkey, total, 0)).subarray(0, n);
  const ty = (await h.vector(tkey, total, 1)).subarray(0, n);
  const px = o.pixel_size_m ?? (await cxiPixelSize(h, N, notes));
  const xcoords = Float64Array.from(tx, (v) => (o.position_sign * v) / px);
  const ycoords = Float64Array.from(ty, (v) => (o.position_sign * v) / px);
  notes.push(`positions: ${o.position_sign === -1 ? '−' : ''}translation / pixel size (x from column 0, y from column 1)`);
  const masked = o.apply_mask ? await cxiMask(h, N, notes) : undefined;
  const input = o.input ?? 'intensity';
  if (o.input === undefined) notes.push('CXI patterns taken as intensity (counts): square-rooted on read');
  if (!o.hasProbeOption) {
    throw new OptionsError('NO_PROBE', 'a CXI file holds no probe in a standard place', {
      file: h.label,
      key: 'probe',
      hint: 'give the source a probe: probe: FILE.npz[:KEY] or FILE.npy',
    });
  }
  const scan: ScanMeta = {
    N,
    count: n,
    xcoords,
    ycoords,
    probe: zeroProbe(N),
    origin: file,
    notes: { layout: 'cxi', input, dtype: dataset.dtype, patterns_in_file: total, pixel_size_m: px },
  };
  return { scan, patterns: { key, count: n, N, intensity: input === 'intensity', masked }, notes };
}

/** The probe and object of the canonical and ptychodus layouts (ptychodus's root `probe`/`object` stand in). */
async function rootedProbeObject(
  h: H5File,
  root: string,
  layout: 'canonical' | 'ptychodus',
  N: number,
  hasProbeOption: boolean,
  notes: string[],
): Promise<{ probe?: Complex2D; object?: Complex2D }> {
  const pick = (own: string, fallback: string): string | undefined => (h.has(own) ? own : layout === 'ptychodus' && h.has(fallback) ? fallback : undefined);
  const probeKey = pick(`${root}probeGuess`, 'probe');
  const objectKey = pick(`${root}objectGuess`, 'object');
  const probe = probeKey === undefined ? undefined : await h.complex2d(probeKey, notes);
  if (probe === undefined && !hasProbeOption)
    throw new DataError('MISSING_KEY', `no probe (${root}probeGuess${layout === 'ptychodus' ? ' or probe' : ''})`, {
      file: h.label,
      key: `${root}probeGuess`,
      hint: 'add it to the file, or give the source a probe: option',
    });
  if (probe !== undefined && (probe.width !== N || probe.height !== N) && !hasProbeOption) {
    throw new DataError('PROBE_SIZE', `the probe is ${probe.width}×${probe.height} but the patterns are ${N}×${N}`, {
      file: h.label,
      key: probeKey ?? 'probeGuess',
      hint: 'the probe must be sampled like the patterns',
    });
  }
  const object = objectKey === undefined ? undefined : await h.complex2d(objectKey, notes);
  return { ...(probe === undefined ? {} : { probe }), ...(object === undefined ? {} : { object }) };
}

/** The canonical layout (keys at the root) and ptychodus's (keys under raw_data/). */
async function openRooted(h: H5File, file: string, layout: 'canonical' | 'ptychodus', o: H5OpenOptions): Promise<H5Opened> {
  const notes: string[] = [];
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
  const { probe, object } = await rootedProbeObject(h, root, layout, N, o.hasProbeOption, notes);
  const input = o.input ?? 'amplitude';
  const scan: ScanMeta = {
    N,
    count: n,
    xcoords,
    ycoords,
    probe: probe ?? zeroProbe(N),
    ...(object === undefined ? {} : { object }),
    origin: file,
    notes: { layout, input, dtype: dataset.dtype, patterns_in_file: total },
  };
  return {
    scan,
    patterns: { key, count: n, N, intensity: input === 'intensity', masked: undefined },
    notes,
    ...(scanIndex === undefined ? {} : { scanIndex }),
  };
}
