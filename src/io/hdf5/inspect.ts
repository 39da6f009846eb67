// What an HDF5 file holds, for `inspect`: every dataset with statistics
// (accumulated a block along the first axis at a time, never of fill values
// the file does not hold) and whether the hdf5 source can read it as a scan.
import path from 'node:path';
import { FormatError } from '../../errors.js';
import { H5File } from './file.js';
import { detectLayout, openLayout, type H5Layout } from './layouts.js';
import { BLOCK_BYTES, isHdf5, numbers, type DatasetInfo } from './reader.js';

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
  const h = await H5File.open(file, label);
  try {
    const datasets: Record<string, H5DatasetReport> = {};
    for (const [name, d] of Object.entries(h.structure.datasets)) datasets[name] = await datasetReport(h, name, d);
    const layout = detectLayout(h.structure);
    const problems: string[] = [];
    if (layout === undefined) problems.push('none of the layouts the hdf5 source reads (canonical keys at the root, raw_data/diffraction, or CXI entry_1)');
    else {
      try {
        await openLayout(h, file, layout, {
          input: undefined,
          limit: undefined,
          pixel_size_m: undefined,
          position_sign: -1,
          apply_mask: true,
          hasProbeOption: true,
        });
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

async function datasetReport(h: H5File, name: string, d: DatasetInfo): Promise<H5DatasetReport> {
  const shape = d.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  const out: H5DatasetReport = { shape, dtype: d.dtype, size };
  // No statistics of fill values the file does not hold.
  if (size === 0 || (d.cls !== 0 && d.cls !== 1 && !d.complex) || h.unallocated(name)) return out;
  let min = Infinity,
    max = -Infinity,
    sum = 0;
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
