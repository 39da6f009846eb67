// A costly frame map (`cache`) is applied once per frame for random access:
// reads after the first come from the spilled pass, equal to the uncached
// reads; poisson's cache gives the very frames a new draw gives; close()
// removes the temp file; a failed pass is not cached.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { z } from 'zod';
import { DataError } from '../../src/errors.js';
import type { Frame, Stream } from '../../src/pipeline/types.js';
import { createStage } from '../../src/testing/index.js';
import { defineFrameMap } from '../../src/transforms/frame-map.js';
import poisson from '../../src/transforms/poisson.js';
import { syntheticScan } from './helpers.js';

// Spill directories go to os.tmpdir(), which follows TMPDIR: one of this file's own.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-cache-test-'));
process.env.TMPDIR = tmp;
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
const spillDirs = (): string[] => readdirSync(tmp).filter((n) => n.startsWith('ptychoflow-spill-'));

function counting(calls: { n: number }, failAt?: number, onError = false) {
  return defineFrameMap({
    type: 'plus-one',
    description: 'adds one, counting its calls',
    options: onError ? z.object({ cache: z.boolean(), on_error: z.enum(['fail', 'skip']) }).strict() : z.object({ cache: z.boolean() }).strict(),
    cache: (o) => o.cache,
    map(a, index) {
      calls.n++;
      if (index === failAt) throw new DataError('BAD_FRAME', `frame ${index}`);
      return a.map((v) => v + 1);
    },
  });
}

const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test.serial('cached: the map runs once per frame over any number of reads, and reads equal the uncached ones', async (t) => {
  const n = 12;
  const [plain, once] = [{ n: 0 }, { n: 0 }];
  const a = (await createStage(counting(plain), { cache: false }, [syntheticScan(n, 4)])) as Stream<Frame>;
  const b = (await createStage(counting(once), { cache: true }, [syntheticScan(n, 4)])) as Stream<Frame>;
  const before = spillDirs().length;
  for (let round = 0; round < 3; round++) {
    const ids = all(n).reverse();
    t.deepEqual(
      (await b.frames!.readMany(ids)).map((x) => Array.from(x)),
      (await a.frames!.readMany(ids)).map((x) => Array.from(x)),
    );
    t.deepEqual(Array.from(await b.frames!.read(round)), Array.from(await a.frames!.read(round)));
  }
  t.is(plain.n, 3 * (n + 1));
  t.is(once.n, n);
  t.is(spillDirs().length, before + 1);
  await b.close!();
  t.is(spillDirs().length, before);
});

test('cached: a pass that fails is not kept; with the frame dropped (skip) it is an exclusion', async (t) => {
  const calls = { n: 0 };
  const s = (await createStage(counting(calls, 3), { cache: true }, [syntheticScan(6, 4)])) as Stream<Frame>;
  await t.throwsAsync(s.frames!.read(0), { instanceOf: DataError, message: /frame 3/ });
  await t.throwsAsync(s.frames!.read(0), { instanceOf: DataError, message: /frame 3/ });
  await s.close!();
  const k = (await createStage(counting(calls, 3, true), { cache: true, on_error: 'skip' }, [syntheticScan(6, 4)])) as Stream<Frame>;
  t.deepEqual([...(await k.frames!.excluded!(new AbortController().signal))], [3]);
  await k.close!();
});

test('poisson: the cached frames are those a fresh draw gives', async (t) => {
  const scan = (): Stream<Frame> => syntheticScan(10, 8);
  const cached = (await createStage(poisson, { dose: 50, seed: 3 }, [scan()])) as Stream<Frame>;
  const fresh = (await createStage(poisson, { dose: 50, seed: 3, cache: false }, [scan()])) as Stream<Frame>;
  const ids = [7, 2, 9, 0];
  t.deepEqual(
    (await cached.frames!.readMany(ids)).map((x) => Array.from(x)),
    (await fresh.frames!.readMany(ids)).map((x) => Array.from(x)),
  );
  const streamed: Frame[] = [];
  for await (const f of cached.open(new AbortController().signal)) streamed.push(f);
  t.deepEqual(Array.from(streamed[7]!.amplitude), Array.from(await cached.frames!.read(7)));
  await cached.close!();
});
