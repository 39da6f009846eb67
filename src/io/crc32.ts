// CRC-32 (IEEE 802.3, the zip checksum), incremental so large entries can be
// checked chunk by chunk while they stream past. Node ≥ 20.15 ships zlib's
// (vectorised) crc32, many times faster than JS; older runtimes get a
// slicing-by-8 table version (8 bytes per step instead of 1).
import * as zlib from 'node:zlib';

const TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  // Table s maps a byte to its CRC contribution s bytes further along.
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

/** Slicing-by-8 CRC-32 in JS: the fallback, exported so it can be checked against the native one. */
export function crc32Js(bytes: Uint8Array, crc = 0): number {
  const T = TABLES;
  let c = (crc ^ 0xffffffff) >>> 0;
  let i = 0;
  const n = bytes.length;
  for (const end8 = n - (n % 8); i < end8; i += 8) {
    const a = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + bytes[i + 4]!]! ^
      T[512 + bytes[i + 5]!]! ^
      T[256 + bytes[i + 6]!]! ^
      T[bytes[i + 7]!]!;
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Continues a CRC-32 over `bytes`; start with `crc = 0`. Returns the unsigned CRC. */
export const crc32: (bytes: Uint8Array, crc?: number) => number =
  // Node 20's zlib.crc32 of an empty view returns 0, not the running value: an empty chunk changes nothing.
  typeof native === 'function' ? (bytes, crc = 0) => (bytes.length === 0 ? crc >>> 0 : native(bytes, crc) >>> 0) : crc32Js;
