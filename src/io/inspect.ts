// `inspect`: what an .npz, .npy or HDF5 file holds — per array shape, dtype, order and
// streaming statistics (min/max/mean; mean |z| for complex; fraction true for
// bool) — and whether an .npz meets the canonical contract. Statistics are
// accumulated chunk by chunk, so big arrays are never loaded whole.
import { checkReconstructionNpz, isReconstructionNpz } from './reconstruction-contract.js';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DataError, FormatError } from '../errors.js';
import { checkCanonical } from './canonical.js';
import { decodeElements, dtypeInfo, locateError, sizeOf, type NpyHeader } from './npy.js';
import { readNpyHeader } from './npy-file.js';
import { openRegular } from './paths.js';
import { openNpz } from './npz.js';
import { readAt } from './zip.js';

export interface ArrayReport {
  shape: number[];
  dtype: string;
  fortran_order: boolean;
  size: number;
  min?: number;
  max?: number;
  /** Real: mean value; bool: fraction true. */
  mean?: number;
  /** Complex: mean modulus. */
  mean_abs?: number;
}

export interface InspectReport {
  file: string;
  format: 'npz' | 'npy' | 'hdf5';
  arrays: Record<string, ArrayReport>;
  contract: { ok: boolean; problems: string[] };
  /** HDF5: the layout the hdf5 source detects. */
  layout?: string;
}

const CHUNK = 1 << 22;

/** The layout of a reconstruction NPZ written by infer, refine or epie. */
export const RECONSTRUCTION_LAYOUT = 'ptychoflow reconstruction';

/** Streams the data chunks of one array through running statistics. */
async function arrayStats(h: NpyHeader, chunks: AsyncIterable<Uint8Array>): Promise<ArrayReport> {
  const info = dtypeInfo(h.descr);
  const size = sizeOf(h.shape);
  const out: ArrayReport = { shape: h.shape, dtype: h.descr, fortran_order: h.fortranOrder, size };
  let min = Infinity,
    max = -Infinity,
    sum = 0,
    seen = 0;
  let carry = new Uint8Array(0);
  for await (const chunk of chunks) {
    const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const whole = Math.min(Math.floor(bytes.length / info.itemsize), size - seen);
    const values = decodeElements(bytes, h.descr, whole);
    if (info.complex) {
      for (let k = 0; k < whole; k++) sum += Math.hypot(values[2 * k] as number, values[2 * k + 1] as number);
    } else {
      for (let k = 0; k < whole; k++) {
        const v = Number(values[k]!);
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
      }
    }
    seen += whole;
    carry = bytes.slice(whole * info.itemsize);
  }
  if (size === 0) return out;
  if (info.complex) out.mean_abs = sum / size;
  else if (info.kind === 'b') out.mean = sum / size;
  else Object.assign(out, { min, max, mean: sum / size });
  return out;
}

async function inspectNpy(file: string): Promise<InspectReport> {
  const label = path.basename(file);
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await stat(file);
    try {
      const header = await readNpyHeader(fh, fileSize);
      const dataBytes = sizeOf(header.shape) * dtypeInfo(header.descr).itemsize;
      const chunks = async function* (): AsyncIterable<Uint8Array> {
        for (let p = 0; p < dataBytes; p += CHUNK) yield readAt(fh, header.headerLength + p, Math.min(CHUNK, dataBytes - p));
      };
      const report = await arrayStats(header, chunks());
      return { file, format: 'npy', arrays: { [path.basename(file, '.npy')]: report }, contract: { ok: true, problems: [] } };
    } catch (e) {
      throw locateError(e, label);
    }
  } finally {
    await fh.close();
  }
}

async function inspectNpz(file: string): Promise<InspectReport> {
  const npz = await openNpz(file);
  try {
    const arrays: Record<string, ArrayReport> = {};
    const headers = new Map<string, NpyHeader>();
    for (const name of npz.entries()) {
      const h = npz.header(name);
      headers.set(name, h);
      try {
        arrays[name] = await arrayStats(h, npz.chunks(name, CHUNK));
      } catch (e) {
        throw locateError(e, path.basename(file), name);
      }
    }
    if (isReconstructionNpz(headers)) {
      const problems = checkReconstructionNpz(headers);
      return { file, format: 'npz', layout: RECONSTRUCTION_LAYOUT, arrays, contract: { ok: problems.length === 0, problems } };
    }
    const check = checkCanonical(headers);
    return {
      file,
      format: 'npz',
      arrays,
      contract: { ok: check.problems.length === 0, problems: check.problems.map((p) => `[${p.key}] ${p.message} (${p.hint})`) },
    };
  } finally {
    await npz.close();
  }
}

async function inspectH5(file: string): Promise<InspectReport> {
  const { inspectHdf5 } = await import('./hdf5/inspect.js');
  const r = await inspectHdf5(file);
  const arrays: Record<string, ArrayReport> = {};
  for (const [name, d] of Object.entries(r.datasets)) arrays[name] = { fortran_order: false, ...d };
  return {
    file,
    format: 'hdf5',
    arrays,
    contract: { ok: r.problems.length === 0, problems: r.problems },
    ...(r.layout === undefined ? {} : { layout: r.layout }),
  };
}

/** Describes an .npz, .npy or HDF5 file; throws a FormatError naming the file (and entry) when it cannot be read. */
export async function inspectFile(file: string): Promise<InspectReport> {
  let fh: FileHandle;
  try {
    fh = await openRegular(file, { file });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError('FILE_NOT_FOUND', 'file not found', { file, hint: 'check the path' });
    throw e;
  }
  const head = await readAt(fh, 0, 6).finally(() => fh.close());
  if (head[0] === 0x93 && head[1] === 0x4e) return inspectNpy(file);
  const { isHdf5 } = await import('./hdf5/reader.js');
  if (isHdf5(file)) return inspectH5(file);
  if (/\.(h5|hdf5|hdf|cxi|nxs)$/i.test(file)) throw new FormatError('NOT_HDF5', 'not an HDF5 file (no HDF5 signature)', { file: path.basename(file) });
  if (file.toLowerCase().endsWith('.npy')) return inspectNpy(file);
  return inspectNpz(file);
}
