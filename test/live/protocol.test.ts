// The live protocol without sockets (header checks, pixel decoding, metres to
// pixels), the SUB socket with a topic over loopback, and the replay command's
// refusals.
import { PassThrough } from 'node:stream';
import test from 'ava';
import { replay } from '../../src/cli/replay.js';
import { main } from '../../src/cli/main.js';
import { decodePixels, HTYPE, jsonPart, readHeader } from '../../src/io/live-protocol.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import zmqSource from '../../src/sources/zmq.js';
import { SeriesReceiver } from '../../src/sources/zmq-series.js';
import { collectStream, testContext } from '../../src/testing/index.js';
import { syntheticScan } from '../transforms/helpers.js';
import { freePort } from './helpers.js';

test('header fields are checked by name; pixels decode from any dtype and byte order; counts are square-rooted', (t) => {
  t.like(readHeader({ series: 'a', N: 4, dtype: 'uint16' }), { byte_order: 'little', values: 'amplitude', position_units: 'pixels' });
  t.throws(() => readHeader({ series: 'a', N: 4, dtype: 'complex64' }), { code: 'BAD_DTYPE' });
  t.throws(() => readHeader({ series: 'a', N: 1, dtype: 'uint8' }), { code: 'BAD_HEADER', message: /N must be/ });
  t.throws(() => readHeader({ series: 'a', N: 4, dtype: 'uint8', position_units: 'm' }), { code: 'BAD_HEADER', message: /pixel_size_m/ });
  const be = Buffer.alloc(8);
  [0, 1, 4, 9].forEach((v, i) => be.writeUInt16BE(v, 2 * i));
  t.deepEqual([...decodePixels(be, 2, 'uint16', 'big', true, 3)], [0, 1, 2, 3]);
  const nan = Buffer.from(new Float32Array([1, NaN, 0, 0]).buffer);
  t.throws(() => decodePixels(nan, 2, 'float32', 'little', false, 8), { code: 'BAD_VALUES', message: /frame 8/ });
});

test('positions in metres are divided by the pixel size', (t) => {
  const rx = new SeriesReceiver();
  t.is(rx.feed([jsonPart({ htype: HTYPE.header, series: 's', N: 2, dtype: 'uint8', position_units: 'm', pixel_size_m: 1e-8 })]).kind, 'header');
  const ev = rx.feed([jsonPart({ htype: HTYPE.frame, series: 's', index: 0, x: 2.5e-7, y: -1e-7 }), Buffer.alloc(4, 1)]);
  t.is(ev.kind, 'frame');
  const f = (ev as { frame: Frame }).frame;
  t.true(Math.abs(f.x - 25) < 1e-9 && Math.abs(f.y + 10) < 1e-9);
});

test('SUB with a topic receives a PUB replay of the same series', async (t) => {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const src = syntheticScan(12, 4, 3);
  const sender = replay({ scan: src, endpoint, socket: 'pub', topic: 'det1', joinMs: 800, signal: AbortSignal.timeout(20_000) });
  const ctx = testContext({ id: 'scan' });
  const s = (await zmqSource.create(zmqSource.options.parse({ endpoint, socket: 'sub', topic: 'det1', idle_timeout_s: 5 }), {
    ctx,
    inputs: [],
  })) as Stream<Frame>;
  const got = await collectStream(s);
  t.is((await sender).sent, 12);
  t.deepEqual(
    got.map((f) => f.index),
    [...Array(12).keys()],
  );
  t.like(ctx.stats.info, { received: 12, dropped: 0 });
});

test('replay refuses a bad --drop and an unknown scan type with exit code 2', async (t) => {
  const io = (): { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; text: () => string } => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d: Buffer) => (text += d.toString()));
    return { stdout: new PassThrough() as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream, text: () => text };
  };
  const a = io();
  t.is(await main(['replay', 'scan.npz', '--endpoint', 'tcp://127.0.0.1:1', '--drop', '1.5'], a), 2);
  t.regex(a.text(), /--drop 1.5/);
  const b = io();
  t.is(await main(['replay', 'scan.txt', '--endpoint', 'tcp://127.0.0.1:1'], b), 2);
  t.regex(b.text(), /replay reads/);
});
