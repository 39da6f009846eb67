// The zmq source and malformed messages: each kind is a typed error naming the
// frame index (or the message number when no index can be read); under
// on_error: route they are counted and routed and the good frames go on;
// under fail the first one ends the series with its error. A hand-written
// sender on 127.0.0.1 (free port), every wait bounded; duplicates and
// reordering are counted, not errors.
import test from 'ava';
import * as zmq from 'zeromq';
import { float32Payload, HTYPE, jsonPart, probePayload } from '../../src/io/live-protocol.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import zmqSource from '../../src/sources/zmq.js';
import { collectStream, testContext } from '../../src/testing/index.js';
import { freePort } from './helpers.js';

const N = 4;
const series = 's1';
const pixels = (v: number): Buffer => float32Payload(new Float32Array(N * N).fill(v));
const frame = (index: number, extra: Record<string, unknown> = {}, payload = pixels(index + 1)): Buffer[] => [
  jsonPart({ htype: HTYPE.frame, series, index, x: 10 + index, y: 5, ...extra }),
  payload,
];

/** The messages: one of each malformed kind among good frames, a duplicate and a late frame. */
function messages(): Buffer[][] {
  return [
    frame(0), // before the header: NO_HEADER, frame 0
    [
      jsonPart({ htype: HTYPE.header, series, N, dtype: 'float32', frames: 8, probe: 'inline' }),
      probePayload(new Float32Array(N * N).fill(1), new Float32Array(N * N)),
    ],
    frame(1),
    [Buffer.from('{"htype": "ptycho-frame-1", "index": 2'), pixels(2)], // BAD_JSON, message 3
    frame(3, {}, Buffer.alloc(10)), // BAD_FRAME_SIZE, frame 3
    frame(4, { dtype: 'complex128' }), // BAD_DTYPE, frame 4
    frame(5, { x: 'left' }), // BAD_POSITION, frame 5
    frame(7),
    frame(6), // out of order
    frame(7), // duplicated
    [jsonPart({ htype: HTYPE.end, series, frames: 8 })],
  ];
}

async function send(endpoint: string, list = messages()): Promise<void> {
  const sock = new zmq.Push();
  sock.linger = 2000;
  await sock.bind(endpoint);
  try {
    for (const m of list) await sock.send(m);
  } finally {
    sock.close();
  }
}

test('malformed messages are routed with typed errors naming the frame; good frames, duplicates and reordering are counted', async (t) => {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const ctx = testContext({ id: 'scan' });
  const sender = send(endpoint);
  const s = (await zmqSource.create(zmqSource.options.parse({ endpoint, idle_timeout_s: 5, on_error: 'route' }), { ctx, inputs: [] })) as Stream<Frame>;
  const got = await collectStream(s);
  await sender;
  t.deepEqual(
    got.map((f) => f.index),
    [1, 7, 6],
  );
  t.is(got[0]!.x, 11);
  t.deepEqual(
    ctx.stats.routed.map((r) => [r.code, r.record]),
    [
      ['NO_HEADER', 0],
      ['BAD_JSON', 'message 4'],
      ['BAD_FRAME_SIZE', 3],
      ['BAD_DTYPE', 4],
      ['BAD_POSITION', 5],
    ],
  );
  for (const r of ctx.stats.routed) t.true(r.message.includes(typeof r.record === 'number' ? `frame ${r.record}` : String(r.record)), r.message);
  t.like(ctx.stats.info, { received: 3, duplicated: 1, out_of_order: 1, bad: 5, declared: 8, dropped: 5 });
  t.throws(() => s.open(new AbortController().signal), { code: 'LIVE_REOPENED' });
});

test('under on_error: fail the first malformed frame ends the series with its typed error; no header at all is refused in time', async (t) => {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const sender = send(endpoint);
  const e = await t.throwsAsync(zmqSource.create(zmqSource.options.parse({ endpoint, idle_timeout_s: 5 }), { ctx: testContext({ id: 'scan' }), inputs: [] }));
  t.is((e as { code?: string }).code, 'NO_HEADER');
  t.regex(e.message, /frame 0/);
  await sender.catch(() => undefined);
  // After the header: the frame with the wrong byte count ends the pass, after the good frame before it.
  const later = `tcp://127.0.0.1:${await freePort()}`;
  const sent = send(
    later,
    messages().filter((_, i) => i !== 0 && i !== 3),
  );
  const s = (await zmqSource.create(zmqSource.options.parse({ endpoint: later, idle_timeout_s: 5 }), {
    ctx: testContext({ id: 'scan' }),
    inputs: [],
  })) as Stream<Frame>;
  const seen: number[] = [];
  const err = await t.throwsAsync(async () => {
    for await (const f of s.open(new AbortController().signal)) seen.push(f.index);
  });
  t.is((err as { code?: string }).code, 'BAD_FRAME_SIZE');
  t.regex(err.message, /frame 3/);
  t.deepEqual(seen, [1]);
  await sent.catch(() => undefined);
  const quiet = `tcp://127.0.0.1:${await freePort()}`;
  const t0 = performance.now();
  await t.throwsAsync(zmqSource.create(zmqSource.options.parse({ endpoint: quiet, idle_timeout_s: 0.3 }), { ctx: testContext({ id: 'scan' }), inputs: [] }), {
    code: 'NO_HEADER',
  });
  t.true(performance.now() - t0 < 3000);
});
