// Typed errors. Each names what it concerns (stage, file, key, line) and says
// what to do; the CLI maps `exitCode` to the process exit status and prints
// `message` without a stack trace.

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
  readonly code: string;
  readonly stage: string | undefined;
  readonly file: string | undefined;
  readonly key: string | undefined;
  readonly hint: string | undefined;
  /** Exit code the CLI uses: 2 for bad input, 1 for failures while running. */
  readonly exitCode: number = 1;

  constructor(code: string, message: string, details: ErrorDetails = {}) {
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
