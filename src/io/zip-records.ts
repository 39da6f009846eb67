// The fixed records of a zip archive as the NPZ writer emits them (APPNOTE
// 6.3: local header with a zip64 extra field, central directory entry, zip64
// end record and locator, end of central directory), little-endian.

export const MAX32 = 0xffffffff;
const DOS_DATE = (1 << 5) | 1; // 1980-01-01: fixed, so equal inputs give equal files
const VERSION = 45; // zip64
const MADE_BY_UNIX = VERSION | (3 << 8);

/** An entry already written: what its central directory record needs. */
export interface ZipEntry {
  name: Uint8Array;
  method: number;
  offset: number;
  crc: number;
  size: number;
  compressed: number;
}

/** Little-endian fields of 2, 4 or 8 bytes. */
export function le(values: readonly [number, 2 | 4 | 8][]): Uint8Array {
  const len = values.reduce((a, [, w]) => a + w, 0);
  const out = new Uint8Array(len),
    view = new DataView(out.buffer);
  let o = 0;
  for (const [v, w] of values) {
    if (w === 2) view.setUint16(o, v, true);
    else if (w === 4) view.setUint32(o, v >>> 0, true);
    else view.setBigUint64(o, BigInt(v), true);
    o += w;
  }
  return out;
}

const utf8Flag = (name: Uint8Array): number => (name.some((b) => b > 0x7f) ? 0x800 : 0);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Local header, name and a zip64 extra field whose sizes (and the CRC) are patched in after the data. */
export function localHeader(name: Uint8Array, method: number): Uint8Array {
  const head = le([
    [0x04034b50, 4],
    [VERSION, 2],
    [utf8Flag(name), 2],
    [method, 2],
    [0, 2],
    [DOS_DATE, 2],
    [0, 4],
    [MAX32, 4],
    [MAX32, 4],
    [name.length, 2],
    [20, 2],
  ]);
  return concat([
    head,
    name,
    le([
      [1, 2],
      [16, 2],
      [0, 8],
      [0, 8],
    ]),
  ]);
}

/** Offset of the CRC field and of the zip64 sizes within a local header of `name`. */
export const localCrcAt = 14;
export const localSizesAt = (name: Uint8Array): number => 30 + name.length + 4;

/** Central directory entry; zip64 fields only for values that need them (or all, with `force`). */
export function centralEntry(w: ZipEntry, force: boolean): Uint8Array {
  const z64 = (v: number): boolean => force || v >= MAX32;
  const cap = (v: number): number => (z64(v) ? MAX32 : v);
  const big = [w.size, w.compressed, w.offset].filter(z64).map((v): [number, 8] => [v, 8]);
  const extra = big.length > 0 ? le([[1, 2], [big.length * 8, 2], ...big]) : new Uint8Array(0);
  const head = le([
    [0x02014b50, 4],
    [MADE_BY_UNIX, 2],
    [VERSION, 2],
    [utf8Flag(w.name), 2],
    [w.method, 2],
    [0, 2],
    [DOS_DATE, 2],
    [w.crc, 4],
    [cap(w.compressed), 4],
    [cap(w.size), 4],
    [w.name.length, 2],
    [extra.length, 2],
    [0, 2],
    [0, 2],
    [0, 2],
    [(0o100644 << 16) >>> 0, 4],
    [cap(w.offset), 4],
  ]);
  return concat([head, w.name, extra]);
}

/** The records after the central directory of `n` entries at `cdStart`, `cdSize` bytes long (zip64 ones when needed). */
export function endRecords(n: number, cdStart: number, cdSize: number, force: boolean): Uint8Array {
  const zip64 = n >= 0xffff || force || cdStart >= MAX32 || cdSize >= MAX32;
  const parts: Uint8Array[] = [];
  if (zip64) {
    const recAt = cdStart + cdSize;
    parts.push(
      le([
        [0x06064b50, 4],
        [44, 8],
        [MADE_BY_UNIX, 2],
        [VERSION, 2],
        [0, 4],
        [0, 4],
        [n, 8],
        [n, 8],
        [cdSize, 8],
        [cdStart, 8],
      ]),
    );
    parts.push(
      le([
        [0x07064b50, 4],
        [0, 4],
        [recAt, 8],
        [1, 4],
      ]),
    );
  }
  const count16 = zip64 ? 0xffff : n;
  parts.push(
    le([
      [0x06054b50, 4],
      [0, 2],
      [0, 2],
      [count16, 2],
      [count16, 2],
      [zip64 ? MAX32 : cdSize, 4],
      [zip64 ? MAX32 : cdStart, 4],
      [0, 2],
    ]),
  );
  return concat(parts);
}
