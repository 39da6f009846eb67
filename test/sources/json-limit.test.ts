// `limit` (and --limit) on a JSON manifest: one pass over the manifest, which
// stops as soon as the limit is reached once `probe` and `object` are known
// (before: two full passes, 44 s on a 10^6-frame manifest with --limit 5).
// Checked by counting passes and bytes read, not by timing.
import test from 'ava';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeNpy } from '../../src/io/npy.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import jsonSource from '../../src/sources/json.js';
import { manifestReads } from '../../src/sources/manifest-scan.js';
import { collectStream, createStage, testContext } from '../../src/testing/index.js';

const N = 8,
  COUNT = 6000;

/** A manifest of COUNT frames over one 4-pattern stack; `head` keys before `frames`, `tail` keys after. */
function manifest(head: Record<string, string>, tail: Record<string, string>): string {
  const frames = Array.from({ length: COUNT }, (_, i) => `{"x":${16 + (i % 40)},"y":${16 + (Math.floor(i / 40) % 40)},"stack":"stack.npy","index":${i % 4}}`);
  const keys = (o: Record<string, string>): string =>
    Object.entries(o)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)},`)
      .join('');
  return `{${keys(head)}"frames":[${frames.join(',\n')}]${Object.keys(tail).length > 0 ? ',' + keys(tail).slice(0, -1) : ''}}`;
}

async function scan(dir: string, text: string, limit?: number): Promise<{ count: number; passes: number; bytes: number; size: number; object: boolean }> {
  const file = path.join(dir, 'scan.json');
  await writeFile(file, text);
  manifestReads.passes = manifestReads.bytes = 0;
  const s = (await createStage(
    jsonSource,
    { path: 'scan.json', ...(limit !== undefined ? { limit } : {}) },
    [],
    testContext({ id: 'scan', baseDir: dir }),
  )) as Stream<Frame>;
  try {
    const got = await collectStream(s);
    return {
      count: got.length,
      passes: manifestReads.passes,
      bytes: manifestReads.bytes,
      size: (await stat(file)).size,
      object: s.meta.scan!.object !== undefined,
    };
  } finally {
    await s.close?.();
  }
}

test('a limited manifest is read once and only up to the limit; unlimited, once in full', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pf-json-limit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'stack.npy'), encodeNpy({ shape: [4, N, N], data: new Float32Array(4 * N * N).fill(1) }));
  await writeFile(path.join(dir, 'probe.npy'), encodeNpy({ shape: [N, N], data: new Float32Array(N * N).fill(1) }));
  await writeFile(path.join(dir, 'object.npy'), encodeNpy({ shape: [64, 64], data: new Float32Array(64 * 64).fill(1) }));

  const first = manifest({ probe: 'probe.npy', object: 'object.npy' }, {});
  const limited = await scan(dir, first, 5);
  t.is(limited.count, 5);
  t.is(limited.passes, 1);
  t.true(limited.object);
  t.true(limited.bytes < limited.size / 2, `read ${limited.bytes} of ${limited.size} bytes`);

  const full = await scan(dir, first);
  t.is(full.count, COUNT);
  t.is(full.passes, 1, 'one pass also without a limit (before: two)');
  t.is(full.bytes, full.size);

  // Keys after the frames: still one pass, to the end, and they are found.
  const last = await scan(dir, manifest({}, { probe: 'probe.npy', object: 'object.npy' }), 5);
  t.deepEqual([last.count, last.passes, last.bytes === last.size, last.object], [5, 1, true, true]);
  // No object at all: the end must be reached to know it.
  const none = await scan(dir, manifest({ probe: 'probe.npy' }, {}), 5);
  t.deepEqual([none.count, none.passes, none.bytes === none.size, none.object], [5, 1, true, false]);
});
