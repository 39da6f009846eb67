// Random access into a large stored NPZ: writes ≥ 1 GiB of patterns with our
// streaming writer (16,384 frames of 128×128 float32 by default) to a temp
// dir, then reads 100 random frames by index through the npz source's
// FrameStore and reports how much the process RSS grew (must stay < 64 MiB:
// positioned reads, no whole-array loads). Prints one JSON line; deletes the file.
//   node --import tsx bench/npz-random-access.ts [--frames 16384] [--N 128] [--reads 100] [--dir /tmp]
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { NpzStreamWriter } from '../src/io/npz-writer.js';
import type { Frame, Stream } from '../src/pipeline/types.js';
import npzSource from '../src/sources/npz.js';
import { createStage, testContext } from '../src/testing/index.js';
import { Rng } from '../src/util/rng.js';
import { arg } from './args.js';

export async function run(args: string[]): Promise<void> {
  const frames = Number(arg(args, 'frames', 16_384)),
    N = Number(arg(args, 'N', 128)),
    reads = Number(arg(args, 'reads', 100));
  const dir = await mkdtemp(path.join(arg(args, 'dir', tmpdir()), 'pf-bench-npz-'));
  try {
    const file = path.join(dir, 'big.npz');
    const w = await NpzStreamWriter.create(file);
    await w.beginArray('diffraction', '<f4', [frames, N, N]);
    const frame = new Float32Array(N * N);
    for (let i = 0; i < frames; i++) {
      // Each frame holds its own index (+ a ramp) so reads can be checked.
      for (let k = 0; k < frame.length; k++) frame[k] = i + k / frame.length;
      await w.write(frame);
    }
    await w.endArray();
    const coords = Float64Array.from({ length: frames }, (_, i) => i);
    for (const name of ['xcoords', 'ycoords']) {
      await w.beginArray(name, '<f8', [frames]);
      await w.write(coords);
      await w.endArray();
    }
    await w.beginArray('probeGuess', '<c8', [N, N]);
    await w.write(new Float32Array(2 * N * N).fill(1));
    await w.endArray();
    await w.close();
    const fileBytes = (await stat(file)).size;

    (globalThis as { gc?: () => void }).gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const src = (await createStage(npzSource, { path: file }, [], testContext({ id: 'bench' }))) as Stream<Frame>;
    const rng = new Rng(7);
    let peak = rss0;
    try {
      const store = src.frames!;
      for (let r = 0; r < reads; r++) {
        const i = rng.int(frames);
        const a = await store.read(i);
        if (a[0] !== i || a.length !== N * N) throw new Error(`frame ${i} read back wrong (${a[0]})`);
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    } finally {
      await src.close?.();
    }
    const ms = performance.now() - t0;
    process.stdout.write(
      JSON.stringify({ bench: 'npz-random-access', file_bytes: fileBytes, frames_read: reads, rss_growth_bytes: peak - rss0, ms: Math.round(ms * 10) / 10 }) +
        '\n',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}
