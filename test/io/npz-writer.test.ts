// writeNpz / NpzStreamWriter: numpy-written data round-trips through our writer
// and reader; numpy itself (when installed) loads our stored and deflated files
// with allow_pickle=False and sees the same values; the zip64 bookkeeping and
// the atomic temp-file write hold.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OptionsError } from '../../src/errors.js';
import { NpzStreamWriter, writeNpz } from '../../src/io/npz-writer.js';
import { openNpz } from '../../src/io/npz.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/npz');
const haveNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-npzw-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const compress of [false, true]) {
  test(`numpy-written arrays round-trip through writeNpz (${compress ? 'deflated' : 'stored'})`, async (t) => {
    await withDir(async (dir) => {
      for (const src of ['dtypes_stored.npz', 'canonical_deflated.npz']) {
        const a = await openNpz(path.join(FIX, src));
        const out = path.join(dir, `rt-${src}`);
        try {
          const arrays: Parameters<typeof writeNpz>[1] = {};
          for (const name of a.entries()) {
            const x = await a.readArray(name);
            arrays[name] = { shape: x.shape, data: x.data, descr: x.descr };
          }
          await writeNpz(out, arrays, { compress });
          const b = await openNpz(out);
          try {
            t.deepEqual(b.entries(), a.entries());
            for (const name of a.entries()) {
              const x = await a.readArray(name),
                y = await b.readArray(name);
              t.deepEqual(y.shape, x.shape, name);
              t.is(y.descr, x.descr, name);
              t.deepEqual(y.data, x.data, name);
              t.is(b.entryInfo(name).method, compress ? 8 : 0);
            }
          } finally {
            await b.close();
          }
        } finally {
          await a.close();
        }
      }
      t.deepEqual(
        (await readdir(dir)).filter((n) => n.endsWith('.tmp')),
        [],
        'no temp files left',
      );
    });
  });
}

test('numpy loads our files with allow_pickle=False and sees the same values', async (t) => {
  if (!haveNumpy) {
    t.log('numpy is not installed: skipped');
    t.pass();
    return;
  }
  await withDir(async (dir) => {
    const c = new Float32Array(2 * 12).map((_, k) => (k % 2 === 0 ? k / 2 : -k / 4));
    const f8 = new Float64Array(30).map((_, k) => Math.PI * k - 7.5);
    const arrays = {
      diffraction: { shape: [3, 4, 5], data: new Float32Array(60).map((_, k) => k * 0.5) },
      probeGuess: { shape: [3, 4], data: c, descr: '<c8' },
      coords: { shape: [30], data: f8 },
      ids: { shape: [4], data: BigInt64Array.of(0n, -1n, 2n ** 40n, 3n) },
      big: { shape: [2], data: Float32Array.of(1.5, -2), descr: '>f4' },
      scalar: { shape: [], data: Float64Array.of(42) },
    };
    const script = `
import sys, json, numpy as np
out = {}
for f in sys.argv[1:]:
    d = np.load(f, allow_pickle=False)
    out[f] = {k: {"dtype": d[k].dtype.str, "shape": list(d[k].shape), "values": (np.stack([d[k].real, d[k].imag], -1) if np.iscomplexobj(d[k]) else d[k]).astype(float).ravel().tolist()} for k in d.files}
print(json.dumps(out))`;
    const files = [path.join(dir, 'stored.npz'), path.join(dir, 'deflated.npz')];
    await writeNpz(files[0]!, arrays);
    await writeNpz(files[1]!, arrays, { compress: true });
    const got = JSON.parse(execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' })) as Record<
      string,
      Record<string, { dtype: string; shape: number[]; values: number[] }>
    >;
    for (const f of files) {
      const r = got[f]!;
      t.deepEqual(Object.keys(r), Object.keys(arrays));
      t.is(r.probeGuess!.dtype, '<c8');
      t.deepEqual(r.probeGuess!.shape, [3, 4]);
      t.deepEqual(r.probeGuess!.values, [...c]);
      t.is(r.coords!.dtype, '<f8');
      t.deepEqual(r.coords!.values, [...f8]);
      t.deepEqual(r.diffraction!.shape, [3, 4, 5]);
      t.deepEqual(r.diffraction!.values, [...arrays.diffraction.data]);
      t.is(r.ids!.dtype, '<i8');
      t.deepEqual(r.ids!.values, [0, -1, 2 ** 40, 3]);
      t.is(r.big!.dtype, '>f4');
      t.deepEqual(r.big!.values, [1.5, -2]);
      t.deepEqual(r.scalar!.shape, []);
      t.deepEqual(r.scalar!.values, [42]);
    }
  });
});

test('NpzStreamWriter appends chunks; shapes are enforced; errors leave no file', async (t) => {
  await withDir(async (dir) => {
    const file = path.join(dir, 's.npz');
    const w = await NpzStreamWriter.create(file, { compress: true });
    await w.beginArray('diffraction', '<f4', [4, 2, 2]);
    for (let i = 0; i < 4; i++) await w.write(new Float32Array(4).fill(i));
    await w.endArray();
    await w.beginArray('x', '<f8', [2]);
    await t.throwsAsync(w.write(new Float64Array(3)), { instanceOf: OptionsError });
    await w.write(Float64Array.of(1, 2));
    await w.endArray();
    await w.close();
    const r = await openNpz(file);
    t.deepEqual([...((await r.readArray('diffraction')).data as Float32Array)], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    await r.close();

    const bad = path.join(dir, 'bad.npz');
    await t.throwsAsync(writeNpz(bad, { a: { shape: [3], data: new Float32Array(2) } }), { instanceOf: OptionsError, message: /needs 3/ });
    const w2 = await NpzStreamWriter.create(bad);
    await w2.beginArray('a', '<f4', [3]);
    await w2.write(new Float32Array(2));
    await t.throwsAsync(w2.endArray(), { instanceOf: OptionsError });
    await w2.abort();
    t.deepEqual((await readdir(dir)).sort(), ['s.npz']);
  });
});

test('local headers carry zip64 extra fields with the real sizes', async (t) => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'z.npz');
    await writeNpz(file, { a: { shape: [10], data: new Float32Array(10).fill(2) } });
    const b = await readFile(file);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    t.is(view.getUint32(0, true), 0x04034b50);
    t.is(view.getUint32(18, true), 0xffffffff);
    t.is(view.getUint32(22, true), 0xffffffff);
    const nameLen = view.getUint16(26, true);
    t.is(view.getUint16(30 + nameLen, true), 1, 'zip64 extra id');
    t.is(Number(view.getBigUint64(30 + nameLen + 4, true)), 128 + 40);
    t.is(Number(view.getBigUint64(30 + nameLen + 12, true)), 128 + 40);
  });
});

test('zip64 central directory and end records (as for > 4 GiB) are read by us and by numpy', async (t) => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'z64.npz');
    const data = new Float32Array(40).map((_, k) => k - 3);
    for (const compress of [false, true]) {
      await writeNpz(file, { a: { shape: [5, 8], data }, b: { shape: [2], data: Float64Array.of(1, 2) } }, { compress, forceZip64: true });
      const b = await readFile(file);
      t.true(b.includes(Buffer.from([0x50, 0x4b, 6, 6])), 'zip64 end record present');
      const r = await openNpz(file);
      try {
        t.deepEqual((await r.readArray('a')).data, data);
      } finally {
        await r.close();
      }
      if (haveNumpy) {
        const out = execFileSync(
          'python3',
          ['-c', 'import sys, numpy as np; d = np.load(sys.argv[1], allow_pickle=False); print(float(d["a"].sum()), d["a"].shape, d["b"].tolist())', file],
          { encoding: 'utf8' },
        );
        t.is(out.trim(), `${data.reduce((s, v) => s + v, 0)}.0 (5, 8) [1.0, 2.0]`);
      }
    }
  });
});

test('our reader reads zip64 archives written by Python zipfile', async (t) => {
  if (!haveNumpy) {
    t.log('numpy is not installed: skipped');
    t.pass();
    return;
  }
  await withDir(async (dir) => {
    const file = path.join(dir, 'py64.npz');
    // Lowering zipfile's limits makes it write zip64 extras and end records for a small archive.
    execFileSync('python3', [
      '-c',
      `
import sys, zipfile, numpy as np
zipfile.ZIP64_LIMIT = 16
zipfile.ZIP_FILECOUNT_LIMIT = 1
np.savez_compressed(sys.argv[1], x=np.arange(12, dtype='<f8').reshape(3, 4), y=np.ones(5, dtype='<c8'))`,
      file,
    ]);
    const b = await readFile(file);
    t.true(b.includes(Buffer.from([0x50, 0x4b, 6, 6])), 'python wrote a zip64 end record');
    const r = await openNpz(file);
    try {
      t.deepEqual([...((await r.readArray('x')).data as Float64Array)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      t.deepEqual((await r.readArray('y')).shape, [5]);
    } finally {
      await r.close();
    }
  });
});

test('an empty array over a zero-length buffer gets the right CRC (stored and deflated) and reads back', async (t) => {
  await withDir(async (dir) => {
    for (const compress of [false, true]) {
      const out = path.join(dir, `empty-${String(compress)}.npz`);
      // new Float32Array(0) is backed by a zero-length ArrayBuffer: Node 20's zlib.crc32 returned 0 for it.
      await writeNpz(out, { e: { shape: [0], data: new Float32Array(0) }, f: { shape: [0, 4], data: new Float64Array(0) } }, { compress });
      const r = await openNpz(out);
      try {
        t.deepEqual((await r.readArray('e')).shape, [0]);
        t.deepEqual((await r.readArray('f')).shape, [0, 4]);
      } finally {
        await r.close();
      }
      if (haveNumpy)
        execFileSync('python3', [
          '-c',
          'import sys, numpy as np; d = np.load(sys.argv[1], allow_pickle=False); assert d["e"].shape == (0,) and d["f"].shape == (0, 4)',
          out,
        ]);
    }
  });
});
