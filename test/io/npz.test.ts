// The NPZ/NPY readers against numpy-written fixtures: every array of every good
// file matches manifest.json (shape, dtype, order, sum, first and last element)
// for stored and deflated archives; every bad file is refused with a typed
// error that names the file (and the entry where there is one).
import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from '../../src/errors.js';
import { dtypeInfo, type NpyArray } from '../../src/io/npy.js';
import { openNpz, readNpyFile } from '../../src/io/npz.js';
import { OWNER_MARKER } from '../../src/io/temp-owner.js';

const DIR = path.resolve(import.meta.dirname, '../fixtures/npz');
interface Expect {
  shape: number[];
  dtype: string;
  fortran_order: boolean;
  size: number;
  sum?: number | number[];
  first?: number | boolean | number[];
  last?: number | boolean | number[];
}
const manifest = JSON.parse(await readFile(path.join(DIR, 'manifest.json'), 'utf8')) as { files: Record<string, Record<string, Expect>> };

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

function check(t: ExecutionContext, label: string, a: NpyArray, e: Expect): void {
  t.deepEqual(a.shape, e.shape, `${label} shape`);
  t.is(a.descr, e.dtype, `${label} dtype`);
  t.is(a.fortranOrder, e.fortran_order, `${label} order`);
  const complex = dtypeInfo(a.descr).complex;
  const v = (k: number): number => Number(a.data[k]!);
  t.is(a.data.length, e.size * (complex ? 2 : 1), `${label} size`);
  if (e.size === 0) return;
  if (complex) {
    let re = 0,
      im = 0;
    for (let k = 0; k < e.size; k++) {
      re += v(2 * k);
      im += v(2 * k + 1);
    }
    const [sr, si] = e.sum as number[];
    t.true(close(re, sr!) && close(im, si!), `${label} sum ${re},${im} vs ${String(e.sum)}`);
    const [fr, fi] = e.first as number[],
      [lr, li] = e.last as number[];
    t.true(close(v(0), fr!) && close(v(1), fi!), `${label} first`);
    t.true(close(v(2 * e.size - 2), lr!) && close(v(2 * e.size - 1), li!), `${label} last`);
  } else {
    let s = 0;
    for (let k = 0; k < e.size; k++) s += v(k);
    t.true(close(s, e.sum as number), `${label} sum ${s} vs ${String(e.sum)}`);
    t.true(close(v(0), Number(e.first)), `${label} first`);
    t.true(close(v(e.size - 1), Number(e.last)), `${label} last`);
  }
}

for (const [file, arrays] of Object.entries(manifest.files)) {
  test(`${file} matches manifest.json`, async (t) => {
    if (file.endsWith('.npy')) {
      check(t, file, await readNpyFile(path.join(DIR, file)), arrays['']!);
      return;
    }
    const npz = await openNpz(path.join(DIR, file));
    try {
      t.deepEqual(npz.entries().sort(), Object.keys(arrays).sort());
      for (const [name, e] of Object.entries(arrays)) {
        check(t, `${file}[${name}]`, await npz.readArray(name), e);
        t.deepEqual(npz.header(name).shape, e.shape);
      }
    } finally {
      await npz.close();
    }
  });
}

test('readRange reads just the asked bytes, stored and deflated alike', async (t) => {
  const stored = await openNpz(path.join(DIR, 'canonical_stored.npz'));
  const deflated = await openNpz(path.join(DIR, 'canonical_deflated.npz'));
  try {
    t.is(deflated.entryInfo('diffraction').method, 8);
    t.is(stored.entryInfo('diffraction').method, 0);
    const frameBytes = 32 * 32 * 4;
    for (const i of [0, 7, 35]) {
      const a = await stored.readRange('diffraction', i * frameBytes, frameBytes);
      const b = await deflated.readRange('diffraction', i * frameBytes, frameBytes);
      t.deepEqual(a, b);
    }
    const whole = await stored.readArray('diffraction');
    const last = new Float32Array((await deflated.readRange('diffraction', 35 * frameBytes, frameBytes)).slice().buffer);
    t.deepEqual(last, (whole.data as Float32Array).subarray(35 * 1024));
    await t.throwsAsync(stored.readRange('diffraction', 36 * frameBytes - 4, 8), {
      instanceOf: FormatError,
      message: /canonical_stored\.npz \[diffraction\].*outside/,
    });
  } finally {
    await stored.close();
    await deflated.close();
  }
});

test('the spill directory of a deflated archive is removed at close', async (t) => {
  const { mkdtemp, readdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const root = await mkdtemp(path.join(tmpdir(), 'pf-spillroot-'));
  try {
    const npz = await openNpz(path.join(DIR, 'canonical_deflated.npz'), { tmpDir: root });
    t.deepEqual(await readdir(root), [], 'nothing spilled before a read');
    await npz.readRange('diffraction', 0, 16);
    await Promise.all([npz.readRange('diffraction', 16, 16), npz.readRange('diffraction', 32, 16)]);
    const during = await readdir(root);
    t.is(during.length, 1);
    // Besides the owner marker (which lets a later run remove the directory of a killed one).
    t.is((await readdir(path.join(root, during[0]!))).filter((n) => n !== OWNER_MARKER).length, 1, 'the entry is inflated once');
    await npz.close();
    t.deepEqual(await readdir(root), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

const refusals: [string, RegExp, string | undefined][] = [
  ['bad_object_array.npz', /pickle/, 'obj'],
  ['bad_header.npz', /header/, 'diffraction'],
  ['bad_crc.npz', /CRC-32/, 'diffraction'],
  ['bad_truncated.npz', /truncated/, undefined],
  ['bad_not_a_zip.npz', /not a zip/, undefined],
];
for (const [file, message, key] of refusals) {
  test(`${file} is refused with a typed error naming the file${key === undefined ? '' : ' and key'}`, async (t) => {
    const e = await t.throwsAsync(
      async () => {
        const npz = await openNpz(path.join(DIR, file));
        try {
          for (const name of npz.entries()) await npz.readArray(name);
        } finally {
          await npz.close();
        }
      },
      { instanceOf: FormatError, message },
    );
    t.is(e.file, file);
    t.true(e.message.startsWith(key === undefined ? `${file}:` : `${file} [${key}]:`), e.message);
    if (key !== undefined) t.is(e.key, key);
  });
}

test('a deflated entry with a bad CRC is refused while it is inflated', async (t) => {
  const { writeNpz } = await import('../../src/io/npz-writer.js');
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-npz-'));
  try {
    const file = path.join(dir, 'c.npz');
    await writeNpz(file, { a: { shape: [64], data: new Float32Array(64).fill(1) } }, { compress: true });
    const bytes = await readFile(file);
    const cd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 1, 2]));
    bytes[cd + 16]! ^= 0xff; // corrupt the CRC in the central directory
    await writeFile(file, bytes);
    const npz = await openNpz(file);
    try {
      await t.throwsAsync(npz.readRange('a', 0, 4), { instanceOf: FormatError, message: /c\.npz \[a\]: CRC-32/ });
    } finally {
      await npz.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
