// inspectFile over the fixtures: shapes, dtypes, orders and streaming
// statistics against manifest.json (mean = sum/size), the canonical-contract
// verdict, and FormatErrors naming file and entry for unreadable files.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from '../../src/errors.js';
import { inspectFile } from '../../src/io/inspect.js';

const DIR = path.resolve(import.meta.dirname, '../fixtures/npz');
interface Expect {
  shape: number[];
  dtype: string;
  fortran_order: boolean;
  size: number;
  sum?: number | number[];
}
const manifest = JSON.parse(await readFile(path.join(DIR, 'manifest.json'), 'utf8')) as { files: Record<string, Record<string, Expect>> };

test('every fixture array is reported with shape, dtype, order and statistics', async (t) => {
  for (const [file, arrays] of Object.entries(manifest.files)) {
    const r = await inspectFile(path.join(DIR, file));
    t.is(r.format, file.endsWith('.npy') ? 'npy' : 'npz');
    for (const [name, e] of Object.entries(arrays)) {
      const a = r.arrays[name === '' ? path.basename(file, '.npy') : name]!;
      t.deepEqual(a.shape, e.shape, `${file} ${name}`);
      t.is(a.dtype, e.dtype);
      t.is(a.fortran_order, e.fortran_order);
      t.is(a.size, e.size);
      if (e.size === 0 || e.sum === undefined) continue;
      if (e.dtype.includes('c')) t.true(a.mean_abs! > 0, `${file} ${name} mean_abs`);
      else {
        t.true(
          Math.abs(a.mean! - (e.sum as number) / e.size) <= 1e-6 * Math.max(1, Math.abs(a.mean!)),
          `${file} ${name} mean ${a.mean} vs ${(e.sum as number) / e.size}`,
        );
        if (!e.dtype.includes('b')) t.true(a.min! <= a.mean! && a.mean! <= a.max!);
      }
    }
  }
});

test('the canonical contract is checked', async (t) => {
  t.true((await inspectFile(path.join(DIR, 'canonical_stored.npz'))).contract.ok);
  const legacy = await inspectFile(path.join(DIR, 'legacy_diff3d.npz'));
  t.true(legacy.contract.ok);
  const missing = await inspectFile(path.join(DIR, 'bad_missing_diffraction.npz'));
  t.false(missing.contract.ok);
  t.regex(missing.contract.problems.join('\n'), /\[diffraction\] required array 'diffraction' is missing/);
  const coords = await inspectFile(path.join(DIR, 'bad_coords_length.npz'));
  t.regex(coords.contract.problems.join('\n'), /\[xcoords\] xcoords has 33 entries but there are 36 patterns/);
  t.false((await inspectFile(path.join(DIR, 'dtypes_stored.npz'))).contract.ok);
});

test('unreadable files throw FormatErrors naming file and entry', async (t) => {
  for (const [file, key] of [
    ['bad_crc.npz', 'diffraction'],
    ['bad_header.npz', 'diffraction'],
    ['bad_object_array.npz', 'obj'],
    ['bad_truncated.npz', undefined],
    ['bad_not_a_zip.npz', undefined],
  ] as const) {
    const e = await t.throwsAsync(inspectFile(path.join(DIR, file)), { instanceOf: FormatError });
    t.is(e.key, key, file);
    t.true(e.message.startsWith(file), e.message);
  }
});
