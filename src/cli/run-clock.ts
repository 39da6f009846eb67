// The run's overall ETA. Sinks run one after another (the runner reports
// each start and end), so the time left is the running sink's remainder plus
// every pending sink's estimate: its time budget (max_minutes), or the time
// it took when this pipeline last ran into the same output directory
// (summary.json there), whichever is smaller. A multi-pass sink with neither
// makes the ETA a lower bound (shown as ≥); a single-pass sink without one
// counts 0 s, since it reads its input once while the multi-pass ones
// (train, refine, epie) make the run's time.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ProgressEvent } from '../pipeline/types.js';

export interface SinkOutline {
  id: string;
  /** Most passes it makes (its `epochs` option). */
  passes?: number;
  /** Its time budget in seconds (its `max_minutes` option). */
  budgetS?: number;
  /** Seconds it took in the previous run into the same output directory. */
  previousS?: number;
}

/** The sinks of a plan in run order, with passes and budgets read from their options. */
export function outlineOf(sinks: readonly { id: string; options: unknown }[], previous: Readonly<Record<string, PreviousSink>> = {}): SinkOutline[] {
  return sinks.map(({ id, options }) => {
    const o = (options ?? {}) as { epochs?: unknown; max_minutes?: unknown };
    const prev = previous[id];
    // A previous run of other length (--set …epochs=): its time per pass counts.
    const scale = prev?.passes !== undefined && prev.passes > 0 && typeof o.epochs === 'number' ? o.epochs / prev.passes : 1;
    return {
      id,
      ...(typeof o.epochs === 'number' ? { passes: o.epochs } : {}),
      ...(typeof o.max_minutes === 'number' ? { budgetS: o.max_minutes * 60 } : {}),
      ...(prev !== undefined ? { previousS: prev.seconds * scale } : {}),
    };
  });
}

/** A sink of the previous run: its seconds, and the passes it made (epochs_run or passes in its result). */
export interface PreviousSink {
  seconds: number;
  passes?: number;
}

/** Seconds each sink took in the run recorded in `outDir/summary.json` (nothing when absent or unreadable). */
export function previousSinkSeconds(outDir: string): Record<string, PreviousSink> {
  const file = path.join(outDir, 'summary.json');
  if (!existsSync(file)) return {};
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as {
      status?: string;
      stages?: { id: string; ms: number }[];
      sinks?: Record<string, { seconds?: unknown; epochs_run?: unknown; passes?: unknown } | null>;
    };
    if (s.status !== 'ok') return {};
    const out: Record<string, PreviousSink> = {};
    for (const st of s.stages ?? []) if (typeof st.ms === 'number') out[st.id] = { seconds: st.ms / 1000 };
    for (const [id, r] of Object.entries(s.sinks ?? {})) {
      // A sink's own time leaves out the stages feeding it; its own `seconds`, where it reports one, does not.
      const seconds = typeof r?.seconds === 'number' ? r.seconds : out[id]?.seconds;
      const passes = typeof r?.epochs_run === 'number' ? r.epochs_run : typeof r?.passes === 'number' ? r.passes : undefined;
      if (seconds !== undefined) out[id] = { seconds, ...(passes !== undefined ? { passes } : {}) };
    }
    return out;
  } catch {
    return {};
  }
}

/** How far a sink is, 0…1, from one of its events (undefined: the event does not say). */
export function sinkFraction(e: ProgressEvent, multiPass: boolean): number | undefined {
  const within = e.total !== undefined && e.total > 0 ? Math.min(e.done / e.total, 1) : undefined;
  if (e.pass !== undefined) return Math.min((e.pass.index - 1 + (within ?? (e.finished === true ? 1 : 0))) / e.pass.of, 1);
  // A multi-pass sink's other events (refine's scale fit) say nothing of its passes.
  return multiPass ? undefined : within;
}

interface SinkState {
  started?: number;
  ended?: number;
  fraction?: number;
}

export interface Eta {
  seconds: number;
  /** False when a pending multi-pass sink has no estimate: `seconds` is then a lower bound. */
  complete: boolean;
  /** Fraction of the run's estimated time already spent. */
  fraction: number;
}

export class RunClock {
  private readonly state = new Map<string, SinkState>();
  private readonly t0: number;

  constructor(
    readonly outline: readonly SinkOutline[],
    private readonly now: () => number = Date.now,
  ) {
    for (const s of outline) this.state.set(s.id, {});
    this.t0 = now();
  }

  start(id: string): void {
    const s = this.state.get(id);
    if (s !== undefined) s.started = this.now();
  }

  end(id: string): void {
    const s = this.state.get(id);
    if (s !== undefined) s.ended = this.now();
  }

  observe(e: ProgressEvent): void {
    const s = this.state.get(e.stage);
    const o = this.outline.find((x) => x.id === e.stage);
    if (s === undefined || o === undefined) return;
    const f = sinkFraction(e, o.passes !== undefined && o.passes > 1);
    if (f !== undefined) s.fraction = f;
  }

  /** 1-based position of a sink in the run, and the number of sinks. */
  position(id: string): { index: number; of: number } | undefined {
    const i = this.outline.findIndex((x) => x.id === id);
    return i < 0 ? undefined : { index: i + 1, of: this.outline.length };
  }

  eta(): Eta | undefined {
    const now = this.now();
    let left = 0;
    let complete = true;
    for (const o of this.outline) {
      const s = this.state.get(o.id)!;
      if (s.ended !== undefined) continue;
      const cap = Math.min(o.budgetS ?? Infinity, o.previousS ?? Infinity);
      if (s.started === undefined) {
        if (Number.isFinite(cap)) left += cap;
        else if (o.passes !== undefined && o.passes > 1) complete = false;
        continue;
      }
      const e = (now - s.started) / 1000;
      const f = s.fraction;
      let rest = f !== undefined && f > 0 ? (e * (1 - f)) / f : Infinity;
      if (o.budgetS !== undefined) rest = Math.min(rest, Math.max(o.budgetS - e, 0));
      if (!Number.isFinite(rest) && o.previousS !== undefined) rest = Math.max(o.previousS - e, 0);
      if (Number.isFinite(rest)) left += rest;
      else complete = false;
    }
    const spent = (now - this.t0) / 1000;
    if (left === 0 && !complete) return undefined;
    return { seconds: left, complete, fraction: spent + left > 0 ? spent / (spent + left) : 0 };
  }
}
