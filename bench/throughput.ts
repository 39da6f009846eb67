// Throughput benchmark: groups/s and bytes/s (bytes of group amplitudes
// produced) of npz read → normalize → group → batch → tensorify on a synthetic
// canonical NPZ, next to the memcpy bandwidth measured in the same run
// (copying a 1 GiB buffer), so the ratio is meaningful on any machine. The
// normalisation pass (one read of the file at create) is counted in the time.
// With --reference, the reference PtychoPINN's eager numpy grouping
// (bench/reference_grouping.py, needs python3 with numpy and scipy) runs on the
// same file right after, so the ratio to it is measured side by side.
//   node --import tsx bench/throughput.ts [--patterns 8000] [--N 64] [--gridsize 2] [--memcpy-gib 1] [--reference] [--backend cpu|wasm] [--json]
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { selectBackend, type BackendName } from '../src/backend/select.js';
import { TensorLedger } from '../src/pipeline/ledger.js';
import { arg } from './args.js';
import { streamingPipeline, syntheticNpz } from './memory.js';

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

/** groups/s of the reference's numpy grouping on `file`, or why it could not run. */
export function referenceGrouping(file: string, gridsize: number): { groups_per_s: number | null; note?: string } {
  const script = fileURLToPath(new URL('./reference_grouping.py', import.meta.url));
  const r = spawnSync('python3', [script, file, '--gridsize', String(gridsize)], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0)
    return { groups_per_s: null, note: `reference not run: ${r.error?.message ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`}` };
  return { groups_per_s: (JSON.parse(r.stdout.trim().split('\n').pop()!) as { groups_per_s: number }).groups_per_s };
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const n = Number(arg(args, 'patterns', '8000'));
  const N = Number(arg(args, 'N', '64'));
  const gridsize = Number(arg(args, 'gridsize', '2'));
  const gib = Number(arg(args, 'memcpy-gib', '1'));
  await selectBackend(arg(args, 'backend', 'cpu') as BackendName);
  const file = await syntheticNpz(n, N);
  // The reference first, while this process is still small (it allocates several GiB).
  const ref = args.includes('--reference') ? referenceGrouping(file, gridsize) : undefined;
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
  // After the run: its 2 GiB of buffers must not be left for our run's garbage collector.
  const memcpy = memcpyBandwidth(gib);
  const rec = {
    bench: 'throughput',
    N,
    gridsize,
    groups,
    groups_per_s: groups / seconds,
    bytes_per_s: bytes / seconds,
    memcpy_bytes_per_s: memcpy,
    fraction_of_memcpy: bytes / seconds / memcpy,
    seconds,
    ...(ref === undefined
      ? {}
      : {
          reference_groups_per_s: ref.groups_per_s,
          ratio_to_reference: ref.groups_per_s === null ? null : groups / seconds / ref.groups_per_s,
          ...(ref.note === undefined ? {} : { reference_note: ref.note }),
        }),
  };
  if (json) process.stdout.write(`${JSON.stringify(rec)}\n`);
  else {
    process.stdout.write(
      `N=${N} gridsize=${gridsize}: ${groups} groups in ${seconds.toFixed(2)} s = ${(rec.groups_per_s / 1000).toFixed(1)} k groups/s, ` +
        `${(rec.bytes_per_s / 2 ** 30).toFixed(2)} GiB/s (memcpy ${(memcpy / 2 ** 30).toFixed(2)} GiB/s, ${((100 * rec.bytes_per_s) / memcpy).toFixed(0)} %)\n` +
        (ref === undefined
          ? ''
          : ref.groups_per_s === null
            ? `${ref.note}\n`
            : `reference numpy grouping: ${(ref.groups_per_s / 1000).toFixed(1)} k groups/s (ours ${(rec.groups_per_s / ref.groups_per_s).toFixed(1)}×)\n`),
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run(process.argv.slice(2));
}
