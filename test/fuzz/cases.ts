// The fuzz cases shared by the property test (test/fuzz/fuzz.test.ts) and the
// long-run script (scripts/fuzz.ts): fast-check arbitraries that mutate valid
// NPY headers, zip/NPZ archives and pipeline documents, and a runner that
// feeds one case to the real readers and classifies what happened. The
// contract: a typed error (PtychoflowError) or success; anything else is a
// finding, and so is a case that runs past its time limit.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { builtinRegistry } from '../../src/components.js';
import { PtychoflowError } from '../../src/errors.js';
import { decodeNpy, encodeNpy, encodeNpyHeader, parseNpyHeader } from '../../src/io/npy.js';
import { openNpz } from '../../src/io/npz.js';
import { loadPlan } from '../../src/pipeline/index.js';
import { buildZip } from './zip-builder.js';

export type Kind = 'npy' | 'zip' | 'pipeline';
export type Outcome = 'ok' | 'typed' | 'untyped' | 'hang';

/** A byte-level mutation: overwrite, insert, delete, truncate, or plant an extreme 32-bit value. */
type Mutation = { op: 'set' | 'insert' | 'delete' | 'truncate' | 'u32'; at: number; value: number };

const EXTREMES = [0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 65535, 10001, 4096];

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom<Mutation['op']>('set', 'set', 'insert', 'delete', 'truncate', 'u32', 'u32'),
  at: fc.nat(),
  value: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(...EXTREMES)),
});

/** Applies mutations to a copy of `bytes` (`at` taken modulo the current length). */
export function mutate(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.op === 'set') b[at] = m.value & 0xff;
    else if (m.op === 'insert') b = Uint8Array.from([...b.subarray(0, at), m.value & 0xff, ...b.subarray(at)]);
    else if (m.op === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
    else if (m.op === 'truncate') b = b.subarray(0, at);
    else if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(at, m.value >>> 0, true);
  }
  return b;
}

const descr = fc.constantFrom('<f4', '<f8', '>f4', '<i2', '|u1', '<c8', '|b1', '<u8', '<f2');
const shape = fc.array(fc.nat({ max: 6 }), { maxLength: 3 });

/** A valid NPY header (with a little data) under a few byte mutations. */
export const npyCase = fc
  .record({ descr, shape, version: fc.constantFrom<1 | 2 | 3>(1, 2, 3), ms: fc.array(mutation, { maxLength: 4 }) })
  .map(({ descr: d, shape: s, version, ms }) => {
    const head = encodeNpyHeader({ descr: d, shape: s, version });
    const body = new Uint8Array(Math.min(64, s.reduce((a, x) => a * x, 1) * 16));
    const bytes = new Uint8Array(head.length + body.length);
    bytes.set(head);
    return mutate(bytes, ms);
  });

/** An NPZ of one to three small arrays (stored or deflated) under mutations, mostly in its directory. */
export const zipCase = fc
  .record({
    entries: fc.array(fc.record({ n: fc.nat({ max: 40 }), deflate: fc.boolean(), name: fc.constantFrom('diffraction', 'xcoords', 'a', 'b/c', '../x') }), {
      minLength: 1,
      maxLength: 3,
    }),
    ms: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    tailBias: fc.boolean(),
  })
  .map(({ entries, ms, tailBias }) => {
    const zip = buildZip(
      entries.map((e, k) => ({
        name: `${e.name}${k}.npy`,
        data: encodeNpy({ shape: [e.n], data: Float32Array.from({ length: e.n }, (_, i) => i) }),
        deflate: e.deflate,
      })),
    );
    // Half the cases aim their mutations at the central directory and end record (the last ~150 bytes).
    const aimed = tailBias ? ms.map((m) => ({ ...m, at: zip.length - 1 - (m.at % Math.min(zip.length, 160)) })) : ms;
    return mutate(zip, aimed);
  });

const BASE_PIPELINE = `seed: 7
backend: cpu
output: out
memory: { tensor_bytes: 100000000 }
sources:
  scan: { type: simulate, N: 16, object: { kind: image, size: 48 }, scan: { step: 4 } }
transforms:
  norm: { type: normalize, inputs: [scan] }
  groups: { type: group, inputs: [norm], gridsize: 1 }
  batches: { type: batch, inputs: [groups], batch_size: 8 }
sinks:
  out: { type: write-npz, inputs: [norm], path: scan.npz }
`;

const yamlNoise = fc.constantFrom(
  '\n',
  ': ',
  '- ',
  '[',
  ']',
  '{',
  '}',
  '&a ',
  '*a',
  '!!str ',
  '"',
  "'",
  '#',
  '..',
  '/etc/passwd',
  '1e400',
  '-1',
  'null',
  'inputs: [scan]',
  'type: nope',
  '\t',
  '<<: *a',
);

/** The base pipeline text under character edits, YAML noise, alias fans and deep nesting. */
export const pipelineCase = fc.oneof(
  fc.array(fc.record({ at: fc.nat(), del: fc.nat({ max: 3 }), ins: yamlNoise }), { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = BASE_PIPELINE;
    for (const e of edits) {
      const at = e.at % (s.length + 1);
      s = s.slice(0, at) + e.ins + s.slice(at + e.del);
    }
    return s;
  }),
  fc.nat({ max: 200 }).map((n) => `${BASE_PIPELINE}description: &a [x, y]\nx_fan: [${Array.from({ length: n }, () => '*a').join(', ')}]\n`),
  fc.nat({ max: 3000 }).map((depth) => `${BASE_PIPELINE}description: ${'['.repeat(depth)}${']'.repeat(depth)}\n`),
);

let registry: ReturnType<typeof builtinRegistry> | undefined;

/** Runs one case against the real readers; throws whatever they throw. */
async function exercise(kind: Kind, input: Uint8Array | string, dir: string, k: number): Promise<void> {
  if (kind === 'npy') {
    const bytes = input as Uint8Array;
    parseNpyHeader(bytes);
    decodeNpy(bytes);
    return;
  }
  if (kind === 'zip') {
    const file = path.join(dir, `case-${k}.npz`);
    await writeFile(file, input as Uint8Array);
    const npz = await openNpz(file, { tmpDir: dir });
    try {
      for (const name of npz.entries()) {
        try {
          npz.header(name);
          await npz.readArray(name);
          for await (const chunk of npz.chunks(name, 64)) void chunk;
        } catch (e) {
          if (!(e instanceof PtychoflowError)) throw e;
        }
      }
    } finally {
      await npz.close();
    }
    return;
  }
  await loadPlan(path.join(dir, 'fuzz.yaml'), { registry: (registry ??= builtinRegistry()), text: input as string });
}

/** Runs one case with a time limit and classifies it; `detail` describes a finding. */
export async function runCase(kind: Kind, input: Uint8Array | string, dir: string, k: number, limitMs: number): Promise<{ outcome: Outcome; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), limitMs)));
  try {
    const r = await Promise.race([exercise(kind, input, dir, k).then(() => 'ok' as const), hang]);
    return r === 'hang' ? { outcome: 'hang', detail: `${kind} case ${k} ran past ${limitMs} ms` } : { outcome: 'ok' };
  } catch (e) {
    if (e instanceof PtychoflowError) return { outcome: 'typed' };
    return { outcome: 'untyped', detail: `${kind} case ${k}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`.slice(0, 300) };
  } finally {
    clearTimeout(timer);
  }
}
