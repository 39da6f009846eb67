// CRC-32: the known check value, incremental use, and the JS fallback
// (slicing-by-8) agreeing with the runtime's zlib crc32 on every length 0..64
// and on random buffers, so either path gives the same verdict on an archive.
import test from 'ava';
import fc from 'fast-check';
import { crc32, crc32Js } from '../../src/io/crc32.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test('the standard check value of "123456789" is 0xCBF43926, on both paths', (t) => {
  t.is(crc32(ascii('123456789')), 0xcbf43926);
  t.is(crc32Js(ascii('123456789')), 0xcbf43926);
  t.is(crc32(new Uint8Array(0)), 0);
});

test('incremental CRCs over any split equal the CRC of the whole, and both paths agree', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (bytes, cut) => {
      const k = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
      const whole = crc32Js(bytes);
      return (
        crc32(bytes) === whole &&
        crc32Js(bytes.subarray(k), crc32Js(bytes.subarray(0, k))) === whole &&
        crc32(bytes.subarray(k), crc32(bytes.subarray(0, k))) === whole
      );
    }),
  );
  for (let n = 0; n <= 64; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    t.is(crc32Js(b), crc32(b), `length ${n}`);
  }
});

test('an empty view keeps the running CRC, whatever buffer backs it (Node 20 zlib.crc32 returned 0 for a zero-length ArrayBuffer)', (t) => {
  const running = crc32(ascii('abc'));
  t.is(crc32(new Uint8Array(new ArrayBuffer(0)), running), running);
  t.is(crc32(new Uint8Array(new Float32Array(0).buffer), running), running);
  t.is(crc32(new Uint8Array(8).subarray(8), running), running);
  t.is(crc32Js(new Uint8Array(0), running), running);
});
