// The `group` transform (SPEC §4): turns a scan into groups of C = gridsize²
// neighbouring patterns (which positions: group-plan.ts; reading them into
// pooled windows: group-index.ts). Only positions are needed up front. Member
// frames are read by index through the input's typed capability
// (`Stream.frames`) when it offers one; otherwise the input is read once into
// a spill file (frame-spill.ts) and read from there, so a frame transform
// that offers no random access is composed, never bypassed. Positions whose
// frames the input does not yield (FrameAccess.excluded: a source's on_error
// skip/route, or frames a transform filtered out) are left out of the plan.
// The output offers its GroupIndex (`Stream.groups`) so shuffle and split can
// work on indices without iterating.
//
// Where later modes plug in: `framesFor` is the one place that decides how
// frames are reached (a bounded-window mode for live streams replaces it and
// the plan with a streaming grouper); a spatial shard or a per-scan partition
// narrows the positions handed to GroupPlan (its `exclude`, or a candidate
// filter on scanIndex inside GroupPlan.candidates).
import { z } from 'zod';
import { DataError, OptionsError } from '../errors.js';
import type { Frame, FrameAccess, Group, StageContext, Stream } from '../pipeline/types.js';
import { defineTransform } from '../pipeline/types.js';
import { SpilledFrames } from './frame-spill.js';
import { groupIndex } from './group-index.js';
import { GroupPlan } from './group-plan.js';
import { windowedGroups, WindowGrouper, type WindowOptions } from './group-window.js';
import { defaultReadWindow, READ_AHEAD, requireInput, streamGroups } from './util.js';
import { stageSeed } from '../core/options.js';

export { GroupPlan, interleave, interleaveInto, type GroupPlanOptions } from './group-plan.js';
export { groupIndex } from './group-index.js';

/** The frames group reads and the positions it plans with. */
interface GroupFrames {
  readonly access: FrameAccess;
  readonly xs: Float64Array;
  readonly ys: Float64Array;
  readonly exclude: ReadonlySet<number>;
  /** Scan of each position, when the stream holds several scans (groups never mix them). */
  readonly scanIndex?: Int32Array | undefined;
  /** How they were reached, for the log. */
  readonly via: 'random access' | 'spill file';
  close(): Promise<void>;
}

/** Random access through the input's capability, or a spill of one pass when it has none. */
async function framesFor(input: Stream<Frame>, ctx: StageContext): Promise<GroupFrames> {
  const scan = input.meta.scan;
  if (input.frames !== undefined && scan !== undefined) {
    const exclude = (await input.frames.excluded?.(ctx.signal)) ?? new Set<number>();
    return { access: input.frames, xs: scan.xcoords, ys: scan.ycoords, exclude, scanIndex: scan.scanIndex, via: 'random access', close: async () => undefined };
  }
  const pass = input.openBorrowed?.(ctx.signal) ?? input.open(ctx.signal);
  const spilled = await SpilledFrames.write(pass, { N: scan?.N, count: scan?.count }, ctx.id);
  try {
    // The spill keeps positions by frame index, so the scan's per-frame scan numbers still apply.
    const scanIndex = scan?.scanIndex?.length === spilled.xs.length ? scan.scanIndex : undefined;
    return { access: spilled, xs: spilled.xs, ys: spilled.ys, exclude: await spilled.excluded(), scanIndex, via: 'spill file', close: () => spilled.close() };
  } catch (e) {
    await spilled.close();
    throw e;
  }
}

export default defineTransform({
  kind: 'transform',
  accepts: [['frame']],
  emits: 'group',
  type: 'group',
  description:
    'Groups each seed position with C = gridsize² of its K nearest neighbours; frames read by index (spilled to a temp file when the input offers no random access).',
  options: z
    .object({
      gridsize: z.number().int().min(1).max(8).default(1).describe('Groups hold gridsize² neighbouring patterns (1: one pattern per group).'),
      k: z.number().int().min(1).default(7).describe('Neighbour pool size: members are drawn from the seed’s K nearest positions (the seed included).'),
      n_groups: z.number().int().positive().optional().describe('Number of groups (default: one per position).'),
      oversample: z.boolean().default(false).describe('Allow more groups than positions (seeds reused); otherwise seeds are drawn without replacement.'),
      seed: stageSeed(),
      cache_frames: z
        .number()
        .int()
        .min(1)
        .default(256)
        .describe(
          'Frames kept in the read cache (neighbouring groups share frames); at least the frames of the windows read ahead. Its memory, N²·4 bytes per frame, is allocated once.',
        ),
      read_window: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe(
          'Groups whose frames are read together (one read per run of consecutive frames); the next two windows are read while this one is consumed. Default: as many groups as fill 2 MiB (4 to 64), so the data in flight does not grow with N.',
        ),
      window: z
        .union([z.number().int().min(2), z.object({ frames: z.number().int().min(2).optional(), seconds: z.number().positive().optional() }).strict()])
        .optional()
        .describe(
          'On an input without random access: group in a window of this many recent frames instead of spilling the whole stream (each frame seeds one group, decided window/2 frames after it arrives; memory: window frames). A live input uses 512 when unset. {frames: W, seconds: S} adds a time bound: a seed is also decided S/2 s after it arrived and a frame also leaves after S s, whichever comes first (checked as frames arrive, so the groups follow from the arrival order and times; frames still bound the memory, 512 when unset). Ignored with random access.',
        ),
    })
    .strict(),
  async create(o, { ctx, inputs }) {
    const input = requireInput<Frame>(ctx, inputs, 'group', ['frame']);
    if (input.frames === undefined && (o.window !== undefined || input.meta.live === true)) return windowedGroupStream(o, input, ctx);
    const frames = await framesFor(input, ctx);
    try {
      const { plan, index, window } = planGroups(o, frames, ctx);
      const stream: Stream<Group> = {
        meta: { ...input.meta, record: 'group', count: plan.count, gridsize: o.gridsize },
        groups: index,
        open: (signal: AbortSignal): AsyncIterable<Group> => streamGroups(index, plan.count, (k) => k, window, signal),
        close: () => frames.close(),
      };
      return stream;
    } catch (e) {
      await frames.close();
      throw e;
    }
  },
});

interface GroupOptions {
  gridsize: number;
  k: number;
  n_groups?: number | undefined;
  oversample: boolean;
  seed?: number | undefined;
  cache_frames: number;
  read_window?: number | undefined;
}

function planGroups(o: GroupOptions, frames: GroupFrames, ctx: StageContext): { plan: GroupPlan; index: ReturnType<typeof groupIndex>; window: number } {
  const { exclude, access } = frames;
  const usable = frames.xs.length - exclude.size;
  if (exclude.size > 0) {
    ctx.log.warn(
      `${exclude.size} position(s) left out: the input does not yield their frames (${[...exclude].slice(0, 8).join(', ')}${exclude.size > 8 ? ', …' : ''})`,
      { excluded: exclude.size },
    );
  }
  if (o.n_groups !== undefined && o.n_groups > usable && !o.oversample && usable > 0) {
    ctx.log.warn(`n_groups = ${o.n_groups} > ${usable} positions: capped at ${usable} (set oversample: true for more)`);
  }
  let plan: GroupPlan;
  try {
    plan = new GroupPlan(frames.xs, frames.ys, {
      gridsize: o.gridsize,
      k: o.k,
      nGroups: o.n_groups,
      oversample: o.oversample,
      seed: o.seed ?? ctx.seed,
      exclude,
      scanIndex: frames.scanIndex,
    });
  } catch (e) {
    if (e instanceof OptionsError || e instanceof DataError) {
      // The message already names the key and the hint; add the stage.
      throw new (e instanceof OptionsError ? OptionsError : DataError)(e.code, e.message, { stage: ctx.id, cause: e });
    }
    throw e;
  }
  const window = o.read_window ?? defaultReadWindow(access.N * access.N * plan.C * 4);
  // Room for the windows read ahead, so their frames need not spill out of the slots.
  const index = groupIndex(plan, access, Math.max(o.cache_frames, READ_AHEAD * window * plan.C));
  ctx.log.info(`${plan.count} groups of C=${plan.C} from ${plan.positions} positions (K=${o.k}, frames by ${frames.via})`);
  return { plan, index, window };
}

/** Frames a live input's window holds when the pipeline names none. */
export const DEFAULT_LIVE_WINDOW = 512;

/** `group`'s `window` option: a number of frames, or frames and/or seconds. */
export type WindowOption = number | { frames?: number | undefined; seconds?: number | undefined };

/** `group`'s output over an input without random access, grouped in a window of `window` frames (and seconds). */
export function windowedGroupStream(
  o: { gridsize: number; k: number; window?: WindowOption | undefined; n_groups?: number | undefined; oversample: boolean; seed?: number | undefined },
  input: Stream<Frame>,
  ctx: StageContext,
): Stream<Group> {
  if (o.oversample)
    throw new OptionsError('BAD_OPTION', `stage '${ctx.id}': oversample needs the whole scan; a windowed group makes one group per frame at most`, {
      stage: ctx.id,
      key: 'oversample',
    });
  const w = typeof o.window === 'number' ? { frames: o.window } : (o.window ?? {});
  const opts: WindowOptions = {
    gridsize: o.gridsize,
    k: o.k,
    window: w.frames ?? DEFAULT_LIVE_WINDOW,
    seconds: w.seconds,
    seed: o.seed ?? ctx.seed,
    nGroups: o.n_groups,
  };
  // Checks the options now, before anything is read.
  try {
    void new WindowGrouper(opts);
  } catch (e) {
    throw e instanceof OptionsError
      ? new OptionsError(e.code, `stage '${ctx.id}': ${e.message}`, {
          stage: ctx.id,
          key: e.key ?? 'window',
          ...(e.hint === undefined ? {} : { hint: e.hint }),
          cause: e,
        })
      : e;
  }
  const secs = w.seconds === undefined ? '' : ` or ${w.seconds / 2} s`;
  ctx.log.info(
    `groups of C=${o.gridsize ** 2} from a window of ${opts.window} frames${w.seconds === undefined ? '' : ` and ${w.seconds} s`} (K=${o.k}; each decided ${Math.floor(opts.window / 2)} frames${secs} after its seed)`,
  );
  const { count: _count, ...meta } = input.meta;
  return {
    meta: { ...meta, record: 'group', gridsize: o.gridsize },
    open: (signal) =>
      windowedGroups(input.open(signal), opts, signal, (g) => {
        if (g.late > 0)
          ctx.log.warn(
            `${g.late} frame(s) arrived after a group they would have joined was decided: this stream's disorder outlasts the window (${opts.window} frames${w.seconds === undefined ? '' : `, ${w.seconds} s`}); raise window so its groups are the whole scan's`,
            { late: g.late },
          );
        if (g.skipped > 0)
          ctx.log.warn(`${g.skipped} seed(s) had fewer than C = ${g.C} frames of their scan in the window: no group for them`, { skipped: g.skipped });
      }),
  };
}
