// The `scale-tile` transform, which the job system puts in front of every
// `group` stage of a tile shard (it is not a built-in: only the worker's
// registry has it). It passes on the frames of the positions its tile reads
// and declares the others excluded (FrameAccess.excluded), so group plans its
// groups from the tile's positions only, through the capability group already
// honours. The scan metadata stays whole: every tile's canvas has the
// placement of the whole scan, which is what makes tile results merge.
import { z } from 'zod';
import { OptionsError } from '../errors.js';
import { defineTransform, type Frame, type FrameAccess, type Stream } from '../pipeline/types.js';
import { tileGeometry } from './tiles.js';

export const TILE_STAGE = 'scale-tile';

export default defineTransform({
  kind: 'transform',
  accepts: [['frame']],
  emits: 'same',
  type: TILE_STAGE,
  description: 'Keeps the frames of one spatial tile (its core plus a margin) and declares the others excluded.',
  options: z
    .object({
      index: z.number().int().min(0).describe('Tile number, row-major over the kx × ky grid.'),
      kx: z.number().int().min(1).describe('Tiles along x.'),
      ky: z.number().int().min(1).describe('Tiles along y.'),
      margin: z.number().min(0).optional().describe('Pixels of positions read beyond the core (default N).'),
    })
    .strict(),
  async create(o, { ctx, inputs }) {
    const input = inputs[0] as Stream<Frame> | undefined;
    const scan = input?.meta.scan;
    if (input === undefined || scan === undefined)
      throw new OptionsError('NO_SCAN_META', `stage '${ctx.id}': a tile needs the scan's positions`, {
        stage: ctx.id,
        hint: 'tile shards need a source that describes its scan',
      });
    const g = tileGeometry(scan.xcoords, scan.ycoords, scan.N, { index: o.index, kx: o.kx, ky: o.ky, ...(o.margin !== undefined ? { margin: o.margin } : {}) });
    ctx.log.info(
      `tile ${o.index} of ${o.kx}×${o.ky}: core x [${g.x0}, ${g.x1}) y [${g.y0}, ${g.y1}), ${g.keptCount} of ${scan.count} positions (margin ${g.margin})`,
    );
    const outside = new Set<number>();
    for (let j = 0; j < g.kept.length; j++) if (g.kept[j] === 0) outside.add(j);
    const src = input.frames;
    const frames: FrameAccess | undefined =
      src === undefined
        ? undefined
        : {
            count: src.count,
            N: src.N,
            read: (i) => src.read(i),
            readMany: (is) => src.readMany(is),
            ...(src.readInto !== undefined ? { readInto: src.readInto.bind(src) } : {}),
            ...(src.linear !== undefined ? { linear: src.linear } : {}),
            excluded: async (signal) => new Set([...((await src.excluded?.(signal)) ?? []), ...outside]),
          };
    const stream: Stream<Frame> = {
      meta: input.meta.count === undefined ? input.meta : { ...input.meta, count: g.keptCount },
      ...(frames !== undefined ? { frames } : {}),
      open: (signal) =>
        (async function* () {
          for await (const f of input.open(signal)) if (g.kept[f.index] === 1) yield f;
        })(),
    };
    return stream;
  },
});
