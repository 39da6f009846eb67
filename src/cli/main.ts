// The `ptychoflow` command line (run, validate, stages, inspect, replay, export,
// the scale-out commands). The only module that prints. Exit codes: 0 ok,
// 2 invalid input (pipeline file or data), 1 failure while running, 130 after
// a clean shutdown on SIGINT.
// Each command's module is imported when the command runs, so --help and
// --version load neither TensorFlow.js nor the stages.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES } from '../backend/names.js';
import { isPtychoflowError } from '../errors.js';
import { ptychoflowVersion } from '../util/version.js';
import { EXIT, type CliIO } from './io.js';
import { addScaleCommands } from './scale-commands.js';
import type { RunFlags } from './run.js';
import type { StagesFlags } from './stages.js';
import type { ReplayFlags } from './replay.js';
import type { ExportFlags } from './export.js';

export type { CliIO } from './io.js';

function collectSet(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag}: expected a positive integer, got '${v}'`);
  return n;
}

function positiveNumber(v: string, flag: string, zero = false): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero))
    throw new InvalidArgumentError(`${flag}: expected a ${zero ? 'non-negative' : 'positive'} number, got '${v}'`);
  return n;
}

function buildProgram(io: CliIO, done: (code: number) => void): Command {
  const program = new Command('ptychoflow')
    .description('Streaming ptychography reconstruction with a physics-informed neural network')
    .version(ptychoflowVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  program
    .command('run')
    .description('run a pipeline file')
    .argument('<file>', 'pipeline file (YAML or JSON)')
    .option('--set <key.path=value>', 'override a setting in the file (repeatable)', collectSet, [])
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]))
    .option('--json', 'print the run summary as one JSON line (the last line on stdout)')
    .option('--limit <n>', 'read at most n records from each source', (v) => positiveInt(v, '--limit'))
    .option('--output <dir>', "override the file's output directory")
    .option('-v, --verbose', 'log details to stderr')
    .option('-q, --quiet', 'log only errors')
    .action(async (file: string, o: RunFlags) => done(await (await import('./run.js')).runCommand(file, o, io)));

  program
    .command('validate')
    .description('check pipeline files without running them')
    .argument('<files...>', 'pipeline files')
    .option('--set <key.path=value>', 'override a setting before checking (repeatable)', collectSet, [])
    .option('--deep', "also check each source's data file against the scan contract (as inspect does)")
    .action(async (files: string[], o: { set: string[]; deep?: boolean }) => done(await (await import('./validate.js')).validateCommand(files, o, io)));

  program
    .command('stages')
    .description('list every registered stage with its options, descriptions and defaults')
    .argument('[type]', 'show one stage type')
    .option('--plugin <module>', 'also list the components of a plugin module (repeatable)', collectSet, [])
    .option('--json', 'machine-readable')
    .option('--markdown', 'the reference as Markdown (docs/STAGES.md)')
    .action(async (type: string | undefined, o: StagesFlags) => done(await (await import('./stages.js')).stagesCommand(type, o, io)));

  program
    .command('inspect')
    .description('show the arrays of an .npz, .npy or HDF5 file and check that a source can read it as a scan')
    .argument('<file>', '.npz, .npy or HDF5 (.h5, .cxi, …) file')
    .option('--json', 'print one JSON object')
    .action(async (file: string, o: { json?: boolean }) => done(await (await import('./inspect.js')).inspectCommand(file, o, io)));

  program
    .command('replay')
    .description('send a recorded scan as a live detector stream over ZeroMQ (docs/formats.md, "Live stream")')
    .argument('<scan>', 'scan file (.npz, .json manifest or HDF5)')
    .requiredOption('--endpoint <url>', 'endpoint to bind, e.g. tcp://127.0.0.1:5555')
    .addOption(new Option('--socket <kind>', 'push (receivers connect with pull) or pub (with sub)').choices(['push', 'pub']).default('push'))
    .option('--topic <topic>', 'with --socket pub: the topic part sent first')
    .option('--rate <frames_per_s>', 'send at most this many frames per second', (v) => positiveNumber(v, '--rate'))
    .option('--loop <k>', 'send the scan k times as one series (indices continue)', (v) => positiveInt(v, '--loop'))
    .option('--drop <fraction>', 'leave out this fraction of frames, at random (seeded)', (v) => positiveNumber(v, '--drop', true))
    .option('--shuffle-window <w>', 'reorder frames at random within a window of w (seeded)', (v) => positiveInt(v, '--shuffle-window'))
    .option('--seed <s>', 'seed of --drop and --shuffle-window', (v) => Math.trunc(positiveNumber(v, '--seed', true)), 0)
    .option('--series <id>', 'series id (default from the file name and seed)')
    .option('--no-end', 'stop without the series-end message (as a sender that dies)')
    .option('--json', 'print what was sent as one JSON line')
    .action(async (scan: string, o: ReplayFlags) => done(await (await import('./replay.js')).replayCommand(scan, o, io)));

  program
    .command('export')
    .description('write a checkpoint\'s network as a standard model other tools open (docs/formats.md, "Checkpoints")')
    .argument('<checkpoint>', 'checkpoint directory written by train')
    .argument('<out>', 'output directory (new, empty, or an earlier export)')
    .addOption(new Option('--format <format>', 'tfjs-layers: a tfjs LayersModel for tf.loadLayersModel').choices(['tfjs-layers']).makeOptionMandatory())
    .option('--json', 'print what was written as one JSON line')
    .action(async (checkpoint: string, out: string, o: ExportFlags) => done(await (await import('./export.js')).exportCommand(checkpoint, out, o, io)));

  addScaleCommands(program, io, done);
  return program;
}

export async function main(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(['node', 'ptychoflow', ...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (isPtychoflowError(e)) {
      io.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    io.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failure;
  }
  return code;
}
