// The `split` transform: train / validation / test parts of a stream. By
// fraction: with random access to groups (Stream.groups) the parts are an exact
// seeded partition of the group indices, each part keeping index order and
// offering its own GroupIndex (so shuffle after split stays free); otherwise
// each record goes to a part by a uniform number derived from (seed, record
// index). Spatially: records whose coordinate (group centre or frame position)
// on `axis` is below `threshold` are train, the others test, as the reference
// splits fly64 into top and bottom halves. The main stream is the train part;
// all three are in `outputs` (`id.train`, `id.validation`, `id.test`).
import { z } from 'zod';
import { OptionsError } from '../errors.js';
import type { Stream, StreamMeta } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { Rng } from '../util/rng.js';
import { defaultReadWindow, requireInput, streamGroups, type GroupIndex } from './util.js';
import { stageSeed } from '../core/options.js';

export const PARTS = ['train', 'validation', 'test'] as const;
export type Part = (typeof PARTS)[number];

interface Fractions {
  train: number;
  validation: number;
  test: number;
}

/** Exact partition of 0..count-1 by fractions (seeded), each part ascending. */
export function partitionIndices(count: number, f: Fractions, seed: number): Record<Part, Int32Array> {
  const perm = Rng.derive(seed, 'split').permutation(count);
  const nTrain = Math.round(f.train * count);
  const nVal = Math.min(count - nTrain, Math.round(f.validation * count));
  const part = (a: number, b: number): Int32Array => perm.slice(a, b).sort();
  return { train: part(0, nTrain), validation: part(nTrain, nTrain + nVal), test: part(nTrain + nVal, count) };
}

/** The part of a record by a uniform number derived from its index. */
export function partOfIndex(index: number, f: Fractions, seed: number): Part {
  const u = Rng.derive(seed, 'split', index).uniform();
  return u < f.train ? 'train' : u < f.train + f.validation ? 'validation' : 'test';
}

/** Whole scans to parts (a seeded partition of the scan numbers) and the part of a frame or group record. */
function scanParts(meta: StreamMeta, f: Fractions, seed: number): { scans: Part[]; of(r: unknown): Part } {
  const perFrame = meta.scan?.scanIndex;
  let n = 1;
  if (perFrame !== undefined) for (const k of perFrame) n = Math.max(n, k + 1);
  const scans: Part[] = new Array<Part>(n);
  const sets = partitionIndices(n, f, seed);
  for (const p of PARTS) for (const k of sets[p]) scans[k] = p;
  const of = (r: unknown): Part => {
    const rec = r as { scanIndex?: number; indices?: Int32Array };
    // A group's scan is its members' (group never mixes scans); a frame says its own.
    const k = rec.scanIndex ?? (rec.indices !== undefined && perFrame !== undefined ? perFrame[rec.indices[0]!] : 0) ?? 0;
    return scans[k] ?? 'train';
  };
  return { scans, of };
}

function coordinate(r: unknown, axis: 'x' | 'y'): number {
  const rec = r as { center?: readonly [number, number]; x?: number; y?: number };
  if (rec.center !== undefined) return axis === 'x' ? rec.center[0] : rec.center[1];
  const v = axis === 'x' ? rec.x : rec.y;
  return typeof v === 'number' ? v : NaN;
}

const fractionsSchema = z
  .object({
    train: z.number().min(0).max(1).describe('Fraction for training.'),
    validation: z.number().min(0).max(1).default(0).describe('Fraction for validation.'),
    test: z.number().min(0).max(1).default(0).describe('Fraction for testing.'),
  })
  .strict();

export default defineTransform({
  kind: 'transform',
  accepts: [['frame', 'group']],
  emits: 'same',
  type: 'split',
  description: 'Splits a stream into train/validation/test parts by seeded fractions or by a coordinate threshold.',
  options: z
    .object({
      fractions: fractionsSchema.optional().describe('Part fractions, summing to 1 (default train 0.8, validation 0.1, test 0.1).'),
      fraction: z.number().gt(0).lt(1).optional().describe('Shorthand: this fraction for train, the rest for test.'),
      axis: z.enum(['x', 'y']).optional().describe('Spatial split: the coordinate compared with `threshold` (below: train, else test).'),
      threshold: z.number().optional().describe('Spatial split threshold in object pixels (needs `axis`).'),
      by: z
        .enum(['record', 'scan'])
        .default('record')
        .describe(
          "'record': each group or frame goes to a part on its own; 'scan': whole scans are partitioned by the fractions (seeded), so a held-out scan is never seen in training.",
        ),
      seed: stageSeed(),
    })
    .strict()
    .refine((o) => !(o.fractions !== undefined && o.fraction !== undefined), { message: 'give either `fractions` or `fraction`, not both' })
    .refine((o) => (o.axis === undefined) === (o.threshold === undefined), { message: '`axis` and `threshold` go together (spatial split)' })
    .refine((o) => o.axis === undefined || (o.fractions === undefined && o.fraction === undefined), {
      message: 'a spatial split (`axis`, `threshold`) takes no fractions',
    })
    .refine((o) => o.axis === undefined || o.by === 'record', { message: 'a spatial split (`axis`, `threshold`) cannot also split `by: scan`' })
    .refine((o) => o.fractions === undefined || Math.abs(o.fractions.train + o.fractions.validation + o.fractions.test - 1) < 1e-6, {
      message: 'fractions must sum to 1',
    }),
  async create(o, { ctx, inputs }) {
    const input = requireInput<unknown>(ctx, inputs, 'split', ['frame', 'group']);
    const seed = o.seed ?? ctx.seed;
    const f: Fractions =
      o.fractions ?? (o.fraction !== undefined ? { train: o.fraction, validation: 0, test: 1 - o.fraction } : { train: 0.8, validation: 0.1, test: 0.1 });
    const index = o.axis === undefined && o.by === 'record' ? input.groups : undefined;
    const scanPart = o.by === 'scan' ? scanParts(input.meta, f, seed) : undefined;
    if (scanPart !== undefined)
      ctx.log.info(
        `split ${scanPart.scans.length} scans: ${PARTS.map((p) => `${p} [${scanPart.scans.flatMap((q, k) => (q === p ? [k] : [])).join(', ')}]`).join(', ')}`,
      );
    const parts = {} as Record<Part, Stream<unknown>>;

    if (index !== undefined) {
      const sets = partitionIndices(index.count, f, seed);
      for (const p of PARTS) {
        const ids = sets[p];
        const sub: GroupIndex = {
          count: ids.length,
          groupBytes: index.groupBytes,
          get: (i) => index.get(ids[i]!),
          getMany: (is) => index.getMany(is.map((i) => ids[i]!)),
        };
        parts[p] = {
          meta: { ...input.meta, count: ids.length },
          groups: sub,
          open: (signal: AbortSignal) => streamGroups(sub, ids.length, (k) => k, defaultReadWindow(sub.groupBytes), signal),
        };
      }
      ctx.log.info(`split ${index.count} groups: ${PARTS.map((p) => `${p} ${sets[p].length}`).join(', ')}`);
    } else {
      const axis = o.axis;
      const threshold = o.threshold ?? 0;
      const choose = (r: unknown): Part => {
        if (axis !== undefined) return coordinate(r, axis) < threshold ? 'train' : 'test';
        if (scanPart !== undefined) return scanPart.of(r);
        const i = (r as { index?: unknown }).index;
        if (typeof i !== 'number') throw new OptionsError('NO_INDEX', 'split by fraction needs records with an `index`', { stage: ctx.id });
        return partOfIndex(i, f, seed);
      };
      for (const p of PARTS) {
        const { count: _count, ...meta } = input.meta;
        parts[p] = {
          meta,
          open(signal: AbortSignal): AsyncIterable<unknown> {
            return (async function* () {
              for await (const r of input.open(signal)) {
                signal.throwIfAborted();
                if (choose(r) === p) yield r;
              }
            })();
          },
        };
      }
    }
    const train = parts.train;
    return {
      meta: train.meta,
      ...(train.groups === undefined ? {} : { groups: train.groups }),
      open: (signal: AbortSignal) => train.open(signal),
      outputs: parts,
    };
  },
});
