// NPZ writing that numpy reads with allow_pickle=False: a zip of `<name>.npy`
// entries, stored or deflated, streamed to a temp file next to the target and
// renamed at close. Arrays are written one after another and each may be fed in
// chunks (NpzStreamWriter), so an archive never has to exist in memory. Local
// headers always carry a zip64 extra field (sizes patched in after the data);
// the central directory and end record switch to zip64 only where a size or
// offset needs it.
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createDeflateRaw, type DeflateRaw } from 'node:zlib';
import { OptionsError } from '../errors.js';
import { tempPathFor } from '../util/atomic.js';
import { crc32 } from './crc32.js';
import { descrFor, dtypeInfo, encodeElements, encodeNpyHeader, sizeOf, type TypedArray } from './npy.js';
import { centralEntry, endRecords, le, localCrcAt, localHeader, localSizesAt, type ZipEntry } from './zip-records.js';

export interface NpzArrayInput {
  shape: number[];
  data: TypedArray;
  descr?: string;
}

interface Current extends ZipEntry {
  descr: string;
  fortranOrder: boolean;
  headerLength: number;
  expected: number;
  deflate?: DeflateRaw;
  out: Buffer[];
}

/** Streams arrays into an NPZ: beginArray → write… → endArray, repeated, then close. */
export class NpzStreamWriter {
  private pos = 0;
  private readonly done: ZipEntry[] = [];
  private current: Current | undefined;
  private finished = false;

  private constructor(
    readonly target: string,
    private readonly tmp: string,
    private readonly fh: FileHandle,
    private readonly compress: boolean,
    private readonly forceZip64: boolean,
  ) {}

  /** `forceZip64` writes zip64 fields even for small archives (as for > 4 GiB; used by tests). */
  static async create(target: string, options: { compress?: boolean; forceZip64?: boolean } = {}): Promise<NpzStreamWriter> {
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = tempPathFor(target);
    return new NpzStreamWriter(target, tmp, await open(tmp, 'w+'), options.compress === true, options.forceZip64 === true);
  }

  private async put(bytes: Uint8Array): Promise<void> {
    let o = 0;
    while (o < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, o, bytes.length - o, this.pos);
      o += bytesWritten;
      this.pos += bytesWritten;
    }
  }

  private async drain(c: Current): Promise<void> {
    const chunks = c.out.splice(0);
    for (const b of chunks) {
      await this.put(b);
      c.compressed += b.length;
    }
  }

  /** Starts the array `name` (stored as `name.npy`); its data follows through write(). */
  async beginArray(name: string, descr: string, shape: readonly number[], fortranOrder = false): Promise<void> {
    if (this.finished) throw new OptionsError('WRITER_CLOSED', 'the NPZ writer is closed', { file: this.target, key: name });
    if (this.current !== undefined)
      throw new OptionsError('ARRAY_OPEN', `array '${new TextDecoder().decode(this.current.name)}' is still open: call endArray() first`, {
        file: this.target,
        key: name,
      });
    const info = dtypeInfo(descr);
    const header = encodeNpyHeader({ descr, shape, fortranOrder });
    const nameBytes = new TextEncoder().encode(`${name}.npy`);
    const method = this.compress ? 8 : 0;
    const c: Current = {
      name: nameBytes,
      method,
      offset: this.pos,
      crc: 0,
      size: 0,
      compressed: 0,
      descr,
      fortranOrder,
      headerLength: header.length,
      expected: header.length + sizeOf(shape) * info.itemsize,
      out: [],
    };
    await this.put(localHeader(nameBytes, method));
    if (method === 8) {
      const d = createDeflateRaw();
      d.on('data', (b: Buffer) => c.out.push(b));
      c.deflate = d;
    }
    this.current = c;
    await this.feed(c, header);
  }

  private async feed(c: Current, bytes: Uint8Array): Promise<void> {
    if (c.size + bytes.length > c.expected)
      throw new OptionsError('TOO_MUCH_DATA', `more data than the shape holds (${c.expected} bytes with header)`, {
        file: this.target,
        key: new TextDecoder().decode(c.name),
      });
    c.crc = crc32(bytes, c.crc);
    c.size += bytes.length;
    const d = c.deflate;
    if (d === undefined) {
      c.compressed += bytes.length;
      await this.put(bytes);
      return;
    }
    await new Promise<void>((res, rej) => d.write(bytes, (err) => (err ? rej(err) : res())));
    await this.drain(c);
  }

  /** Appends values (in C order, native endian; complex interleaved) to the open array. */
  async write(chunk: TypedArray): Promise<void> {
    const c = this.current;
    if (c === undefined) throw new OptionsError('NO_ARRAY', 'write() before beginArray()', { file: this.target });
    await this.feed(c, encodeElements(chunk, c.descr));
  }

  /** Appends raw bytes already laid out as the array's descr says. */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    const c = this.current;
    if (c === undefined) throw new OptionsError('NO_ARRAY', 'writeBytes() before beginArray()', { file: this.target });
    await this.feed(c, bytes);
  }

  /**
   * Gives the open (stored) array a smaller first axis that matches the data
   * written so far — for a stream that yielded fewer records than it declared.
   * The NPY header is rewritten in place and the CRC recomputed from the file.
   */
  async shrinkOpenArray(shape: readonly number[]): Promise<void> {
    const c = this.current;
    if (c === undefined) throw new OptionsError('NO_ARRAY', 'shrinkOpenArray() without beginArray()', { file: this.target });
    const key = new TextDecoder().decode(c.name);
    if (c.method !== 0) throw new OptionsError('CANNOT_SHRINK', 'only stored (uncompressed) arrays can be reshaped after writing', { file: this.target, key });
    const need = c.headerLength + sizeOf(shape) * dtypeInfo(c.descr).itemsize;
    if (need !== c.size)
      throw new OptionsError('SHAPE_MISMATCH', `shape (${shape.join(', ')}) needs ${need} bytes with header, ${c.size} were written`, {
        file: this.target,
        key,
      });
    const header = encodeNpyHeader({ descr: c.descr, shape, fortranOrder: c.fortranOrder, length: c.headerLength });
    const dataStart = c.offset + 30 + c.name.length + 20;
    await this.fh.write(header, 0, header.length, dataStart);
    let crc = 0;
    const buf = new Uint8Array(1 << 22);
    for (let p = 0; p < c.size; p += buf.length) {
      const len = Math.min(buf.length, c.size - p);
      const { bytesRead } = await this.fh.read(buf, 0, len, dataStart + p);
      if (bytesRead !== len) throw new OptionsError('SHORT_READ', 'could not read back the array being written', { file: this.target, key });
      crc = crc32(buf.subarray(0, len), crc);
    }
    c.crc = crc;
    c.expected = c.size;
  }

  /** Finishes the open array (its data must be complete) and patches its local header. */
  async endArray(): Promise<void> {
    const c = this.current;
    if (c === undefined) throw new OptionsError('NO_ARRAY', 'endArray() without beginArray()', { file: this.target });
    const key = new TextDecoder().decode(c.name);
    if (c.size !== c.expected)
      throw new OptionsError('SHORT_DATA', `array got ${c.size} of ${c.expected} bytes: the data does not fill the shape`, { file: this.target, key });
    const d = c.deflate;
    if (d !== undefined) {
      await new Promise<void>((res, rej) => {
        d.once('end', res);
        d.once('error', rej);
        d.end();
      });
      await this.drain(c);
    }
    const end = this.pos;
    await this.fh.write(le([[c.crc, 4]]), 0, 4, c.offset + localCrcAt);
    await this.fh.write(
      le([
        [c.size, 8],
        [c.compressed, 8],
      ]),
      0,
      16,
      c.offset + localSizesAt(c.name),
    );
    this.pos = end;
    this.done.push({ name: c.name, method: c.method, offset: c.offset, crc: c.crc, size: c.size, compressed: c.compressed });
    this.current = undefined;
  }

  /** Writes the central directory and renames the temp file onto the target. */
  async close(): Promise<void> {
    if (this.current !== undefined) throw new OptionsError('ARRAY_OPEN', 'close() while an array is open', { file: this.target });
    if (this.finished) return;
    const cdStart = this.pos;
    for (const w of this.done) await this.put(centralEntry(w, this.forceZip64));
    await this.put(endRecords(this.done.length, cdStart, this.pos - cdStart, this.forceZip64));
    this.finished = true;
    await this.fh.sync();
    await this.fh.close();
    await rename(this.tmp, this.target);
  }

  /** Drops the temp file (after an error). */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.current?.deflate?.destroy();
    this.current = undefined;
    await this.fh.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }
}

const CHUNK_VALUES = 1 << 20;

/** Writes arrays to an NPZ atomically (temp file + rename). */
export async function writeNpz(file: string, arrays: Record<string, NpzArrayInput>, options: { compress?: boolean; forceZip64?: boolean } = {}): Promise<void> {
  const w = await NpzStreamWriter.create(file, options);
  try {
    for (const [name, a] of Object.entries(arrays)) {
      const descr = a.descr ?? descrFor(a.data);
      const parts = dtypeInfo(descr).complex ? 2 : 1;
      const need = sizeOf(a.shape) * parts;
      if (a.data.length !== need)
        throw new OptionsError('SHAPE_MISMATCH', `data holds ${a.data.length} values, shape (${a.shape.join(', ')}) of ${descr} needs ${need}`, {
          file,
          key: name,
        });
      await w.beginArray(name, descr, a.shape);
      for (let k = 0; k < a.data.length; k += CHUNK_VALUES) await w.write(a.data.subarray(k, k + CHUNK_VALUES));
      await w.endArray();
    }
    await w.close();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
