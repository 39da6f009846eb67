// The `zmq` source: one series of the live stream protocol (docs/formats.md,
// "Live stream") from a ZeroMQ PULL or SUB socket, as frames in arrival
// order. It waits for the series header when it is created (N and the probe
// are what the stages after it need), then yields each frame once with its
// index and position: a pure stream, opened once, with no random access
// (group spills it or groups in a window). Duplicates are counted and left
// out, out-of-order frames counted and used, missing ones counted as dropped;
// the counts go into the run summary (the stage's `info`). The series ends at
// its end message, at `max_frames`, or after `idle_timeout_s` without a
// message (with what arrived, and a warning). The socket's receive queue is
// bounded (`rcvhwm`), and the socket is closed however the pass ends.
import * as zmq from 'zeromq';
import { z } from 'zod';
import { DataError, StageError } from '../errors.js';
import { loadProbeFile } from '../io/probe-file.js';
import type { Complex2D, ErrorPolicy, Frame, ScanMeta, StageContext, Stream } from '../pipeline/types.js';
import { defineSource } from '../pipeline/types.js';
import { SeriesReceiver, type SeriesEvent } from './zmq-series.js';
import { errorPolicy } from '../core/options.js';

/** How often a waiting receive wakes to check the abort signal and the idle clock. */
const POLL_MS = 100;

type Sock = zmq.Pull | zmq.Subscriber;

interface Options {
  endpoint: string;
  socket: 'pull' | 'sub';
  topic?: string | undefined;
  bind: boolean;
  probe?: string | undefined;
  idle_timeout_s: number;
  max_frames?: number | undefined;
  rcvhwm: number;
  on_error: ErrorPolicy;
}

async function openSocket(o: Options): Promise<Sock> {
  const sock = o.socket === 'sub' ? new zmq.Subscriber() : new zmq.Pull();
  sock.receiveHighWaterMark = o.rcvhwm;
  sock.receiveTimeout = POLL_MS;
  // Nothing is sent on these sockets; a close never waits for peers.
  sock.linger = 0;
  if (sock instanceof zmq.Subscriber) sock.subscribe(o.topic ?? '');
  try {
    if (o.bind) await sock.bind(o.endpoint);
    else sock.connect(o.endpoint);
  } catch (e) {
    sock.close();
    throw new DataError('BAD_ENDPOINT', `cannot ${o.bind ? 'bind' : 'connect to'} ${o.endpoint}: ${(e as Error).message}`, {
      key: 'endpoint',
      hint: 'use tcp://HOST:PORT, ipc://PATH or inproc://NAME',
    });
  }
  return sock;
}

/** The next message's parts (the SUB topic stripped), or undefined after `idleMs` without one. */
async function receive(sock: Sock, o: Options, idleMs: number, signal: AbortSignal): Promise<Buffer[] | undefined> {
  const t0 = performance.now();
  for (;;) {
    signal.throwIfAborted();
    try {
      const parts = await sock.receive();
      return o.socket === 'sub' ? parts.slice(1) : parts;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EAGAIN') throw e;
      if (performance.now() - t0 >= idleMs) return undefined;
    }
  }
}

async function probeFor(o: Options, ev: Extract<SeriesEvent, { kind: 'header' }>, ctx: StageContext): Promise<Complex2D> {
  const N = ev.header.N;
  const spec = o.probe ?? (ev.header.probe !== 'inline' ? ev.header.probe : undefined);
  if (spec !== undefined) {
    const { probe } = await loadProbeFile(spec, ctx.baseDir, ctx.id);
    if (probe.height !== N || probe.width !== N)
      throw new DataError('SHAPE_MISMATCH', `probe ${spec} is ${probe.height}×${probe.width}, the series has N=${N}`, { stage: ctx.id, key: 'probe' });
    return probe;
  }
  if (ev.probe !== undefined) return { height: N, width: N, re: ev.probe.re, im: ev.probe.im };
  throw new DataError('NO_PROBE', `series '${ev.header.series}' names no probe`, {
    stage: ctx.id,
    key: 'probe',
    hint: 'set the source option probe: FILE, or send the probe inline in the header',
  });
}

/** Receives until the series header: messages before it go through on_error. */
async function awaitHeader(sock: Sock, rx: SeriesReceiver, o: Options, ctx: StageContext): Promise<Extract<SeriesEvent, { kind: 'header' }>> {
  for (;;) {
    const parts = await receive(sock, o, o.idle_timeout_s * 1000, ctx.signal);
    if (parts === undefined) {
      throw new DataError('NO_HEADER', `no series header from ${o.endpoint} within ${o.idle_timeout_s} s`, {
        stage: ctx.id,
        key: 'endpoint',
        hint: 'start the sender (ptychoflow replay SCAN --endpoint …), check the endpoint, or raise idle_timeout_s',
      });
    }
    const ev = rx.feed(parts);
    if (ev.kind === 'header') return ev;
    if (ev.kind === 'bad') ctx.badRecord(o.on_error, new DataError(ev.error.code, ev.error.message, { stage: ctx.id, cause: ev.error }), ev.record);
    else if (ev.kind === 'end')
      throw new DataError('NO_HEADER', 'a series end arrived before any header', { stage: ctx.id, hint: 'start the receiver before the sender' });
  }
}

export default defineSource({
  kind: 'source',
  emits: 'frame',
  type: 'zmq',
  description: 'Frames of one live series over ZeroMQ (PULL or SUB), in arrival order (docs/formats.md, "Live stream"); opened once, no random access.',
  options: z
    .object({
      endpoint: z.string().min(1).describe('ZeroMQ endpoint, e.g. tcp://127.0.0.1:5555 (the sender binds; this source connects).'),
      socket: z
        .enum(['pull', 'sub'])
        .default('pull')
        .describe('pull: each frame to one receiver (the publisher waits for it); sub: subscribe to a PUB socket (drops when slow).'),
      topic: z.string().optional().describe('With socket: sub, the topic (first message part) to subscribe to (default: all).'),
      bind: z.boolean().default(false).describe('Bind the endpoint instead of connecting (when the sender connects).'),
      probe: z
        .string()
        .optional()
        .describe('Probe file (.npy, .npz, FILE.npz:KEY), relative to the pipeline file; overrides the probe the header names or carries.'),
      idle_timeout_s: z
        .number()
        .positive()
        .default(10)
        .describe('End the series (with a warning, keeping what arrived) after this long without a message; also how long to wait for the header.'),
      max_frames: z.number().int().positive().optional().describe('End the series after this many frames.'),
      rcvhwm: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe('Receive high-water mark: messages queued in this process at most (beyond it the sender waits, or a PUB drops).'),
      on_error: errorPolicy(
        'A malformed message (bad JSON, byte count, dtype, position, index, a frame before the header): fail, skip, or route to the errors output.',
      ),
    })
    .strict(),
  async create(o, { ctx }) {
    const sock = await openSocket(o);
    const rx = new SeriesReceiver();
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      sock.close();
      ctx.stats.info = { ...rx.summary() };
    };
    let scan: ScanMeta;
    try {
      const ev = await awaitHeader(sock, rx, o, ctx);
      const h = ev.header;
      const probe = await probeFor(o, ev, ctx);
      scan = {
        N: h.N,
        count: h.frames ?? 0,
        xcoords: new Float64Array(0),
        ycoords: new Float64Array(0),
        probe,
        origin: `zmq ${o.endpoint} series ${h.series}`,
        notes: { series: h.series },
      };
      ctx.log.info(`series '${h.series}': N=${h.N} ${h.dtype} ${h.values}${h.frames !== undefined ? `, ${h.frames} frames planned` : ''}`);
    } catch (e) {
      close();
      throw e;
    }
    let opened = false;
    const stream: Stream<Frame> = {
      meta: { record: 'frame', scan, live: true },
      open(signal) {
        if (opened)
          throw new StageError('LIVE_REOPENED', `stage '${ctx.id}': a live stream can be read once`, {
            stage: ctx.id,
            hint: 'put a `spill` stage after the live source for stages that read their input again (refine at the end of the series: pipelines/live.yaml)',
          });
        opened = true;
        return frames(sock, rx, o, ctx, signal, close);
      },
      close: async () => close(),
    };
    return stream;
  },
});

async function* frames(sock: Sock, rx: SeriesReceiver, o: Options, ctx: StageContext, signal: AbortSignal, close: () => void): AsyncGenerator<Frame> {
  let yielded = 0;
  try {
    for (;;) {
      if (o.max_frames !== undefined && yielded >= o.max_frames) {
        ctx.log.info(`max_frames = ${o.max_frames} reached: series ended here`);
        break;
      }
      const parts = await receive(sock, o, o.idle_timeout_s * 1000, signal);
      if (parts === undefined) {
        const c = rx.summary();
        ctx.log.warn(
          `no message for ${o.idle_timeout_s} s and no series end: ending with the ${c.received} frames that arrived (${c.dropped} missing below the highest index)`,
          { received: c.received },
        );
        break;
      }
      const ev = rx.feed(parts);
      if (ev.kind === 'frame') {
        // Every 64th frame: a detector sends thousands a second, and a progress line needs far fewer.
        if (++yielded % 64 === 0) ctx.progress({ label: 'receive', done: yielded, ...total(rx), unit: ' frames' });
        yield ev.frame;
      } else if (ev.kind === 'end') break;
      else if (ev.kind === 'bad') ctx.badRecord(o.on_error, new DataError(ev.error.code, ev.error.message, { stage: ctx.id, cause: ev.error }), ev.record);
    }
    const c = rx.summary();
    if (c.dropped + c.duplicated + c.out_of_order > 0)
      ctx.log.warn(`series: ${c.received} received, ${c.dropped} dropped, ${c.duplicated} duplicated, ${c.out_of_order} out of order`, { ...c });
    ctx.progress({ label: 'receive', done: yielded, ...total(rx), unit: ' frames', finished: true });
  } finally {
    close();
  }
}

const total = (rx: SeriesReceiver): { total?: number } => (rx.header?.frames !== undefined ? { total: rx.header.frames } : {});
