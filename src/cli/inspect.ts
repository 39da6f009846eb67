// `ptychoflow inspect FILE`: the arrays of an .npz/.npy/HDF5 file with
// statistics, and whether a source can read it as a scan.
import { inspectFile, RECONSTRUCTION_LAYOUT } from '../io/inspect.js';
import { EXIT, type CliIO } from './io.js';

export async function inspectCommand(file: string, o: { json?: boolean }, io: CliIO): Promise<number> {
  const { stdout } = io;
  const report = await inspectFile(file);
  // A file that does not meet the contract is bad input, also for scripts that only look at the status.
  const code = report.contract.ok ? EXIT.ok : EXIT.invalid;
  if (o.json === true) {
    stdout.write(JSON.stringify(report) + '\n');
    return code;
  }
  stdout.write(`${report.file} (${report.format}${report.layout === undefined ? '' : `, ${report.layout} layout`})\n`);
  const width = Math.max(16, ...Object.keys(report.arrays).map((k) => k.length));
  for (const [name, a] of Object.entries(report.arrays)) {
    const stats = Object.entries(a)
      .filter(([k]) => ['min', 'max', 'mean', 'mean_abs'].includes(k))
      .map(([k, v]) => `${k}=${typeof v === 'number' ? v.toPrecision(6) : String(v)}`)
      .join(' ');
    stdout.write(
      `  ${name.padEnd(width)} ${a.dtype.length > 12 ? 'compound' : a.dtype.padEnd(5)} (${a.shape.join(', ')})${a.fortran_order ? ' fortran' : ''} ${stats}\n`,
    );
  }
  const what =
    report.format === 'hdf5'
      ? 'readable as a scan (hdf5 source)'
      : report.layout === RECONSTRUCTION_LAYOUT
        ? 'reconstruction (readable by evaluate, refine, epie)'
        : 'canonical contract';
  stdout.write(
    report.contract.ok
      ? `  ${what}: ok\n`
      : `  ${what}: ${report.contract.problems.length} problem(s)\n${report.contract.problems.map((p) => `    - ${p}\n`).join('')}`,
  );
  return code;
}
