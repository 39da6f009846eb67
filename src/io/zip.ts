// Zip reading for NPZ: the end-of-central-directory record (with its zip64
// variant), the central directory (zip64 extra fields honoured) and each
// entry's local header, all by positioned reads of a FileHandle. Only what an
// NPZ needs: stored (0) and deflated (8) entries, no encryption, one disk.
import { Buffer, constants } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';
import { FormatError, type ErrorCode } from '../errors.js';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Most bytes one FileHandle.read is asked for (Node aborts on lengths over INT32_MAX). */
export const MAX_READ = 1 << 30;
/** Largest buffer readAt allocates (Node's own limit). */
const MAX_BUFFER = Math.min(constants.MAX_LENGTH, Number.MAX_SAFE_INTEGER);
/**
 * Deflate cannot expand data more than about 1032:1; a directory that claims
 * more is lying, and believing it would size allocations and spill files.
 */
const MAX_DEFLATE_RATIO = 1032;

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (u16(b, o) + u16(b, o + 2) * 65536) >>> 0;
const u64 = (b: Uint8Array, o: number): number => u32(b, o) + u32(b, o + 4) * 4294967296;

/**
 * Reads exactly `length` bytes at `position` (fewer only at end of file) into
 * a fresh, unshared buffer at byte offset 0 (so typed views over it are
 * aligned), or into the start of `into` when given. The buffer is not
 * zero-filled first: the read overwrites it, and a short read returns only
 * the bytes read.
 */
export async function readAt(fh: FileHandle, position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new FormatError('BAD_OFFSET', `a read of ${length} bytes at ${position} is not possible (corrupt sizes or offsets)`);
  }
  if (into !== undefined && into.length < length) throw new RangeError(`readAt: the target holds ${into.length} bytes, ${length} wanted`);
  if (into === undefined && length > MAX_BUFFER)
    throw new FormatError('TOO_LARGE', `a read of ${length} bytes is larger than one buffer can hold (${MAX_BUFFER})`);
  // A plain Uint8Array (not a Buffer, whose slice() aliases) over unpooled
  // memory, or the caller's buffer (reused memory: no allocation per read).
  const out = into === undefined ? new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length) : into.subarray(0, length);
  let got = 0;
  while (got < length) {
    // One read call takes at most MAX_READ bytes: a length past INT32_MAX aborts the process inside Node.
    const { bytesRead } = await fh.read(out, got, Math.min(MAX_READ, length - got), position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? out : out.subarray(0, got);
}

type Fail = (code: ErrorCode, msg: string) => FormatError;

/** Where the central directory lies and how many entries it holds, from the end record (zip64 when present). */
async function locateDirectory(fh: FileHandle, fileSize: number, fail: Fail): Promise<{ count: number; cdSize: number; cdOffset: number }> {
  const tailLen = Math.min(fileSize, 22 + 65535 + 20);
  const tail = await readAt(fh, fileSize - tailLen, tailLen);
  let eocd = -1;
  for (let o = tail.length - 22; o >= 0; o--) {
    if (tail[o] === 0x50 && tail[o + 1] === 0x4b && tail[o + 2] === 5 && tail[o + 3] === 6) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) {
    const head = await readAt(fh, 0, 4);
    const isZip = head[0] === 0x50 && head[1] === 0x4b;
    throw fail(isZip ? 'TRUNCATED_ZIP' : 'NOT_ZIP', isZip ? 'zip archive is truncated (no end of central directory)' : 'not a zip/npz file');
  }
  const loc = eocd - 20;
  if (loc < 0 || u32(tail, loc) !== 0x07064b50) return { count: u16(tail, eocd + 10), cdSize: u32(tail, eocd + 12), cdOffset: u32(tail, eocd + 16) };
  const rec = await readAt(fh, u64(tail, loc + 8), 56);
  if (rec.length < 56 || u32(rec, 0) !== 0x06064b50) throw fail('BAD_ZIP', 'zip64 end of central directory is missing');
  return { count: u64(rec, 32), cdSize: u64(rec, 40), cdOffset: u64(rec, 48) };
}

type Sizes = Pick<ZipEntry, 'compressedSize' | 'size' | 'localHeaderOffset'>;

/** The sizes of an entry, with the zip64 extra field (id 1) filling those saturated at 0xffffffff. */
function zip64Sizes(cd: Uint8Array, extraStart: number, extraEnd: number, sizes: Sizes): Sizes {
  let { compressedSize, size, localHeaderOffset } = sizes;
  for (let e = extraStart; e + 4 <= extraEnd; e += 4 + u16(cd, e + 2)) {
    if (u16(cd, e) !== 1) continue;
    let p = e + 4;
    if (size === 0xffffffff) {
      size = u64(cd, p);
      p += 8;
    }
    if (compressedSize === 0xffffffff) {
      compressedSize = u64(cd, p);
      p += 8;
    }
    if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, p);
  }
  return { compressedSize, size, localHeaderOffset };
}

/** Refuses an entry this reader cannot read or whose sizes cannot be true. */
function checkEntry(entry: ZipEntry, flags: number, fileSize: number, file: string): void {
  const { name, method, size, compressedSize } = entry;
  if (flags & 1) throw new FormatError('ENCRYPTED', 'encrypted zip entries are not supported', { file, key: name });
  if (method !== 0 && method !== 8)
    throw new FormatError('UNSUPPORTED_COMPRESSION', `zip compression method ${method} is not supported (stored or deflated only)`, { file, key: name });
  if (entry.localHeaderOffset + 30 + compressedSize > fileSize)
    throw new FormatError('TRUNCATED_ZIP', 'zip entry lies beyond the end of the file (truncated archive)', { file, key: name });
  if (method === 0 && size !== compressedSize)
    throw new FormatError('BAD_ZIP', `stored zip entry declares ${size} bytes but occupies ${compressedSize}`, {
      file,
      key: name,
      hint: 're-save the archive',
    });
  if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 1024)
    throw new FormatError('BAD_ZIP', `deflated zip entry declares ${size} bytes from ${compressedSize} compressed, more than deflate can expand`, {
      file,
      key: name,
      hint: 're-save the archive',
    });
}

/** Parses the central directory of the zip open as `fh` (size `fileSize`). */
export async function readZipDirectory(fh: FileHandle, fileSize: number, file: string): Promise<ZipEntry[]> {
  const fail: Fail = (code, msg) => new FormatError(code, msg, { file, hint: 'the file is not a readable zip/npz archive; re-save it with numpy.savez' });
  const { count, cdSize, cdOffset } = await locateDirectory(fh, fileSize, fail);
  if (cdOffset + cdSize > fileSize) throw fail('TRUNCATED_ZIP', 'zip archive is truncated (central directory beyond the end of the file)');
  // Every entry takes at least 46 directory bytes: a count beyond that is corrupt (and would loop for long).
  if (count > cdSize / 46) throw fail('BAD_ZIP', `zip directory claims ${count} entries in ${cdSize} bytes`);
  const cd = await readAt(fh, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let o = 0;
  for (let k = 0; k < count; k++) {
    if (o + 46 > cd.length || u32(cd, o) !== 0x02014b50) throw fail('BAD_ZIP', `zip central directory is corrupt at entry ${k}`);
    const nameLen = u16(cd, o + 28),
      extraLen = u16(cd, o + 30),
      commentLen = u16(cd, o + 32);
    const name = new TextDecoder().decode(cd.subarray(o + 46, o + 46 + nameLen));
    const extraEnd = o + 46 + nameLen + extraLen;
    const sizes = zip64Sizes(cd, o + 46 + nameLen, extraEnd, { compressedSize: u32(cd, o + 20), size: u32(cd, o + 24), localHeaderOffset: u32(cd, o + 42) });
    const entry: ZipEntry = { name, method: u16(cd, o + 10), crc32: u32(cd, o + 16), ...sizes };
    checkEntry(entry, u16(cd, o + 8), fileSize, file);
    if (names.has(name))
      throw new FormatError('DUPLICATE_ENTRY', 'the archive holds two entries of this name (which one is meant is unclear)', {
        file,
        key: name,
        hint: 're-save the archive',
      });
    names.add(name);
    entries.push(entry);
    o = extraEnd + commentLen;
  }
  return entries;
}

/** File offset where an entry's (compressed) data begins, from its local header. */
export async function entryDataOffset(fh: FileHandle, entry: ZipEntry, file: string): Promise<number> {
  const h = await readAt(fh, entry.localHeaderOffset, 30);
  if (h.length < 30 || u32(h, 0) !== 0x04034b50) throw new FormatError('BAD_ZIP', 'zip local header is corrupt', { file, key: entry.name });
  return entry.localHeaderOffset + 30 + u16(h, 26) + u16(h, 28);
}
