// Engine contract: the stage context every stage gets, and the component
// definition (kind, type, options schema, declared record kinds, create).
import type { z } from 'zod';
import type { Logger } from '../util/log.js';
import type { Rng } from '../util/rng.js';
import type { RecordKind, RoutedError } from '../records/index.js';
import type { TensorLedger } from './ledger.js';
import type { Stream } from './stream.js';

export type ErrorPolicy = 'fail' | 'skip' | 'route';

/** Progress of long work, rendered by the CLI (bar on a TTY, lines otherwise). */
export interface ProgressEvent {
  readonly stage: string;
  readonly label: string;
  readonly done: number;
  readonly total?: number;
  readonly unit?: string;
  /**
   * The pass this event belongs to, in a stage that makes several (epoch 3 of
   * at most 30, 1-based): the CLI shows one bar for the stage and its overall
   * ETA from it, and prints no line per pass.
   */
  readonly pass?: { readonly index: number; readonly of: number };
  /** Extra fields to show (loss, lr, …). */
  readonly info?: Readonly<Record<string, number | string>>;
  /** True once the task is complete. */
  readonly finished?: boolean;
}

/** The pipeline file's `allow` block (see settingsSchema). */
export interface AllowSettings {
  paths_outside: boolean;
  hdf5_external_links: boolean;
  plugins_outside: boolean;
}

export interface StageContext {
  /** Id of the stage in the pipeline file. */
  readonly id: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly progress: (event: Omit<ProgressEvent, 'stage'>) => void;
  readonly ledger: TensorLedger;
  /** Seeded RNG for this stage (derived from the pipeline seed and the stage id). */
  readonly rng: Rng;
  /** The pipeline seed, to derive further generators (e.g. per group). */
  readonly seed: number;
  /** Directory that relative paths in options are resolved against (the pipeline file's). */
  readonly baseDir: string;
  /** Directory for run outputs (the pipeline's `output` setting). */
  readonly outDir: string;
  /** Name of the compute backend in use. */
  readonly backend: string;
  /** The pipeline's `allow` relaxations of the path and link rules (absent: none). */
  readonly allow?: Readonly<AllowSettings>;
  /**
   * Apply the stage's error policy to a bad record: throws under `fail`,
   * counts under `skip`, counts and stores under `route`.
   */
  readonly badRecord: (policy: ErrorPolicy, error: Error & { code?: string }, record?: number | string) => void;
  /** Live stats the runner reports (records in/out are counted by the runner). */
  readonly stats: { errors: number; routed: RoutedError[]; info?: { [key: string]: Json } };
}

export interface CreateDeps {
  readonly ctx: StageContext;
  /** Input streams, in the order of the stage's `inputs`. Empty for sources. */
  readonly inputs: readonly Stream<unknown>[];
}

/** A JSON-serialisable value (what sinks return for the run summary). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What each input of a stage may carry: entry i for input i, the last entry
 * for every further input. Checked by `validate` before anything opens.
 */
export type Accepts = readonly (readonly RecordKind[])[];

/** What a stage's output carries: a kind, or 'same' as its first input. */
export type Emits = RecordKind | 'same';

/** Every record kind, for stages that pass anything on (prefetch). */
export const ANY_RECORD: readonly RecordKind[] = ['frame', 'group', 'batch', 'tensor-batch', 'reconstruction', 'error', 'other'];

interface ComponentBase<S extends z.ZodType> {
  readonly type: string;
  /** One line: what the stage does. */
  readonly description: string;
  /** zod schema of the options; every field has .describe() and a default where sensible. */
  readonly options: S;
  /** Record kinds its inputs may carry (plugins that leave it out are not checked). */
  readonly accepts?: Accepts;
  /** Record kind of its output (sources and transforms; a sink that emits a record stream). */
  readonly emits?: Emits;
  /**
   * The files it reads, from its (parsed) options, relative to the pipeline
   * file: `validate` checks that they exist and are readable (and, with
   * --deep, that they meet their contract) before anything runs.
   */
  inputFiles?(options: z.output<S>): readonly string[];
}

export interface SourceDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'source';
  create(options: z.output<S>, deps: CreateDeps): Promise<Stream<unknown>>;
}

export interface TransformDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'transform';
  /** How many inputs it takes (default exactly 1). */
  readonly arity?: { readonly min: number; readonly max: number };
  create(options: z.output<S>, deps: CreateDeps): Promise<Stream<unknown>>;
}

/** What a sink that declares `emits` returns: its summary, and the record stream later stages take as input. */
export interface SinkOutput {
  readonly summary: Json;
  readonly stream: Stream<unknown>;
}

export interface SinkDef<S extends z.ZodType = z.ZodType> extends ComponentBase<S> {
  readonly kind: 'sink';
  readonly arity?: { readonly min: number; readonly max: number };
  /**
   * Consumes its inputs to the end and returns its result for the run
   * summary; a sink that declares `emits` returns a SinkOutput (summary and stream).
   */
  create(options: z.output<S>, deps: CreateDeps): Promise<Json | SinkOutput>;
}

export type ComponentDef = SourceDef | TransformDef | SinkDef;

/** Identity helpers that keep the option types while checking the shape. */
export function defineSource<S extends z.ZodType>(def: SourceDef<S>): SourceDef<S> {
  return def;
}
export function defineTransform<S extends z.ZodType>(def: TransformDef<S>): TransformDef<S> {
  return def;
}
export function defineSink<S extends z.ZodType>(def: SinkDef<S>): SinkDef<S> {
  return def;
}
