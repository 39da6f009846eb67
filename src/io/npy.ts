// NPY format (numpy's one-array file): header parsing for versions 1–3, decoding
// to native-endian C-order typed arrays, and encoding. Pure functions on bytes;
// errors are FormatErrors without a file name (callers add file and key with
// `locateError`). Pickled/object arrays ('|O') are refused.
import { FormatError, PtychoflowError, type ErrorCode } from '../errors.js';
import { parseLiteral } from './npy-literal.js';

export type DType = 'b1' | 'u1' | 'i1' | 'i2' | 'i4' | 'i8' | 'u2' | 'u4' | 'u8' | 'f2' | 'f4' | 'f8' | 'c8' | 'c16';
export type TypedArray =
  Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

export interface NpyHeader {
  descr: string;
  dtype: DType;
  shape: number[];
  fortranOrder: boolean;
  /** Bytes before the array data (magic, version, length field, header text). */
  headerLength: number;
}

/** Decoded array: data in C order, native endian; complex as interleaved (re, im) floats; f2 widened to f4; b1 as 0/1 bytes. */
export interface NpyArray {
  descr: string;
  shape: number[];
  fortranOrder: boolean;
  data: TypedArray;
}

export interface DTypeInfo {
  dtype: DType;
  kind: 'b' | 'u' | 'i' | 'f' | 'c';
  /** Bytes per element. */
  itemsize: number;
  littleEndian: boolean;
  complex: boolean;
}

/** numpy's own limit on the header text (`_MAX_HEADER_SIZE`); it refuses larger headers too. */
export const NPY_HEADER_MAX = 10000;
/** Bytes that always hold a whole acceptable header (magic, version, length field, text). */
export const NPY_PREFIX_MAX = 12 + NPY_HEADER_MAX;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
const DTYPES = new Set<string>(['b1', 'u1', 'i1', 'i2', 'i4', 'i8', 'u2', 'u4', 'u8', 'f2', 'f4', 'f8', 'c8', 'c16']);
const bad = (code: ErrorCode, message: string): FormatError => new FormatError(code, message);

/** Size, kind and byte order of a numpy descr such as '<f4', '>c8', '|b1'. */
export function dtypeInfo(descr: string): DTypeInfo {
  if (/^[|<>=]?O/.test(descr)) throw bad('PICKLED_ARRAY', `object arrays ('${descr}') need pickle and are refused; save numeric arrays only`);
  const m = /^([|<>=]?)([biufc])(\d{1,2})$/.exec(descr);
  const dtype = m === null ? '' : `${m[2]!}${m[3]!}`;
  if (m === null || !DTYPES.has(dtype)) throw bad('UNSUPPORTED_DTYPE', `unsupported dtype '${descr}' (supported: b1, u1, i1–i8, u2–u8, f2, f4, f8, c8, c16)`);
  const kind = m[2] as DTypeInfo['kind'];
  return { dtype: dtype as DType, kind, itemsize: Number(m[3]), littleEndian: m[1] !== '>', complex: kind === 'c' };
}

/** The header's text and where the array data starts, after the magic, version and length field. */
function headerText(bytes: Uint8Array): { text: string; headerLength: number } {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) throw bad('NOT_NPY', 'not an npy array (bad magic)');
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw bad('BAD_HEADER', `unsupported npy version ${major}.${bytes[7]!}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) throw bad('TRUNCATED', 'npy header is truncated');
  const len = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (len > NPY_HEADER_MAX) throw bad('HEADER_TOO_LARGE', `npy header declares ${len} bytes, more than numpy's limit of ${NPY_HEADER_MAX}`);
  if (start + len > bytes.length) throw bad('TRUNCATED', `npy header is truncated (needs ${start + len} bytes, have ${bytes.length})`);
  try {
    return { text: new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(start, start + len)), headerLength: start + len };
  } catch {
    throw bad('BAD_HEADER', 'npy header text is not valid');
  }
}

/** Parses the NPY header at the start of `bytes` (which must hold at least the whole header). */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const { text, headerLength } = headerText(bytes);
  const d = parseLiteral(text);
  if (d === null || typeof d !== 'object' || Array.isArray(d)) throw bad('BAD_HEADER', 'npy header is not a dict');
  const { descr, fortran_order: fo, shape } = d;
  if (typeof descr !== 'string')
    throw bad(
      Array.isArray(descr) ? 'UNSUPPORTED_DTYPE' : 'BAD_HEADER',
      Array.isArray(descr) ? 'structured dtypes are not supported' : "npy header has no 'descr'",
    );
  if (typeof fo !== 'boolean') throw bad('BAD_HEADER', "npy header has no 'fortran_order'");
  if (!Array.isArray(shape)) throw bad('BAD_HEADER', "npy header has no 'shape' tuple");
  if (!shape.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s >= 0)) throw bad('BAD_HEADER', 'npy shape must hold non-negative integers');
  const info = dtypeInfo(descr);
  const dims = shape as number[];
  if (!Number.isSafeInteger(dims.reduce((a, b) => a * b, info.itemsize))) throw bad('BAD_HEADER', 'npy shape is too large');
  return { descr, dtype: info.dtype, shape: dims, fortranOrder: fo, headerLength };
}

/** Bytes of array data a header declares. */
export function dataBytes(h: Pick<NpyHeader, 'descr' | 'shape'>): number {
  return sizeOf(h.shape) * dtypeInfo(h.descr).itemsize;
}

/** Throws TRUNCATED when the header declares more data than the `available` bytes after it (checked before any allocation). */
export function checkDataFits(h: NpyHeader, available: number): void {
  const need = dataBytes(h);
  if (h.headerLength + need > available)
    throw bad('TRUNCATED', `array data is truncated: the header declares ${need} bytes, ${Math.max(0, available - h.headerLength)} follow it`);
}

/** Number of elements of a shape (1 for 0-d). */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Half-precision bits to a number. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function floatToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return s | 0x7c00;
  if (a < 2 ** -24 / 2) return s;
  if (a < 2 ** -14) return s | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let f = Math.round((a / 2 ** e - 1) * 1024);
  if (f === 1024) {
    f = 0;
    e++;
  }
  return s | ((e + 15) << 10) | f;
}

/** Decodes `count` elements (complex: 2 values each) from raw bytes into a native typed array. */
export function decodeElements(raw: Uint8Array, descr: string, count: number): TypedArray {
  const info = dtypeInfo(descr);
  const parts = info.complex ? 2 : 1,
    unit = info.itemsize / parts;
  const nbytes = count * info.itemsize;
  if (raw.length < nbytes) throw bad('TRUNCATED', `array data is truncated (needs ${nbytes} bytes, have ${raw.length})`);
  // A copy into a fresh, aligned buffer (Buffer#slice would alias Node's pool).
  const buf = new Uint8Array(nbytes);
  buf.set(raw.subarray(0, nbytes));
  if (!info.littleEndian && unit > 1) {
    for (let o = 0; o < nbytes; o += unit) buf.subarray(o, o + unit).reverse();
  }
  const n = count * parts,
    ab = buf.buffer;
  switch (info.kind === 'c' ? `f${unit}` : info.dtype) {
    case 'b1':
      return new Uint8Array(buf.map((b) => (b === 0 ? 0 : 1)));
    case 'u1':
      return buf;
    case 'i1':
      return new Int8Array(ab, 0, n);
    case 'i2':
      return new Int16Array(ab, 0, n);
    case 'u2':
      return new Uint16Array(ab, 0, n);
    case 'i4':
      return new Int32Array(ab, 0, n);
    case 'u4':
      return new Uint32Array(ab, 0, n);
    case 'i8':
      return new BigInt64Array(ab, 0, n);
    case 'u8':
      return new BigUint64Array(ab, 0, n);
    case 'f2': {
      const h = new Uint16Array(ab, 0, n),
        out = new Float32Array(n);
      for (let k = 0; k < n; k++) out[k] = halfToFloat(h[k]!);
      return out;
    }
    case 'f4':
      return new Float32Array(ab, 0, n);
    default:
      return new Float64Array(ab, 0, n);
  }
}

/** Real elements of any non-complex dtype as float32 (for patterns of any real dtype). */
export function toFloat32(raw: Uint8Array, descr: string, count: number): Float32Array {
  const a = decodeElements(raw, descr, count);
  if (a instanceof Float32Array) return a;
  const out = new Float32Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = Number(a[k]!);
  return out;
}

/** Reorders Fortran-order values into C order (`parts` values per element). */
function fortranToC<T extends TypedArray>(data: T, shape: readonly number[], parts: number): T {
  if (shape.length < 2) return data;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const nd = shape.length,
    idx = new Array<number>(nd).fill(0);
  const fstride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fstride[d] = s;
    s *= shape[d]!;
  }
  const total = sizeOf(shape);
  for (let c = 0; c < total; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d]! * fstride[d]!;
    for (let p = 0; p < parts; p++) (out as unknown as number[])[c * parts + p] = (data as unknown as number[])[f * parts + p]!;
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Decodes a whole .npy file's bytes. */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  const h = parseNpyHeader(bytes);
  const info = dtypeInfo(h.descr);
  const count = sizeOf(h.shape);
  let data = decodeElements(bytes.subarray(h.headerLength), h.descr, count);
  if (h.fortranOrder) data = fortranToC(data, h.shape, info.complex ? 2 : 1);
  return { descr: h.descr, shape: h.shape, fortranOrder: h.fortranOrder, data };
}

/** The descr numpy would write for a typed array (little endian). */
export function descrFor(data: TypedArray): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Int8Array) return '|i1';
  if (data instanceof BigInt64Array) return '<i8';
  if (data instanceof BigUint64Array) return '<u8';
  return '|u1';
}

/** NPY header bytes (padded so data starts on a 64-byte boundary). */
/** `length`: exact total size wanted (a multiple of 64 that fits), to rewrite a header in place. */
export function encodeNpyHeader(h: { descr: string; shape: readonly number[]; fortranOrder?: boolean; version?: 1 | 2 | 3; length?: number }): Uint8Array {
  dtypeInfo(h.descr);
  const shape = h.shape.length === 1 ? `(${h.shape[0]!},)` : `(${h.shape.join(', ')})`;
  const dict = `{'descr': '${h.descr}', 'fortran_order': ${h.fortranOrder === true ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const text = new TextEncoder().encode(dict);
  const version = h.version ?? (text.length + 11 > 65535 ? 2 : 1);
  const pre = version === 1 ? 10 : 12;
  const total = h.length ?? Math.ceil((pre + text.length + 1) / 64) * 64;
  if (total < pre + text.length + 1 || total % 64 !== 0)
    throw bad('BAD_HEADER', `an npy header for shape (${h.shape.join(', ')}) does not fit in ${total} bytes`);
  const out = new Uint8Array(total).fill(0x20);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, total - pre, true);
  else view.setUint32(8, total - pre, true);
  out.set(text, pre);
  out[total - 1] = 0x0a;
  return out;
}

/** Raw bytes of `data` in the layout `descr` asks for (byte order, item size). */
export function encodeElements(data: TypedArray, descr: string): Uint8Array {
  const info = dtypeInfo(descr);
  const unit = info.complex ? info.itemsize / 2 : info.itemsize;
  const n = data.length;
  let target: TypedArray;
  const key = info.kind === 'c' ? `f${unit}` : info.dtype;
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  if (key === 'i8' || key === 'u8') {
    target = key === 'i8' ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let k = 0; k < n; k++) target[k] = big ? BigInt.asIntN(64, data[k] as bigint) : BigInt(Math.trunc(Number(data[k])));
    if (key === 'u8') for (let k = 0; k < n; k++) target[k] = BigInt.asUintN(64, target[k] as bigint);
  } else if (key === 'f2') {
    target = new Uint16Array(n);
    for (let k = 0; k < n; k++) target[k] = floatToHalf(Number(data[k]));
  } else {
    const Ctor = {
      b1: Uint8Array,
      u1: Uint8Array,
      i1: Int8Array,
      i2: Int16Array,
      u2: Uint16Array,
      i4: Int32Array,
      u4: Uint32Array,
      f4: Float32Array,
      f8: Float64Array,
    }[key as 'f4'];
    if (data instanceof Ctor) target = data;
    else {
      const t = new Ctor(n);
      for (let k = 0; k < n; k++) t[k] = Number(data[k]);
      target = t;
    }
    if (key === 'b1') target = Uint8Array.from(target as unknown as ArrayLike<number>, (b) => (b === 0 ? 0 : 1));
  }
  let bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  if (!info.littleEndian && unit > 1) {
    bytes = bytes.slice();
    for (let o = 0; o < bytes.length; o += unit) bytes.subarray(o, o + unit).reverse();
  }
  return bytes;
}

/** Encodes an array (data in C order) as a complete .npy file. */
export function encodeNpy(array: { shape: readonly number[]; data: TypedArray; descr?: string }): Uint8Array {
  const descr = array.descr ?? descrFor(array.data);
  const info = dtypeInfo(descr);
  const expected = sizeOf(array.shape) * (info.complex ? 2 : 1);
  if (array.data.length !== expected)
    throw new FormatError('SHAPE_MISMATCH', `data holds ${array.data.length} values, shape (${array.shape.join(', ')}) of ${descr} needs ${expected}`);
  const head = encodeNpyHeader({ descr, shape: array.shape });
  const body = encodeElements(array.data, descr);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** The same error, now naming the file and entry it concerns. */
export function locateError(e: unknown, file: string, key?: string): unknown {
  if (!(e instanceof PtychoflowError) || e.file !== undefined) return e;
  return new FormatError(e.code, e.message, { file, ...(key === undefined ? {} : { key }), cause: e });
}
