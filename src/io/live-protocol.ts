// The live stream protocol (docs/formats.md, "Live stream"): the JSON parts
// of a series (header, frame, end) and the pixel payloads, encoded and
// decoded without any transport. The zmq source and `ptychoflow replay` both
// use it, so what one sends the other reads by construction; the socket, the
// counting and the error policy live in the source.
import { DataError } from '../errors.js';

export const HTYPE = { header: 'ptycho-header-1', frame: 'ptycho-frame-1', end: 'ptycho-end-1' } as const;

export const DTYPES = ['uint8', 'uint16', 'uint32', 'int32', 'float32', 'float64'] as const;
export type LiveDtype = (typeof DTYPES)[number];
export type ByteOrder = 'little' | 'big';

const SIZE: Record<LiveDtype, number> = { uint8: 1, uint16: 2, uint32: 4, int32: 4, float32: 4, float64: 8 };

export interface LiveHeader {
  readonly series: string;
  readonly N: number;
  readonly dtype: LiveDtype;
  readonly byte_order: ByteOrder;
  readonly values: 'amplitude' | 'counts';
  readonly frames?: number;
  readonly position_units: 'pixels' | 'm';
  readonly pixel_size_m?: number;
  /** 'inline' (next part is complex64 N×N) or a probe file; absent: the receiver names one. */
  readonly probe?: string;
}

export interface LiveFrameHead {
  readonly series: string;
  readonly index: number;
  readonly x: number;
  readonly y: number;
  readonly dtype?: LiveDtype;
  readonly byte_order?: ByteOrder;
}

/** A message's JSON part, or a DataError (BAD_JSON / BAD_MESSAGE) saying why not. */
export function parseJsonPart(part: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('utf8'));
  } catch (e) {
    throw new DataError('BAD_JSON', `the JSON part does not parse (${(e as Error).message})`, { hint: 'the sender must follow docs/formats.md "Live stream"' });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError('BAD_MESSAGE', 'the JSON part is not an object');
  return v as Record<string, unknown>;
}

function isDtype(v: unknown): v is LiveDtype {
  return typeof v === 'string' && (DTYPES as readonly string[]).includes(v);
}

function headerError(key: string, why: string): DataError {
  return new DataError('BAD_HEADER', `series header: ${key} ${why}`, { key, hint: 'see docs/formats.md "Live stream"' });
}

/** Field `key` of `j`: one of `allowed`, or `fallback` when absent. */
function choice<T extends string>(j: Record<string, unknown>, key: string, allowed: readonly T[], fallback: T): T {
  const v = j[key] ?? fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw headerError(key, `must be ${allowed.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Checks a header's fields; every problem is a DataError naming the field. */
export function readHeader(j: Record<string, unknown>): LiveHeader {
  if (typeof j.series !== 'string' || j.series === '') throw headerError('series', 'must be a non-empty string');
  if (!Number.isInteger(j.N) || (j.N as number) < 2 || (j.N as number) > 4096)
    throw headerError('N', `must be an integer in 2..4096, got ${JSON.stringify(j.N)}`);
  if (!isDtype(j.dtype))
    throw new DataError('BAD_DTYPE', `series header: unknown dtype ${JSON.stringify(j.dtype)} (known: ${DTYPES.join(', ')})`, { key: 'dtype' });
  const byteOrder = choice<ByteOrder>(j, 'byte_order', ['little', 'big'], 'little');
  const values = choice(j, 'values', ['amplitude', 'counts'], 'amplitude');
  const units = choice(j, 'position_units', ['pixels', 'm'], 'pixels');
  const px = j.pixel_size_m;
  if (units === 'm' && !(typeof px === 'number' && px > 0)) throw headerError('pixel_size_m', 'must be a positive number when positions are in metres');
  if (j.frames !== undefined && !(Number.isInteger(j.frames) && (j.frames as number) >= 0)) throw headerError('frames', 'must be a non-negative integer');
  if (j.probe !== undefined && typeof j.probe !== 'string') throw headerError('probe', 'must be "inline" or a probe file name');
  return {
    series: j.series,
    N: j.N as number,
    dtype: j.dtype,
    byte_order: byteOrder,
    values,
    position_units: units,
    ...(typeof px === 'number' ? { pixel_size_m: px } : {}),
    ...(j.frames !== undefined ? { frames: j.frames as number } : {}),
    ...(typeof j.probe === 'string' ? { probe: j.probe } : {}),
  };
}

/** A frame's JSON fields; errors name the frame index once it is known. */
export function readFrameHead(j: Record<string, unknown>): LiveFrameHead {
  const index = j.index;
  if (!(typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < 2 ** 28)) {
    throw new DataError('BAD_INDEX', `frame index ${JSON.stringify(index)} is not an integer in 0..2^28−1`, { key: 'index' });
  }
  const at = `frame ${index}`;
  if (!(typeof j.x === 'number' && Number.isFinite(j.x) && typeof j.y === 'number' && Number.isFinite(j.y))) {
    throw new DataError('BAD_POSITION', `${at}: position (${JSON.stringify(j.x)}, ${JSON.stringify(j.y)}) is not two finite numbers`, { key: at });
  }
  if (j.dtype !== undefined && !isDtype(j.dtype))
    throw new DataError('BAD_DTYPE', `${at}: unknown dtype ${JSON.stringify(j.dtype)} (known: ${DTYPES.join(', ')})`, { key: at });
  if (j.byte_order !== undefined && j.byte_order !== 'little' && j.byte_order !== 'big')
    throw new DataError('BAD_MESSAGE', `${at}: byte_order must be little or big`, { key: at });
  return {
    series: typeof j.series === 'string' ? j.series : '',
    index,
    x: j.x,
    y: j.y,
    ...(j.dtype !== undefined ? { dtype: j.dtype } : {}),
    ...(j.byte_order !== undefined ? { byte_order: j.byte_order } : {}),
  };
}

/** N×N elements of `dtype` → float32 amplitudes (square roots of counts); bad size or values throw, naming the frame. */
export function decodePixels(part: Uint8Array, N: number, dtype: LiveDtype, order: ByteOrder, counts: boolean, index: number): Float32Array {
  const n = N * N,
    size = SIZE[dtype];
  const at = `frame ${index}`;
  if (part.byteLength !== n * size) {
    throw new DataError('BAD_FRAME_SIZE', `${at}: payload has ${part.byteLength} bytes, expected ${N}×${N} ${dtype} = ${n * size}`, { key: at });
  }
  const le = order === 'little';
  const out = new Float32Array(n);
  if (dtype === 'float32' && le) {
    // The common case: one byte copy (the part may be unaligned), then a check over the values.
    new Uint8Array(out.buffer).set(part);
    for (let k = 0; k < n; k++) {
      const v = out[k]!;
      if (!(v >= 0) || !Number.isFinite(v)) throw new DataError('BAD_VALUES', `${at}: pixel ${k} is ${v} (must be finite and ≥ 0)`, { key: at });
      if (counts) out[k] = Math.sqrt(v);
    }
    return out;
  }
  const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
  const get: (o: number) => number = {
    uint8: (o: number) => view.getUint8(o),
    uint16: (o: number) => view.getUint16(o, le),
    uint32: (o: number) => view.getUint32(o, le),
    int32: (o: number) => view.getInt32(o, le),
    float32: (o: number) => view.getFloat32(o, le),
    float64: (o: number) => view.getFloat64(o, le),
  }[dtype];
  for (let k = 0; k < n; k++) {
    const v = get(k * size);
    if (!(v >= 0) || !Number.isFinite(v)) throw new DataError('BAD_VALUES', `${at}: pixel ${k} is ${v} (must be finite and ≥ 0)`, { key: at });
    out[k] = counts ? Math.sqrt(v) : v;
  }
  return out;
}

/** The JSON part of a message, as bytes. */
export function jsonPart(v: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/** A float32 pattern as a little-endian payload (no copy on little-endian hosts). */
export function float32Payload(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A probe as the inline header part: complex64, (re, im) interleaved, little-endian. */
export function probePayload(re: Float32Array, im: Float32Array): Buffer {
  const out = new Float32Array(2 * re.length);
  for (let i = 0; i < re.length; i++) {
    out[2 * i] = re[i]!;
    out[2 * i + 1] = im[i]!;
  }
  return Buffer.from(out.buffer);
}

/** The inline probe part back to re/im planes. */
export function decodeProbe(part: Uint8Array, N: number): { re: Float32Array; im: Float32Array } {
  if (part.byteLength !== N * N * 8)
    throw new DataError('BAD_HEADER', `series header: inline probe has ${part.byteLength} bytes, expected ${N}×${N} complex64 = ${N * N * 8}`, {
      key: 'probe',
    });
  const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
  const re = new Float32Array(N * N),
    im = new Float32Array(N * N);
  for (let i = 0; i < N * N; i++) {
    re[i] = view.getFloat32(8 * i, true);
    im[i] = view.getFloat32(8 * i + 4, true);
  }
  return { re, im };
}
