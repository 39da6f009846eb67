// One HDF5 file open in the reader thread: datasets by path, read whole or
// by rows, with errors that name the file and key, and a guard against
// datasets that declare more values than the file can hold.
import { statSync } from 'node:fs';
import { DataError, FormatError } from '../../errors.js';
import type { Complex2D } from '../../records/index.js';
import { numbers, reader, type DatasetInfo, type H5Value, type Structure } from './reader.js';

/** Most values per stored byte gzip can give (deflate's limit is 1032:1, and a value takes at least one byte). */
const MAX_RATIO = 1032;

/** A file opened for one source: datasets by path, with errors that name the file and key. */
export class H5File {
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

  static async open(file: string, label: string, allowExternal = false): Promise<H5File> {
    try {
      const r = await reader.request<{ handle: number } & Structure>('open', { path: file, allowExternal });
      return new H5File(r.handle, { datasets: r.datasets, groups: r.groups }, label, statSync(file).size);
    } catch (e) {
      const text = String(e instanceof Error ? e.message : e);
      // The reader thread's own refusals (link cycles, external links) carry their code first.
      const own = /^(HDF5_STRUCTURE|HDF5_EXTERNAL_LINK): (.*)$/s.exec(text);
      if (own !== null)
        throw new FormatError(own[1] as 'HDF5_STRUCTURE' | 'HDF5_EXTERNAL_LINK', own[2]!, {
          file: label,
          ...(own[1] === 'HDF5_EXTERNAL_LINK' ? { hint: 'set allow.hdf5_external_links: true if you trust the linked files' } : {}),
        });
      // HDF5's diagnostics name the library's build paths: keep the first lines, without them.
      const brief = text
        .split('\n')
        .slice(0, 2)
        .join(' ')
        .replace(/\S*\/\S+\.c\b( line \d+)?/g, '')
        .replace(/\s+/g, ' ')
        .trim();
      throw new FormatError('NOT_HDF5', `HDF5 could not open it: ${brief}`, { file: label });
    }
  }

  has(key: string): boolean {
    return this.structure.datasets[key] !== undefined;
  }

  dataset(key: string): DatasetInfo {
    const d = this.structure.datasets[key];
    if (d === undefined)
      throw new DataError('MISSING_KEY', `no dataset '${key}'`, {
        file: this.label,
        key,
        hint: 'see docs/formats.md for the HDF5 layouts the hdf5 source reads',
      });
    return d;
  }

  async value(key: string): Promise<H5Value> {
    if (this.unallocated(key)) {
      throw new DataError(
        'HDF5_UNALLOCATED',
        `declares ${this.dataset(key).shape.join('×')} values, more than the ${this.fileSize}-byte file can hold (unallocated storage?)`,
        { file: this.label, key, hint: 'write the dataset with its data' },
      );
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

  /** Refuses a dataset that does not hold real numbers (strings, compounds): before, a bare TypeError. */
  private requireReal(key: string): void {
    const d = this.dataset(key);
    if (d.complex || (d.cls !== 0 && d.cls !== 1)) {
      throw new DataError('BAD_DTYPE', `holds ${d.dtype} values, not real numbers`, {
        file: this.label,
        key,
        hint: 'positions and scalars must be integer or float datasets',
      });
    }
  }

  /** A real vector of `count` values (a (count, k) array gives its column `column`). */
  async vector(key: string, count: number, column?: number): Promise<Float64Array> {
    this.requireReal(key);
    const { shape } = this.dataset(key);
    const cols = column === undefined ? 1 : (shape[1] ?? 0);
    if (shape[0] !== count || (column === undefined ? shape.length !== 1 : shape.length !== 2 || column >= cols)) {
      throw new DataError('BAD_SHAPE', `has shape (${shape.join(', ')}), expected (${count}${column === undefined ? '' : ', ≥ ' + (column + 1)})`, {
        file: this.label,
        key,
        hint: 'one entry per pattern',
      });
    }
    const v = numbers(await this.value(key));
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = v[i * cols + (column ?? 0)]!;
    return out;
  }

  async scalar(key: string): Promise<number> {
    this.requireReal(key);
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
    if (!d.complex && d.cls !== 0 && d.cls !== 1)
      throw new DataError('BAD_DTYPE', `holds ${d.dtype} values that are neither real nor complex (r, i)`, { file: this.label, key });
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
