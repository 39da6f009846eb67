// The hdf5 source over fixtures written by h5py (test/fixtures/hdf5, made by
// make_fixtures.py there): the canonical keys at the root (gzip-chunked
// patterns), a ptychodus product (/raw_data, a probe with modes) and CXI
// (counts, translation in metres, detector geometry, bad-pixel mask); refusals
// naming file and key; bad patterns under the error policy; a whole
// npz-free pipeline (hdf5 → normalize → group) reading frames by index.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeNpy } from '../../src/io/npy.js';
import { DataError, FormatError, OptionsError } from '../../src/errors.js';
import { readNpyFile } from '../../src/io/npz.js';
import type { Frame, Group, Stream } from '../../src/pipeline/types.js';
import hdf5 from '../../src/sources/hdf5.js';
import group from '../../src/transforms/group.js';
import normalize from '../../src/transforms/normalize.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';
import { createLogger } from '../../src/util/log.js';

const FIX = path.resolve(import.meta.dirname, '../fixtures/hdf5');
const NPZ = path.resolve(import.meta.dirname, '../fixtures/npz');
const n = 12;
const N = 16;
const NN = N * N;

async function source(options: Record<string, unknown>, lines: string[] = []): Promise<Stream<Frame>> {
  return (await createStage(
    hdf5,
    options,
    [],
    testContext({ id: 'scan', baseDir: FIX, log: createLogger('info', (_l, _s, m) => lines.push(m)) }),
  )) as Stream<Frame>;
}

async function expected(): Promise<Float32Array> {
  return (await readNpyFile(path.join(FIX, 'expected_amplitude.npy'))).data as Float32Array;
}

for (const [file, layout] of [
  ['canonical.h5', 'canonical'],
  ['ptychodus_product.h5', 'ptychodus'],
] as const) {
  test(`${file}: detected as ${layout}; frames, positions, probe, object and frame store match what h5py wrote`, async (t) => {
    const amp = await expected();
    const lines: string[] = [];
    const s = await source({ path: file }, lines);
    try {
      const scan = s.meta.scan!;
      t.is(scan.N, N);
      t.is(scan.count, n);
      t.is(scan.notes?.layout, layout);
      t.is(scan.xcoords[5], 20 + 3 * (5 % 4));
      t.is(scan.ycoords[5], 20 + 3 * Math.floor(5 / 4));
      t.is(scan.probe.width, N);
      // probe = exp(−r²/20)·exp(0.1i·x) with x = col − N/2: at the centre 1 + 0i, one pixel right phase 0.1.
      t.true(Math.abs(scan.probe.re[(N / 2) * N + N / 2]! - 1) < 1e-6);
      t.true(Math.abs(Math.atan2(scan.probe.im[(N / 2) * N + N / 2 + 1]!, scan.probe.re[(N / 2) * N + N / 2 + 1]!) - 0.1) < 1e-6);
      t.is(scan.object?.width, 48);
      const frames = await collectStream(s);
      t.is(frames.length, n);
      for (const f of frames) t.deepEqual(f.amplitude, amp.subarray(f.index * NN, (f.index + 1) * NN));
      const store = s.frames!;
      const picked = await store.readMany([7, 2, 3, 11]);
      t.deepEqual(
        picked,
        [7, 2, 3, 11].map((i) => amp.slice(i * NN, (i + 1) * NN)),
      );
      const into = [new Float32Array(NN), new Float32Array(NN)];
      await store.readInto!([4, 5], into);
      t.deepEqual(into[1], amp.slice(5 * NN, 6 * NN));
      await t.throwsAsync(store.read(12), { instanceOf: DataError, message: /outside 0\.\.11/ });
      if (layout === 'ptychodus')
        t.true(
          lines.some((l) => l.includes('2 modes, the first one used')),
          lines.join('\n'),
        );
    } finally {
      await s.close?.();
    }
  });
}

test('scan.cxi: counts square-rooted, masked pixels zeroed, positions from the translation in metres and the far-field pixel size', async (t) => {
  const amp = await expected();
  const lines: string[] = [];
  await t.throwsAsync(source({ path: 'scan.cxi' }), { instanceOf: OptionsError, message: /scan\.cxi \[probe\].*no probe/ });
  const s = await source({ path: 'scan.cxi', probe: path.join(NPZ, 'canonical_stored.npz') }, lines).catch((e: unknown) => e);
  // canonical_stored.npz has a 32×32 probe: the wrong size is refused, naming the option.
  t.true(s instanceof OptionsError && /probe is 32×32 but the patterns are 16×16/.test(s.message), String(s));
  await t.throwsAsync(source({ path: 'scan.cxi', probe: 'nope.npy' }), { instanceOf: OptionsError, message: /probe file not found/ });
  const cxi = await source({ path: 'scan.cxi', probe: path.join(FIX, 'probe16.npy') }, lines);
  try {
    const scan = cxi.meta.scan!;
    t.is(scan.notes?.layout, 'cxi');
    t.is(scan.notes?.input, 'intensity');
    // Written as −x·pixel with pixel = λz/(N·p) = 1e-10·2/(16·75e-6) m; the default sign −1 gives x back.
    for (let i = 0; i < n; i++) {
      t.true(Math.abs(scan.xcoords[i]! - (20 + 3 * (i % 4))) < 1e-3, `x ${i}: ${scan.xcoords[i]}`);
      t.true(Math.abs(scan.ycoords[i]! - (20 + 3 * Math.floor(i / 4))) < 1e-3, `y ${i}`);
    }
    const frames = await collectStream(cxi);
    const f = frames[3]!.amplitude;
    t.is(f[0], 0, 'masked pixel (0, 0)');
    t.is(f[5 * N + 7], 0, 'masked pixel (5, 7)');
    // counts = round((10·amp)²): the amplitude read back is √counts ≈ 10·amp.
    for (const p of [1, 17, 100, 255]) t.true(Math.abs(f[p]! - 10 * amp[3 * NN + p]!) < 0.05, `pixel ${p}`);
    t.true(
      lines.some((l) => l.includes('2 pixel(s) the detector mask marks set to 0')),
      lines.join('\n'),
    );
    t.true(
      lines.some((l) => l.includes('object pixel size 1.667e-7 m')),
      lines.join('\n'),
    );
  } finally {
    await cxi.close?.();
  }
  const unmasked = await source({ path: 'scan.cxi', probe: path.join(FIX, 'probe16.npy'), apply_mask: false, pixel_size_m: 1e-7, position_sign: 1 });
  try {
    const [first] = await unmasked.frames!.readMany([3]);
    t.not(first![0], 0);
    t.true(Math.abs(unmasked.meta.scan!.xcoords[1]! + (23 * 1.6666666666666668e-7) / 1e-7) < 1e-3);
  } finally {
    await unmasked.close?.();
  }
});

test('refusals name the file and the key: missing file, not HDF5, unknown layout, short coordinates', async (t) => {
  await t.throwsAsync(source({ path: 'missing.h5' }), { instanceOf: DataError, message: /missing\.h5.*file not found/ });
  await t.throwsAsync(source({ path: 'not_hdf5.h5' }), { instanceOf: FormatError, message: /not_hdf5\.h5: not an HDF5 file/ });
  const e = await t.throwsAsync(source({ path: 'bad_coords.h5' }), {
    instanceOf: DataError,
    message: /bad_coords\.h5 \[xcoords\]: has shape \(11\), expected \(12\)/,
  });
  t.is(e.key, 'xcoords');
  await t.throwsAsync(source({ path: 'no_layout.h5' }), { instanceOf: DataError, message: /no_layout\.h5: found none of the layouts .*top level: images/ });
  await t.throwsAsync(source({ path: 'canonical.h5', layout: 'cxi' }), {
    instanceOf: DataError,
    message: /canonical\.h5 \[entry_1\/instrument_1\/detector_1\/data\]: no dataset/,
  });
  await t.throwsAsync(source({ path: 'canonical.h5', bogus: 1 }), { message: /bogus/ });
  // A file cut short: the signature is there, HDF5 cannot open it; the reader thread's error comes back typed.
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-h5-'));
  try {
    const { readFile, writeFile } = await import('node:fs/promises');
    const whole = await readFile(path.join(FIX, 'canonical.h5'));
    await writeFile(path.join(dir, 'cut.h5'), whole.subarray(0, 3000));
    await t.throwsAsync(createStage(hdf5, { path: path.join(dir, 'cut.h5') }, [], testContext({ id: 'scan' })), {
      instanceOf: FormatError,
      message: /cut\.h5: HDF5 could not open it/,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad_nan.h5: route drops pattern 5 from the stream; reading it by index is an error naming the pattern', async (t) => {
  const s = await source({ path: 'bad_nan.h5', on_error: 'route' });
  try {
    const frames = await collectStream(s);
    t.deepEqual(
      frames.map((f) => f.index),
      [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11],
    );
    await t.throwsAsync(s.frames!.read(5), { instanceOf: DataError, message: /bad_nan\.h5 \[diffraction\]: pattern 5: .*NaN/ });
  } finally {
    await s.close?.();
  }
  const strict = await source({ path: 'bad_nan.h5' });
  try {
    await t.throwsAsync(collectStream(strict), { message: /pattern 5: .*NaN/ });
  } finally {
    await strict.close?.();
  }
});

test('limit, and a pipeline hdf5 → normalize → group reading member frames by index', async (t) => {
  const amp = await expected();
  const s = await source({ path: 'canonical.h5', limit: 8 });
  try {
    t.is(s.meta.count, 8);
    const norm = await createStage(normalize, {}, [s], testContext({ id: 'normalize' }));
    const groups = await collectStream((await createStage(group, { gridsize: 2, k: 4 }, [norm], testContext({ id: 'group' }))) as Stream<Group>);
    t.is(groups.length, 8);
    const k = norm.meta.normalization!;
    const g = groups[0]!;
    for (let c = 0; c < 4; c++) {
      const m = g.indices[c]!;
      t.true(m < 8);
      t.true(Math.abs(g.amplitudes[10 * 4 + c]! - Math.fround(k * amp[m * NN + 10]!)) < 1e-5);
    }
  } finally {
    await s.close?.();
  }
});

// Real data, when ../shared is there: the PETRA III P25 CXI file (near-field, so
// only reading is checked: 200 patterns of 100×100 int32 counts, the 5-pixel
// mask, positions ~1.19 µm apart; ../shared/data/README.md §4).
const PETRA = path.resolve(import.meta.dirname, '../../../shared/data/cdtools_petra_nearfield/PETRAIII_P25_Near_Field_Ptycho.cxi');
// Without the file the test is skipped, visibly (the reason is in its title).
const havePetra = existsSync(PETRA);
(havePetra ? test : test.skip)(
  `the PETRA III CXI file reads: 200 patterns of 100×100, 5 masked pixels, neighbours ~1.19 µm apart${havePetra ? '' : ` (skipped: ${PETRA} is not present)`}`,
  async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pf-h5-'));
    try {
      const probeFile = path.join(dir, 'probe.npy');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(probeFile, encodeNpy({ descr: '<c8', shape: [100, 100], data: new Float32Array(2 * 100 * 100).fill(1) }));
      const lines: string[] = [];
      const s = (await createStage(
        hdf5,
        { path: PETRA, probe: probeFile, pixel_size_m: 1e-7 },
        [],
        testContext({ id: 'scan', log: createLogger('info', (_l, _s, m) => lines.push(m)) }),
      )) as Stream<Frame>;
      try {
        const scan = s.meta.scan!;
        t.is(scan.count, 200);
        t.is(scan.N, 100);
        t.true(
          lines.some((l) => l.includes('5 pixel(s) the detector mask marks')),
          lines.join('\n'),
        );
        // Median nearest-neighbour spacing in metres (pixel 1e-7 m): h5py on the same file gives 1.1924 µm.
        const nn = Array.from({ length: 200 }, (_, i) => {
          let best = Infinity;
          for (let j = 0; j < 200; j++)
            if (j !== i) best = Math.min(best, Math.hypot(scan.xcoords[j]! - scan.xcoords[i]!, scan.ycoords[j]! - scan.ycoords[i]!) * 1e-7);
          return best;
        }).sort((a, b) => a - b);
        const median = (nn[99]! + nn[100]!) / 2;
        t.true(Math.abs(median - 1.1924e-6) < 1e-9, `${median} m`);
        const frames = await collectStream(s);
        t.is(frames.length, 200);
        t.true(frames.every((f) => f.amplitude.length === 10000 && f.amplitude.every((v) => v >= 0 && Number.isFinite(v))));
      } finally {
        await s.close?.();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
