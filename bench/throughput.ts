// Throughput benchmark: groups/s and bytes/s (bytes of group amplitudes
// produced) of npz read → normalize → group → batch → tensorify on a synthetic
// canonical NPZ, next to the memcpy bandwidth measured in the same run
// (copying a 1 GiB buffer), so the ratio is meaningful on any machine. The
// normalisation pass (one read of the file at create) is counted in the time.
//   node --import tsx bench/throughput.ts [--patterns 8000] [--N 64] [--gridsize 2] [--memcpy-gib 1] [--json]
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { TensorLedger } from '../src/pipeline/ledger.js';
import { arg, streamingPipeline, syntheticNpz } from './memory.js';

/** Bytes/s of copying a `gib` GiB buffer (best of 3). */
export function memcpyBandwidth(gib: number): number {
  const bytes = Math.round(gib * 2 ** 30);
  const src = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) src[i] = i & 0xff;
  const dst = new Uint8Array(bytes);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t0);
  }
  return bytes / (best / 1000);
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const n = Number(arg(args, 'patterns', '8000'));
  const N = Number(arg(args, 'N', '64'));
  const gridsize = Number(arg(args, 'gridsize', '2'));
  const gib = Number(arg(args, 'memcpy-gib', '1'));
  await tf.setBackend('cpu');
  const file = await syntheticNpz(n, N);
  const memcpy = memcpyBandwidth(gib);
  const signal = new AbortController().signal;
  const t0 = performance.now();
  const { stream, close } = await streamingPipeline(file, gridsize, 16, new TensorLedger(), signal);
  let groups = 0;
  let bytes = 0;
  try {
    for await (const tb of stream.open(signal)) {
      groups += tb.size;
      bytes += tb.size * tb.N * tb.N * tb.C * 4;
      tb.dispose();
    }
  } finally {
    await close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const rec = { bench: 'throughput', N, gridsize, groups, groups_per_s: groups / seconds, bytes_per_s: bytes / seconds, memcpy_bytes_per_s: memcpy, fraction_of_memcpy: bytes / seconds / memcpy, seconds };
  if (json) process.stdout.write(`${JSON.stringify(rec)}\n`);
  else {
    process.stdout.write(
      `N=${N} gridsize=${gridsize}: ${groups} groups in ${seconds.toFixed(2)} s = ${(rec.groups_per_s / 1000).toFixed(1)} k groups/s, ` +
        `${(rec.bytes_per_s / 2 ** 30).toFixed(2)} GiB/s (memcpy ${(memcpy / 2 ** 30).toFixed(2)} GiB/s, ${((100 * rec.bytes_per_s) / memcpy).toFixed(0)} %)\n`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}
