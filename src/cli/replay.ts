// `ptychoflow replay SCAN --endpoint …`: plays a recorded scan (NPZ, HDF5 or
// JSON manifest, read through the file sources) as a detector would send it,
// in the live stream protocol (docs/formats.md, "Live stream"): header with
// the probe inline, one message per frame, series end. A detector simulator
// for users, and the sender of the live tests and `bench live`: `--drop` and
// `--shuffle-window` inject loss and reordering from a seeded generator, and
// what was injected is reported, so a receiver's counts can be checked.
import path from 'node:path';
import * as zmq from 'zeromq';
import { builtinRegistry } from '../components.js';
import { OptionsError } from '../errors.js';
import { float32Payload, HTYPE, jsonPart, probePayload } from '../io/live-protocol.js';
import { createStageContext } from '../pipeline/context.js';
import type { Frame, Stream } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';
import { EXIT, exitCodeFor, type CliIO } from './io.js';

export interface ReplayOptions {
  /** Scan file, or a frame stream (tests, bench) with its scan metadata. */
  scan: string | Stream<Frame>;
  endpoint: string;
  socket?: 'push' | 'pub';
  topic?: string;
  /** Frames per second (default: as fast as the receiver takes them). */
  rate?: number;
  /** Send the scan this many times as one series (indices continue: loop k, frame i → k·n + i). */
  loop?: number;
  drop?: number;
  shuffleWindow?: number;
  seed?: number;
  series?: string;
  /** Send the series end (default true; false plays a sender that stops mid-series). */
  end?: boolean;
  sndhwm?: number;
  /** With pub: how long to wait after binding for subscribers to join (default 500 ms). */
  joinMs?: number;
  signal?: AbortSignal;
}

export interface ReplayReport {
  series: string;
  endpoint: string;
  /** Index space of the series (frames in the end message). */
  frames: number;
  sent: number;
  dropped: number;
  /** The indices dropped, in order (the first 4096), so a test can rebuild the series a receiver saw. */
  dropped_indices: number[];
  out_of_order: number;
  seconds: number;
  /** Wall-clock time the last frame was handed to the socket (performance.timeOrigin-based ms). */
  last_frame_ms: number;
}

async function openScanStream(file: string, signal: AbortSignal): Promise<Stream<Frame>> {
  const ext = path.extname(file).toLowerCase();
  const type = ext === '.npz' ? 'npz' : ext === '.json' ? 'json' : ['.h5', '.hdf5', '.cxi', '.nxs'].includes(ext) ? 'hdf5' : undefined;
  if (type === undefined) throw new OptionsError('BAD_SCAN_FILE', `${file}: replay reads .npz, .json or HDF5 (.h5, .hdf5, .cxi, .nxs) scans`, { file });
  const def = builtinRegistry().get(type)!;
  const ctx = createStageContext({ id: 'replay', signal, seed: 0, baseDir: process.cwd() });
  const options = def.options.parse({ path: path.resolve(file) });
  if (def.kind === 'sink') throw new OptionsError('BAD_SCAN_FILE', `${type} is not a source`);
  return (await def.create(options, { ctx, inputs: [] })) as Stream<Frame>;
}

/** Dropped indices listed in the report (a long lossy replay would otherwise list thousands). */
const MAX_LISTED_DROPS = 4096;

/** The frames of `loop` passes, indices continued, some dropped, reordered within a window; counts what it did. */
async function* planned(
  stream: Stream<Frame>,
  o: ReplayOptions,
  counts: { dropped: number; droppedIndices: number[]; out_of_order: number },
  signal: AbortSignal,
): AsyncGenerator<Frame> {
  const n = stream.meta.scan?.count ?? 0;
  const rng = new Rng(o.seed ?? 0);
  const W = o.shuffleWindow ?? 0;
  const buf: Frame[] = [];
  let max = -1;
  const emit = (f: Frame): Frame => {
    if (f.index < max) counts.out_of_order++;
    else max = f.index;
    return f;
  };
  for (let k = 0; k < (o.loop ?? 1); k++) {
    for await (const f of stream.open(signal)) {
      // The drop decision is drawn for every frame, so the frames kept do not depend on the window.
      const g = k === 0 ? f : { ...f, index: k * n + f.index };
      if (rng.uniform() < (o.drop ?? 0)) {
        if (counts.dropped++ < MAX_LISTED_DROPS) counts.droppedIndices.push(g.index);
        continue;
      }
      if (W <= 1) yield emit(g);
      else if (buf.length < W) buf.push(g);
      else {
        const j = rng.int(W);
        const out = buf[j]!;
        buf[j] = g;
        yield emit(out);
      }
    }
  }
  rng.shuffle(buf);
  while (buf.length > 0) yield emit(buf.pop()!);
}

/** Waits until `due` (performance.now() time), so frames leave at the asked rate however long a send took. */
async function pace(due: number): Promise<void> {
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
}

export async function replay(o: ReplayOptions): Promise<ReplayReport> {
  const signal = o.signal ?? new AbortController().signal;
  if (o.drop !== undefined && !(o.drop >= 0 && o.drop < 1))
    throw new OptionsError('BAD_OPTION', `--drop ${o.drop}: expected a fraction in [0, 1)`, { key: 'drop' });
  const stream = typeof o.scan === 'string' ? await openScanStream(o.scan, signal) : o.scan;
  const scan = stream.meta.scan;
  if (scan === undefined) throw new OptionsError('NO_SCAN_META', 'the scan stream carries no scan metadata (N, probe)');
  const sock = o.socket === 'pub' ? new zmq.Publisher() : new zmq.Push();
  sock.sendHighWaterMark = o.sndhwm ?? 1000;
  // Messages still queued when the socket closes are delivered for up to 10 s.
  sock.linger = 10_000;
  const topic = o.socket === 'pub' ? [Buffer.from(o.topic ?? '')] : [];
  const series = o.series ?? `replay-${path.basename(typeof o.scan === 'string' ? o.scan : scan.origin)}-${o.seed ?? 0}`;
  const frames = scan.count * (o.loop ?? 1);
  const counts = { dropped: 0, droppedIndices: [] as number[], out_of_order: 0 };
  let sent = 0,
    lastMs = 0;
  const t0 = performance.now();
  try {
    await sock.bind(o.endpoint);
    // A PUB socket drops what it sends before a subscriber's subscription has arrived: give subscribers time to join.
    if (o.socket === 'pub') await new Promise((r) => setTimeout(r, o.joinMs ?? 500));
    const header = {
      htype: HTYPE.header,
      series,
      N: scan.N,
      dtype: 'float32',
      byte_order: 'little',
      values: 'amplitude',
      frames,
      position_units: 'pixels',
      probe: 'inline',
    };
    await sock.send([...topic, jsonPart(header), probePayload(scan.probe.re, scan.probe.im)]);
    for await (const f of planned(stream, o, counts, signal)) {
      if (o.rate !== undefined) await pace(t0 + (1000 * sent) / o.rate);
      await sock.send([...topic, jsonPart({ htype: HTYPE.frame, series, index: f.index, x: f.x, y: f.y }), float32Payload(f.amplitude)]);
      sent++;
      lastMs = performance.timeOrigin + performance.now();
    }
    if (o.end !== false) await sock.send([...topic, jsonPart({ htype: HTYPE.end, series, frames })]);
  } finally {
    sock.close();
    await stream.close?.();
  }
  return {
    series,
    endpoint: o.endpoint,
    frames,
    sent,
    dropped: counts.dropped,
    dropped_indices: counts.droppedIndices,
    out_of_order: counts.out_of_order,
    seconds: +((performance.now() - t0) / 1000).toFixed(3),
    last_frame_ms: lastMs,
  };
}

/** What the command line sets: the options a scan file, a socket buffer and a signal aside, plus --json. */
export type ReplayFlags = Omit<ReplayOptions, 'scan' | 'sndhwm' | 'joinMs' | 'signal'> & { json?: boolean };

export async function replayCommand(file: string, f: ReplayFlags, io: CliIO): Promise<number> {
  const controller = new AbortController();
  const off = io.onInterrupt?.(() => controller.abort());
  try {
    const r = await replay({ ...f, scan: file, signal: controller.signal });
    if (f.json === true) io.stdout.write(`${JSON.stringify(r)}\n`);
    else
      io.stdout.write(
        `replayed ${r.sent} of ${r.frames} frames to ${r.endpoint} in ${r.seconds} s (series '${r.series}'): ${r.dropped} dropped, ${r.out_of_order} out of order\n`,
      );
    return EXIT.ok;
  } catch (e) {
    io.stderr.write(`${(e as Error).message}\n`);
    return exitCodeFor(e);
  } finally {
    off?.();
  }
}
