// NPY header parsing and encoding: fixed cases (versions, dtypes, orders,
// refusals) and property tests — random valid headers round-trip, random
// byte mutations give a FormatError or a valid parse, never a crash or hang.
import test from 'ava';
import fc from 'fast-check';
import { FormatError } from '../../src/errors.js';
import { decodeNpy, encodeNpy, encodeNpyHeader, parseNpyHeader } from '../../src/io/npy.js';

const DTYPES = [
  '|b1',
  '|u1',
  '|i1',
  '<i2',
  '>i2',
  '<i4',
  '>i4',
  '<i8',
  '>i8',
  '<u2',
  '>u2',
  '<u4',
  '<u8',
  '>u8',
  '<f2',
  '>f2',
  '<f4',
  '>f4',
  '<f8',
  '>f8',
  '<c8',
  '>c8',
  '<c16',
  '>c16',
];

test('valid headers round-trip through encodeNpyHeader / parseNpyHeader', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(...DTYPES),
      fc.array(fc.nat({ max: 5000 }), { maxLength: 4 }),
      fc.boolean(),
      fc.constantFrom<1 | 2 | 3>(1, 2, 3),
      (descr, shape, fortranOrder, version) => {
        const bytes = encodeNpyHeader({ descr, shape, fortranOrder, version });
        const h = parseNpyHeader(bytes);
        return (
          h.descr === descr &&
          h.fortranOrder === fortranOrder &&
          JSON.stringify(h.shape) === JSON.stringify(shape) &&
          h.headerLength === bytes.length &&
          bytes.length % 64 === 0
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('random byte mutations give a FormatError or a valid parse, never a crash', (t) => {
  const base = encodeNpy({ shape: [3, 4], data: new Float32Array(12).map((_, k) => k), descr: '<f4' });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.nat({ max: base.length }),
      (edits, cut) => {
        const bytes = base.slice(0, Math.max(cut, 1));
        for (const [at, v] of edits) if (at < bytes.length) bytes[at] = v;
        try {
          const h = parseNpyHeader(bytes);
          const a = decodeNpy(bytes);
          return h.shape.every((d) => Number.isInteger(d) && d >= 0) && a.shape.length === h.shape.length;
        } catch (e) {
          return e instanceof FormatError;
        }
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});

test('arbitrary bytes never crash the parser', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
      const bytes = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, raw.length & 0xff, 0, ...raw]);
      try {
        parseNpyHeader(bytes);
        return true;
      } catch (e) {
        return e instanceof FormatError;
      }
    }),
    { numRuns: 1000 },
  );
  t.pass();
});

test('every dtype round-trips through encodeNpy / decodeNpy, both byte orders', (t) => {
  const values = [0, 1, 2, 3, 5, 7];
  for (const descr of DTYPES) {
    const complex = descr.includes('c');
    const n = complex ? 6 : 6;
    const src = descr.endsWith('i8') || descr.endsWith('u8') ? BigInt64Array.from(values.map(BigInt)) : Float64Array.from(values);
    const enc = encodeNpy({ shape: complex ? [3] : [2, 3], data: src, descr });
    const a = decodeNpy(enc);
    t.is(a.descr, descr);
    t.is(a.data.length, n);
    const got = Array.from(a.data as ArrayLike<number | bigint>, Number);
    t.deepEqual(got, descr.endsWith('b1') ? values.map((v) => (v === 0 ? 0 : 1)) : values, descr);
  }
});

test('Fortran order is reordered to C order; 0-d and empty arrays decode', (t) => {
  // numpy: np.asfortranarray(np.arange(6).reshape(2, 3)) stores 0 3 1 4 2 5
  const head = encodeNpyHeader({ descr: '<f8', shape: [2, 3], fortranOrder: true });
  const body = new Uint8Array(Float64Array.of(0, 3, 1, 4, 2, 5).buffer);
  const a = decodeNpy(new Uint8Array([...head, ...body]));
  t.deepEqual([...(a.data as Float64Array)], [0, 1, 2, 3, 4, 5]);
  t.true(a.fortranOrder);
  const scalar = decodeNpy(encodeNpy({ shape: [], data: Float64Array.of(3.25), descr: '<f8' }));
  t.deepEqual(scalar.shape, []);
  t.is(scalar.data[0], 3.25);
  const empty = decodeNpy(encodeNpy({ shape: [0, 8, 8], data: new Float32Array(0) }));
  t.deepEqual(empty.shape, [0, 8, 8]);
  t.is(empty.data.length, 0);
});

test('object arrays, structured dtypes, bad magic and missing keys are refused', (t) => {
  const raw = (dict: string): Uint8Array => {
    const text = new TextEncoder().encode(dict.padEnd(54) + '\n');
    return new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, text.length, 0, ...text]);
  };
  t.throws(() => parseNpyHeader(raw("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }")), { instanceOf: FormatError, message: /pickle/ });
  t.throws(() => parseNpyHeader(raw("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }")), { instanceOf: FormatError, message: /structured/ });
  t.throws(() => parseNpyHeader(raw("{'descr': '<f4', 'fortran_order': False, }")), { instanceOf: FormatError, message: /shape/ });
  t.throws(() => parseNpyHeader(raw("{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }")), { instanceOf: FormatError, message: /unsupported dtype/ });
  t.throws(() => parseNpyHeader(new Uint8Array(20)), { instanceOf: FormatError, message: /magic/ });
  t.throws(() => decodeNpy(encodeNpy({ shape: [4], data: new Float32Array(4) }).subarray(0, 70)), { instanceOf: FormatError, message: /truncated/ });
});
