// Typed errors. Each names what it concerns (stage, file, key, line) and says
// what to do; the CLI maps `exitCode` to the process exit status and prints
// `message` without a stack trace.

/**
 * Every error code ptychoflow raises, one union (docs/ERRORS.md lists them
 * with the class that carries each). A new code goes here first: the
 * constructors accept nothing else.
 */
export const ERROR_CODES = [
  'ABORTED',
  'ARRAY_OPEN',
  'BACKEND_UNAVAILABLE',
  'BACKEND_UNKNOWN',
  'BAD_CONCURRENCY',
  'BAD_COORDS',
  'BAD_CROP',
  'BAD_DESCRIPTOR',
  'BAD_DTYPE',
  'BAD_ENDPOINT',
  'BAD_FILE',
  'BAD_FRAME',
  'BAD_FRAME_FILE',
  'BAD_FRAME_SIZE',
  'BAD_GEOMETRY',
  'BAD_GROUP',
  'BAD_HEADER',
  'BAD_ID',
  'BAD_INDEX',
  'BAD_INPUT',
  'BAD_JSON',
  'BAD_K',
  'BAD_MANIFEST',
  'BAD_MESSAGE',
  'BAD_MODEL_CONFIG',
  'BAD_OBJECT',
  'BAD_OFFSET',
  'BAD_OPTION',
  'BAD_OPTIONS',
  'BAD_PARTIAL',
  'BAD_PATTERN',
  'BAD_PNG',
  'BAD_POSITION',
  'BAD_PROBE',
  'BAD_RECORD',
  'BAD_SCAN_FILE',
  'BAD_SCAN_INDEX',
  'BAD_SERIES',
  'BAD_SET',
  'BAD_SHAPE',
  'BAD_SHARDS',
  'BAD_TILE',
  'BAD_VALUE',
  'BAD_VALUES',
  'BAD_WINDOW',
  'BAD_ZIP',
  'CANNOT_SHRINK',
  'CANVAS_MISMATCH',
  'CHECKPOINT_CONFIG',
  'CHECKPOINT_DIR_NOT_OURS',
  'CHECKPOINT_DTYPE',
  'CHECKPOINT_FORMAT',
  'CHECKPOINT_INCOMPLETE',
  'CHECKPOINT_JSON',
  'CHECKPOINT_PROBE',
  'CHECKPOINT_TRUNCATED',
  'CHECKPOINT_WEIGHTS',
  'CLOSED',
  'COMPOSE_INPUT',
  'COMPOSE_ORDER',
  'CONTRACT',
  'CORRUPT_ENTRY',
  'COUNT_MISMATCH',
  'CRC_MISMATCH',
  'DESCRIPTOR_TOO_LARGE',
  'DUPLICATE_COMPONENT',
  'DUPLICATE_ENTRY',
  'DUPLICATE_FRAME',
  'EMPTY_BATCH',
  'EMPTY_INPUT',
  'EMPTY_SCAN',
  'ENCRYPTED',
  'EXCLUDED_FRAME',
  'EXPORT_TARGET_NOT_OURS',
  'FFT_SIZE',
  'FILE_NOT_FOUND',
  'FRAME_INDEX',
  'HDF5_EXTERNAL_LINK',
  'HDF5_STRUCTURE',
  'HDF5_UNALLOCATED',
  'HEADER_TOO_LARGE',
  'JOB_EXISTS',
  'JOB_NOT_FINISHED',
  'JOB_NOT_FOUND',
  'JOB_TIMEOUT',
  'JSON_TOO_DEEP',
  'LIVE_REOPENED',
  'LOSS_NOT_FINITE',
  'MISSING_INPUT',
  'MISSING_KEY',
  'MISSING_OBJECT',
  'MISSING_PIPELINE',
  'MIXED_GROUPS',
  'MODEL_DISPOSED',
  'NATS_CONNECT',
  'NATS_SETUP',
  'NON_FINITE',
  'NON_SQUARE_PIXELS',
  'NOTHING_TO_MERGE',
  'NOT_A_FILE',
  'NOT_A_STREAM',
  'NOT_HDF5',
  'NOT_NPY',
  'NOT_SQUARE',
  'NOT_ZIP',
  'NO_ARRAY',
  'NO_CHECKPOINT',
  'NO_FRAMES',
  'NO_GROUP_STAGE',
  'NO_HEADER',
  'NO_INDEX',
  'NO_INPUT',
  'NO_INPUTS',
  'NO_INPUT_KEY',
  'NO_INTENSITY',
  'NO_LOSS',
  'NO_OBJECT',
  'NO_OUTPUT_FILES',
  'NO_OUTPUT_STREAM',
  'NO_PATTERNS',
  'NO_POSITIONS',
  'NO_PROBE',
  'NO_RANDOM_ACCESS',
  'NO_RECONSTRUCTION',
  'NO_SCAN',
  'NO_SCAN_META',
  'NO_SERVER',
  'NO_SIGNAL',
  'NO_SUCH_OUTPUT',
  'NO_TRAIN_STATE',
  'NO_TRUTH',
  'OBJECT_OPTION',
  'OBJECT_RANGE',
  'OBJECT_SIZE',
  'OPTIONS',
  'OUTPUT_NOT_A_DIRECTORY',
  'OUTPUT_NOT_WRITABLE',
  'OUTSIDE_CANVAS',
  'OUT_OF_RANGE',
  'PATCH_POSITION',
  'PATCH_SIZE',
  'PATH_OUTSIDE',
  'PHYSICS_METHOD',
  'PHYSICS_OPTION',
  'PHYSICS_SHAPE',
  'PHYSICS_VALUE',
  'PICKLED_ARRAY',
  'PIPELINE_INVALID',
  'PIPELINE_READ',
  'PIPELINE_YAML',
  'PLUGIN_EMPTY',
  'PLUGIN_LOAD',
  'PLUGIN_OUTSIDE',
  'PROBE_MISMATCH',
  'PROBE_OPTION',
  'PROBE_SHAPE',
  'PROBE_SIZE',
  'PROBE_VALUES',
  'READ_FAILED',
  'REGISTRATION',
  'SCAN_AREA',
  'SCAN_COUNT',
  'SCAN_OPTION',
  'SESSION_CLOSED',
  'SHAPE_MISMATCH',
  'SHARD_FAILED',
  'SHORT_DATA',
  'SHORT_READ',
  'SPILL_WRITE',
  'STAGE_FAILED',
  'STORE_CLOSED',
  'TENSOR_BUDGET',
  'TOO_FEW_POSITIONS',
  'TOO_LARGE',
  'TOO_MUCH_DATA',
  'TRAINING_COLLAPSED',
  'TRUNCATED',
  'TRUNCATED_ZIP',
  'UNEXPECTED_HEADER',
  'UNKNOWN_LAYOUT',
  'UNSUPPORTED_COMPRESSION',
  'UNSUPPORTED_DTYPE',
  'WEIGHTS_MISMATCH',
  'WRITER_CLOSED',
  'WRONG_INPUT',
  'WRONG_RECORD',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN = new Set<string>(ERROR_CODES);

declare const pluginBrand: unique symbol;
/** A plugin's own error code (made with `pluginCode`), so a typo in a built-in code still fails to compile. */
export type PluginCode = string & { readonly [pluginBrand]: true };

/** Marks a plugin's own code, e.g. `new DataError(pluginCode('ODD_FRAME'), …)`. */
export function pluginCode(code: string): PluginCode {
  return code as PluginCode;
}

/** Whether a code (from an untyped error, say) is one of ptychoflow's. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

export interface ErrorDetails {
  /** Pipeline stage id. */
  stage?: string;
  /** File the problem is in. */
  file?: string;
  /** Key, entry or option path inside the file. */
  key?: string;
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

/** A name fit for one line: control characters shown as \u escapes. */
export function printableName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class PtychoflowError extends Error {
  override name = 'PtychoflowError';
  readonly code: ErrorCode | PluginCode;
  readonly stage: string | undefined;
  readonly file: string | undefined;
  readonly key: string | undefined;
  readonly hint: string | undefined;
  /** Exit code the CLI uses: 2 for bad input, 1 for failures while running. */
  readonly exitCode: number = 1;

  constructor(code: ErrorCode | PluginCode, message: string, details: ErrorDetails = {}) {
    super(PtychoflowError.compose(message, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.stage = details.stage;
    this.file = details.file;
    this.key = details.key;
    this.hint = details.hint;
  }

  private static compose(message: string, d: ErrorDetails): string {
    const where: string[] = [];
    // File and key names come from data: control characters (a newline would forge a log line) are escaped.
    if (d.file !== undefined) where.push(printableName(d.file));
    if (d.key !== undefined) where.push(`[${printableName(d.key)}]`);
    let text = where.length > 0 ? `${where.join(' ')}: ${message}` : message;
    if (d.hint !== undefined) text += ` (${d.hint})`;
    return text;
  }
}

/** Input data that cannot be used: corrupt, missing keys, wrong shapes, bad values. Exit 2. */
export class DataError extends PtychoflowError {
  override name = 'DataError';
  override readonly exitCode = 2;
}

/** A format-level problem in a file (NPY/NPZ/zip/JSON/PNG). Exit 2. */
export class FormatError extends DataError {
  override name = 'FormatError';
}

/** A pipeline file that does not validate. Exit 2. */
export class PipelineFileError extends PtychoflowError {
  override name = 'PipelineFileError';
  override readonly exitCode = 2;
}

/** Bad options given to a stage or a function (programmatic use). Exit 2. */
export class OptionsError extends PtychoflowError {
  override name = 'OptionsError';
  override readonly exitCode = 2;
}

/** A stage failed while running; wraps the original error and names the stage. */
export class StageError extends PtychoflowError {
  override name = 'StageError';
}

/** A memory budget was crossed. */
export class BudgetError extends PtychoflowError {
  override name = 'BudgetError';
}

/** The run was aborted (SIGINT or an earlier error). */
export class AbortError extends PtychoflowError {
  override name = 'AbortError';
  constructor(message = 'aborted', details: ErrorDetails = {}) {
    super('ABORTED', message, details);
  }
}

/** Throws an AbortError if the signal is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    const reason: unknown = signal.reason;
    if (reason instanceof Error) throw reason;
    throw new AbortError();
  }
}

export function isPtychoflowError(e: unknown): e is PtychoflowError {
  return e instanceof PtychoflowError;
}

/** The message of anything thrown (Errors, strings, other values). */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e);
  } catch {
    return Object.prototype.toString.call(e);
  }
}

/** A compute backend that was asked for by name cannot be loaded or initialised. */
export class BackendError extends PtychoflowError {
  override name = 'BackendError';
}

/** The scale-out layer (NATS JetStream jobs, shards, workers, merge) cannot go on: server, job or result problems. */
export class ScaleError extends PtychoflowError {
  override name = 'ScaleError';
}
