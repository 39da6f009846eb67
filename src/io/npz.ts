// NPZ reading: the zip directory and every array's NPY header at open, then
// positioned reads of just the bytes asked for. Stored entries are read in
// place; a deflated entry is inflated once (streaming, CRC-checked) into a
// spill file that then serves positioned reads, so no whole array sits in
// memory unless `readArray` asks for it. CRC-32 is checked on every full read.
import { Buffer } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInflateRaw, constants as zc } from 'node:zlib';
import { FormatError } from '../errors.js';
import { crc32 } from './crc32.js';
import { checkDataFits, decodeNpy, locateError, NPY_PREFIX_MAX, parseNpyHeader, type NpyArray, type NpyHeader } from './npy.js';
import { openRegular } from './paths.js';
import { inflateToFile, SpillDir } from './spill.js';
import { entryDataOffset, readAt, readZipDirectory, type ZipEntry } from './zip.js';

export type { NpyArray, NpyHeader } from './npy.js';
export { readNpyFile } from './npy-file.js';

/** Bytes that are not zeroed (the read overwrites them), over unpooled memory at offset 0. */
function uninitBytes(n: number): Uint8Array {
  return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
}

export interface NpzReader {
  readonly path: string;
  /** Array names (entry names without `.npy`). */
  entries(): string[];
  /** Header of an array; throws the FormatError found at open if the header is bad. */
  header(name: string): NpyHeader;
  /** Zip-level facts about an array's entry. */
  entryInfo(name: string): { method: number; size: number; compressedSize: number; crc32: number };
  /** The whole array, decoded (CRC-checked). */
  readArray(name: string): Promise<NpyArray>;
  /** Raw bytes `[byteOffset, byteOffset + byteLength)` of the array data (after the NPY header). */
  readRange(name: string, byteOffset: number, byteLength: number): Promise<Uint8Array>;
  /** Like readRange, into `dest` (its whole length is read). */
  readRangeInto(name: string, byteOffset: number, dest: Uint8Array): Promise<void>;
  /**
   * The array data in chunks of `chunkBytes` (the last may be shorter); when the
   * iteration runs to the end, the entry's CRC-32 is checked. With `reuse`, two
   * buffers take turns: a chunk is valid only until the next one is asked for
   * (for consumers that keep nothing; no allocation per chunk).
   */
  chunks(name: string, chunkBytes: number, options?: { reuse?: boolean }): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

interface Slot {
  zip: ZipEntry;
  offset: number;
  header?: NpyHeader;
  error?: unknown;
  spill?: Promise<FileHandle>;
}

/**
 * An entry's NPY header, from a bounded prefix: at most NPY_PREFIX_MAX bytes
 * of the entry (inflated by a stream that is dropped once it has them), then
 * checked against the entry's declared size, so neither a huge header length
 * nor a huge shape costs memory here.
 */
async function entryHead(fh: FileHandle, slot: Slot): Promise<NpyHeader> {
  let bytes: Uint8Array;
  if (slot.zip.method === 8) {
    // Deflate output cannot be much shorter than its input: this much compressed input holds any acceptable header.
    const raw = await readAt(fh, slot.offset, Math.min(slot.zip.compressedSize, 2 * NPY_PREFIX_MAX + 1024));
    bytes = await inflatePrefix(raw, NPY_PREFIX_MAX);
  } else bytes = await readAt(fh, slot.offset, Math.min(slot.zip.size, NPY_PREFIX_MAX));
  const h = parseNpyHeader(bytes);
  checkDataFits(h, slot.zip.size);
  return h;
}

/** The first `want` inflated bytes of raw-deflate `raw` (fewer if it ends first). */
async function inflatePrefix(raw: Uint8Array, want: number): Promise<Uint8Array> {
  const inflate = createInflateRaw({ finishFlush: zc.Z_SYNC_FLUSH });
  inflate.end(raw);
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of inflate as AsyncIterable<Buffer>) {
      parts.push(chunk);
      got += chunk.length;
      if (got >= want) break;
    }
  } catch (e) {
    throw new FormatError('CORRUPT_ENTRY', `deflated data is corrupt (${(e as Error).message})`, { cause: e });
  } finally {
    inflate.destroy();
  }
  return Buffer.concat(parts);
}

class Reader implements NpzReader {
  private readonly spillDir: SpillDir;
  private closed = false;
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly slots: Map<string, Slot>,
    tmpDir: string | undefined,
  ) {
    this.spillDir = new SpillDir(tmpDir);
  }

  private label(): string {
    return path.basename(this.path);
  }

  private slot(name: string): Slot {
    if (this.closed) throw new FormatError('CLOSED', 'the archive is closed', { file: this.label(), key: name });
    const s = this.slots.get(name);
    if (s === undefined)
      throw new FormatError('MISSING_KEY', `no array named '${name}' (have: ${[...this.slots.keys()].join(', ')})`, { file: this.label(), key: name });
    return s;
  }

  entries(): string[] {
    return [...this.slots.keys()];
  }

  header(name: string): NpyHeader {
    const s = this.slot(name);
    if (s.header === undefined) throw s.error;
    return s.header;
  }

  entryInfo(name: string): { method: number; size: number; compressedSize: number; crc32: number } {
    const z = this.slot(name).zip;
    return { method: z.method, size: z.size, compressedSize: z.compressedSize, crc32: z.crc32 };
  }

  /** Spill file of a deflated entry (inflated on first use). */
  private spill(name: string, s: Slot): Promise<FileHandle> {
    s.spill ??= (async () => {
      const dest = await this.spillDir.file(`${name}.npy`);
      await inflateToFile({
        source: this.path,
        start: s.offset,
        compressedSize: s.zip.compressedSize,
        size: s.zip.size,
        crc32: s.zip.crc32,
        dest,
        file: this.label(),
        key: name,
      });
      return open(dest, 'r');
    })();
    s.spill.catch(() => undefined);
    return s.spill;
  }

  /** Raw entry bytes (NPY header included) at `pos`. */
  private async raw(name: string, s: Slot, pos: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = s.zip.method === 0 ? await readAt(this.fh, s.offset + pos, length, into) : await readAt(await this.spill(name, s), pos, length, into);
    } catch (e) {
      throw locateError(e, this.label(), name);
    }
    if (bytes.length !== length)
      throw new FormatError('TRUNCATED', `entry is truncated (wanted ${length} bytes at ${pos}, got ${bytes.length})`, { file: this.label(), key: name });
    return bytes;
  }

  async readArray(name: string): Promise<NpyArray> {
    const s = this.slot(name);
    this.header(name);
    const bytes = await this.raw(name, s, 0, s.zip.size);
    if (s.zip.method === 0 && crc32(bytes) !== s.zip.crc32)
      throw new FormatError('CRC_MISMATCH', 'CRC-32 does not match: the entry is corrupt', { file: this.label(), key: name, hint: 're-save the archive' });
    try {
      return decodeNpy(bytes);
    } catch (e) {
      throw locateError(e, this.label(), name);
    }
  }

  async readRange(name: string, byteOffset: number, byteLength: number): Promise<Uint8Array> {
    const s = this.slot(name);
    const h = this.header(name);
    const dataBytes = s.zip.size - h.headerLength;
    if (byteOffset < 0 || byteLength < 0 || byteOffset + byteLength > dataBytes) {
      throw new FormatError('OUT_OF_RANGE', `range [${byteOffset}, ${byteOffset + byteLength}) lies outside the ${dataBytes} data bytes`, {
        file: this.label(),
        key: name,
      });
    }
    return this.raw(name, s, h.headerLength + byteOffset, byteLength);
  }

  async readRangeInto(name: string, byteOffset: number, dest: Uint8Array): Promise<void> {
    const s = this.slot(name);
    const h = this.header(name);
    const dataBytes = s.zip.size - h.headerLength;
    if (byteOffset < 0 || byteOffset + dest.length > dataBytes) {
      throw new FormatError('OUT_OF_RANGE', `range [${byteOffset}, ${byteOffset + dest.length}) lies outside the ${dataBytes} data bytes`, {
        file: this.label(),
        key: name,
      });
    }
    await this.raw(name, s, h.headerLength + byteOffset, dest.length, dest);
  }

  async *chunks(name: string, chunkBytes: number, options: { reuse?: boolean } = {}): AsyncIterable<Uint8Array> {
    const s = this.slot(name);
    const h = this.header(name);
    const step = Math.max(1, Math.floor(chunkBytes));
    let crc = s.zip.method === 0 ? crc32(await this.raw(name, s, 0, h.headerLength)) : 0;
    // Reused buffers: the one being read ahead and the one the consumer holds.
    const buffers = options.reuse === true ? [uninitBytes(Math.min(step, s.zip.size)), uninitBytes(Math.min(step, s.zip.size))] : undefined;
    let turn = 0;
    // One chunk read ahead, so the disk read overlaps the consumer's work.
    const read = (pos: number): Promise<Uint8Array> | undefined => {
      if (pos >= s.zip.size) return undefined;
      const p = this.raw(name, s, pos, Math.min(step, s.zip.size - pos), buffers?.[turn++ % 2]);
      p.catch(() => undefined);
      return p;
    };
    let next = read(h.headerLength);
    try {
      for (let pos = h.headerLength; next !== undefined; pos += step) {
        const bytes = await next;
        next = read(pos + step);
        if (s.zip.method === 0) crc = crc32(bytes, crc);
        yield bytes;
      }
    } finally {
      // An early exit leaves at most one read in flight: let it settle before the file may close.
      if (next !== undefined) await next.catch(() => undefined);
    }
    // Deflated entries were CRC-checked while they were inflated.
    if (s.zip.method === 0 && crc !== s.zip.crc32)
      throw new FormatError('CRC_MISMATCH', 'CRC-32 does not match: the entry is corrupt', { file: this.label(), key: name, hint: 're-save the archive' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots.values()) {
      if (s.spill !== undefined) await (await s.spill.catch(() => undefined))?.close();
    }
    await this.fh.close();
    await this.spillDir.remove();
  }
}

export interface OpenNpzOptions {
  /** Where spill directories for deflated entries go (default os.tmpdir()). */
  tmpDir?: string;
}

/** Opens an NPZ: reads the zip directory and every NPY header. */
export async function openNpz(file: string, options: OpenNpzOptions = {}): Promise<NpzReader> {
  const label = path.basename(file);
  // ENOENT and friends pass through unchanged: callers know which option named the file.
  const fh = await openRegular(file);
  try {
    const { size } = await fh.stat();
    const dir = await readZipDirectory(fh, size, label);
    const slots = new Map<string, Slot>();
    for (const z of dir) {
      if (!z.name.endsWith('.npy')) continue;
      const key = z.name.slice(0, -4);
      const slot: Slot = { zip: z, offset: await entryDataOffset(fh, z, label) };
      try {
        slot.header = await entryHead(fh, slot);
      } catch (e) {
        slot.error = locateError(e, label, key);
      }
      slots.set(key, slot);
    }
    return new Reader(file, fh, slots, options.tmpDir);
  } catch (e) {
    await fh.close();
    throw e;
  }
}
