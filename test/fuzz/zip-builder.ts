// Builds zip/NPZ bytes with every field under the caller's control (sizes,
// CRCs, offsets, counts may lie), for hostile-input regression tests and the
// fuzz suite. Honest by default: an entry given only a name and data comes
// out as numpy's savez would write it.
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../src/io/crc32.js';
import { encodeNpy, encodeNpyHeader, type TypedArray } from '../../src/io/npy.js';

export interface EntrySpec {
  name: string;
  /** Uncompressed bytes of the entry. */
  data: Uint8Array;
  deflate?: boolean;
  /** Overrides of what the directory declares. */
  size?: number;
  compressedSize?: number;
  crc?: number;
  /** Override of the method field (0 stored, 8 deflated) without changing the bytes. */
  method?: number;
}

const le16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le64 = (v: number): number[] => [...le32(v >>> 0), ...le32(Math.floor(v / 4294967296))];

/** A zip archive of `entries`; sizes ≥ 2^32 - 1 are written as zip64 extra fields. */
export function buildZip(entries: readonly EntrySpec[], o: { count?: number } = {}): Uint8Array {
  const chunks: number[][] = [];
  const central: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate === true ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const method = e.method ?? (e.deflate === true ? 8 : 0);
    const size = e.size ?? e.data.length,
      csize = e.compressedSize ?? body.length,
      crc = e.crc ?? crc32(e.data);
    const name = [...new TextEncoder().encode(e.name)];
    const big = size >= 0xffffffff || csize >= 0xffffffff;
    const extra = big ? [...le16(1), ...le16(16), ...le64(size), ...le64(csize)] : [];
    const s32 = big ? 0xffffffff : size,
      c32 = big ? 0xffffffff : csize;
    const local = [
      ...le32(0x04034b50),
      ...le16(20),
      ...le16(0),
      ...le16(method),
      ...le16(0),
      ...le16(0),
      ...le32(crc),
      ...le32(c32),
      ...le32(s32),
      ...le16(name.length),
      ...le16(extra.length),
      ...name,
      ...extra,
    ];
    chunks.push(local, [...body]);
    central.push(
      ...le32(0x02014b50),
      ...le16(20),
      ...le16(20),
      ...le16(0),
      ...le16(method),
      ...le16(0),
      ...le16(0),
      ...le32(crc),
      ...le32(c32),
      ...le32(s32),
      ...le16(name.length),
      ...le16(extra.length),
      ...le16(0),
      ...le16(0),
      ...le16(0),
      ...le32(0),
      ...le32(offset),
      ...name,
      ...extra,
    );
    offset += local.length + body.length;
  }
  const count = o.count ?? entries.length;
  const eocd = [...le32(0x06054b50), ...le16(0), ...le16(0), ...le16(count), ...le16(count), ...le32(central.length), ...le32(offset), ...le16(0)];
  const total = offset + central.length + eocd.length;
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  out.set(central, p);
  out.set(eocd, p + central.length);
  return out;
}

/** An .npy file of `data` with `shape`. */
export function npyBytes(shape: readonly number[], data: TypedArray): Uint8Array {
  return encodeNpy({ shape, data });
}

/** Just an NPY header declaring `shape` (of descr), with no data after it. */
export function npyHeaderOnly(descr: string, shape: readonly number[]): Uint8Array {
  return encodeNpyHeader({ descr, shape });
}
