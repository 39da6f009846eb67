// `npm run bench -- <name> [args]`: runs one benchmark module from bench/.
// Each module exports `run(args)`; results are JSON lines with --json.
import os from 'node:os';

const BENCHES: Record<string, { file: string; about: string }> = {
  memory: { file: './memory.ts', about: 'peak RSS and tensor bytes: eager baseline vs streaming pipeline, by scan size' },
  throughput: { file: './throughput.ts', about: 'groups/s and bytes/s of read → normalize → group → batch → tensorify vs memcpy' },
  compute: { file: './compute.ts', about: 'ms per training step and inference batch, per backend' },
  fft: { file: './fft.ts', about: 'DFT methods per backend and N' },
  'epie-kernel': { file: './epie-kernel.ts', about: 'µs per sequential ePIE update: typed arrays + host FFT vs tfjs ops per backend' },
  'epie-positions': {
    file: './epie-positions.ts',
    about: 'epie position correction from a flat object, σ = 1 px jitter, small simulated scan, vs exact positions',
  },
  ceiling: { file: './ceiling.ts', about: 'what the unseen bench can score: known-probe epie, truth and constant through its scoring, crop lighting' },
  unseen: { file: './unseen.ts', about: 'network trained on a simulated corpus, scored on held-out scans (alone, + refine, flat refine)' },
  patches: { file: './patches.ts', about: "an unseen-bench checkpoint's patches against the truth's: per-patch phase, oracle phase offsets, stitch cost" },
  'npz-random-access': { file: './npz-random-access.ts', about: 'RSS growth while reading random frames from a ≥1 GiB NPZ' },
  scale: { file: './scale.ts', about: 'NATS JetStream scale-out: shards/s with 1 and 2 workers, peak RSS per worker by shard, merge time' },
  rounds: { file: './rounds.ts', about: 'refine step: pass vs batch in one process, and a rounds job (tiles, 1 and 2 workers) against it' },
  live: { file: './live.ts', about: 'live stream: last frame → final image latency, highest replay rate kept up with, peak RSS short vs long' },
};

const [name, ...args] = process.argv.slice(2);
const bench = name === undefined ? undefined : BENCHES[name];
if (bench === undefined) {
  process.stderr.write(`usage: npm run bench -- <name> [--json] [options]\n\n`);
  for (const [k, v] of Object.entries(BENCHES)) process.stderr.write(`  ${k.padEnd(18)} ${v.about}\n`);
  process.exit(name === undefined ? 0 : 2);
}
process.stderr.write(
  `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`,
);
const mod = (await import(bench.file)) as { run: (args: string[]) => Promise<void> };
await mod.run(args);
