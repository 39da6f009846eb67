// The images sink: writes the pattern grid, probe and object previews, stops
// after `count` records, and leaves out the object when the scan has none.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { Frame, ScanMeta } from '../../src/pipeline/types.js';
import images from '../../src/sinks/images.js';
import { runSink, testContext } from '../../src/testing/index.js';

const N = 16;
const complex = (n: number, f: (i: number) => number): { height: number; width: number; re: Float32Array; im: Float32Array } => ({
  height: n,
  width: n,
  re: Float32Array.from({ length: n * n }, (_, i) => Math.cos(f(i))),
  im: Float32Array.from({ length: n * n }, (_, i) => Math.sin(f(i))),
});

function frames(withObject: boolean): { stream: Parameters<typeof runSink>[2][number]; opened: { records: number } } {
  const scan: ScanMeta = {
    N,
    count: 10,
    xcoords: new Float64Array(10),
    ycoords: new Float64Array(10),
    probe: complex(N, (i) => i / 50),
    origin: 'test',
    ...(withObject ? { object: complex(40, (i) => i / 300) } : {}),
  };
  const opened = { records: 0 };
  return {
    opened,
    stream: {
      meta: { record: 'frame', scan, count: 10 },
      open: () =>
        (async function* () {
          for (let k = 0; k < 10; k++) {
            opened.records++;
            const f: Frame = { index: k, x: 0, y: 0, amplitude: Float32Array.from({ length: N * N }, (_, i) => (i === 8 * N + 8 ? 100 : k)) };
            yield f;
          }
        })(),
    },
  };
}

test('writes pattern, probe and object previews and reads only `count` records', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-images-'));
  try {
    const { stream, opened } = frames(true);
    const r = (await runSink(images, { count: 3 }, [stream], testContext({ id: 'images', outDir: dir }))) as {
      patterns: number;
      files: Record<string, string>;
    };
    t.is(r.patterns, 3);
    t.is(opened.records, 3);
    t.deepEqual(Object.keys(r.files).sort(), ['object', 'patterns', 'probe']);
    for (const f of Object.values(r.files)) {
      const png = PNG.sync.read(await readFile(f));
      t.true(png.width > 100 && png.height > 100);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no object preview without a ground truth', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pf-images-'));
  try {
    const r = (await runSink(images, {}, [frames(false).stream], testContext({ id: 'images', outDir: dir }))) as { files: Record<string, string> };
    t.deepEqual(Object.keys(r.files).sort(), ['patterns', 'probe']);
    await t.throwsAsync(runSink(images, {}, [], testContext({ id: 'images', outDir: dir })), { name: 'OptionsError' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
