// Every built-in source runs the stage-compliance suite from
// `ptychoflow/testing` (early exit and re-open, abort, close twice, no tensor
// left, same seed same records, on_error on a file with bad patterns), over
// the small fixtures in test/fixtures or a manifest written to a temp dir;
// the zmq source over a series each instance gets from its own sender on
// 127.0.0.1 (a free port; a live stream is one pass, so a second open must
// be refused instead of re-read).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { z } from 'zod';
import { builtinComponents } from '../../src/components.js';
import { encodeNpy } from '../../src/io/npy.js';
import hdf5 from '../../src/sources/hdf5.js';
import json from '../../src/sources/json.js';
import npz from '../../src/sources/npz.js';
import simulate from '../../src/sources/simulate.js';
import zmqSource from '../../src/sources/zmq.js';
import * as zmq from 'zeromq';
import { float32Payload, HTYPE, jsonPart, probePayload } from '../../src/io/live-protocol.js';
import type { ComponentDef } from '../../src/pipeline/types.js';
import { freePort } from '../live/helpers.js';
import { checkCompliance, type ComplianceCase } from '../../src/testing/index.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures');
const none = (): [] => [];
const frameKey = (r: unknown): unknown => {
  const f = r as { index: number; x: number; y: number; amplitude: Float32Array };
  return [f.index, f.x, f.y, Array.from(f.amplitude.subarray(0, 8))];
};

/** A JSON manifest of 6 frames (one of them NaN when `bad`) in `dir`. */
async function manifest(dir: string, name: string, bad: boolean): Promise<string> {
  const N = 4;
  const frames = [];
  for (let i = 0; i < 6; i++) {
    const a = new Float32Array(N * N).fill(1 + i);
    if (bad && i === 2) a[3] = Number.NaN;
    await writeFile(path.join(dir, `${name}-${i}.npy`), encodeNpy({ shape: [N, N], data: a }));
    frames.push({ file: `${name}-${i}.npy`, x: 10 + i, y: 10 });
  }
  await writeFile(path.join(dir, `${name}-probe.npy`), encodeNpy({ shape: [N, N], data: new Float32Array(N * N).fill(1) }));
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ N, probe: `${name}-probe.npy`, frames }));
  return `${name}.json`;
}

/** A series of 6 frames (frame 2 with a NaN when `bad`), sent once over PUSH on `endpoint`. */
async function sendSeries(endpoint: string, bad: boolean): Promise<void> {
  const N = 4,
    series = 'compliance';
  const sock = new zmq.Push();
  sock.linger = 1000;
  await sock.bind(endpoint);
  try {
    await sock.send([
      jsonPart({ htype: HTYPE.header, series, N, dtype: 'float32', frames: 6, probe: 'inline' }),
      probePayload(new Float32Array(N * N).fill(1), new Float32Array(N * N)),
    ]);
    for (let i = 0; i < 6; i++) {
      const a = new Float32Array(N * N).fill(1 + i);
      if (bad && i === 2) a[3] = Number.NaN;
      await sock.send([jsonPart({ htype: HTYPE.frame, series, index: i, x: 10 + i, y: 10 }), float32Payload(a)]);
    }
    await sock.send([jsonPart({ htype: HTYPE.end, series, frames: 6 })]);
  } finally {
    sock.close();
  }
}

/** The zmq source with a fresh sender per instance (options.bad picks the series with a NaN frame). */
const senders: Promise<void>[] = [];
const zmqWithSender: ComponentDef = {
  ...(zmqSource as ComponentDef),
  async create(options: unknown, deps: Parameters<ComponentDef['create']>[1]) {
    const { bad, ...o } = options as { bad?: boolean } & Record<string, unknown>;
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    senders.push(sendSeries(endpoint, bad === true));
    return (zmqSource as ComponentDef).create({ ...o, endpoint }, deps);
  },
} as ComponentDef;

test('every built-in source passes the stage-compliance suite', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ptychoflow-source-compliance-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = await manifest(dir, 'good', false);
  const bad = await manifest(dir, 'bad', true);
  const cases: ComplianceCase[] = [
    {
      def: npz,
      options: { path: path.join(fixtures, 'npz/canonical_stored.npz') },
      inputs: none,
      key: frameKey,
      bad: { inputs: none, options: { path: path.join(fixtures, 'npz/bad_nan_frames.npz') }, kept: 34 },
    },
    {
      def: hdf5,
      options: { path: path.join(fixtures, 'hdf5/canonical.h5') },
      inputs: none,
      key: frameKey,
      bad: { inputs: none, options: { path: path.join(fixtures, 'hdf5/bad_nan.h5') }, kept: 11 },
    },
    { def: json, options: { path: path.join(dir, good) }, inputs: none, key: frameKey, bad: { inputs: none, options: { path: path.join(dir, bad) }, kept: 5 } },
    {
      def: { ...zmqWithSender, options: (zmqSource as ComponentDef).options.and(z.object({ bad: z.boolean().optional() })) },
      options: { endpoint: 'tcp://127.0.0.1:1', idle_timeout_s: 5 },
      inputs: none,
      key: frameKey,
      bad: { inputs: none, options: { bad: true }, kept: 5 },
    },
    { def: simulate, options: { N: 16, object: { kind: 'image', size: 40 }, scan: { step: 6 }, noise: 'none' }, inputs: none, key: frameKey },
  ];
  const covered = new Set(cases.map((c) => c.def.type));
  for (const def of builtinComponents) if (def.kind === 'source') t.true(covered.has(def.type), `${def.type} runs the suite`);
  for (const c of cases) t.deepEqual(await checkCompliance(c), [], c.def.type);
  await Promise.all(senders);
});
