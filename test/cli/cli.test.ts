// The CLI as a user runs it: a child process of bin/ptychoflow.js. Exit codes,
// the JSON summary as the last stdout line, validation output, SIGINT.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/ptychoflow.js');
const fixtures = path.join(root, 'test/fixtures/pipelines');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

test('run --json prints the summary as the last stdout line and exits 0', async (t) => {
  const r = await cli(['run', path.join(fixtures, 'ok.yaml'), '--json']);
  t.is(r.code, 0, r.stderr);
  const s = lastJson(r.stdout);
  t.is(s.backend, 'cpu');
  t.is(s.seed, 7);
  t.deepEqual((s.sinks as Record<string, { count: number }>).all!.count, 20);
  t.is((s.tensors as { leaked: number }).leaked, 0);
  for (const k of ['pipeline', 'stages', 'peak_rss_bytes', 'wall_ms']) t.true(k in s, k);
});

test('run --set and --limit change the run', async (t) => {
  const r = await cli(['run', path.join(fixtures, 'ok.yaml'), '--json', '--set', 'sources.numbers.n=50', '--limit', '7']);
  t.is(r.code, 0, r.stderr);
  t.is((lastJson(r.stdout).sinks as Record<string, { count: number }>).all!.count, 7);
});

test('validate: a broken file exits 2 and prints FILE:LINE:COL for every problem', async (t) => {
  const r = await cli(['validate', path.join(fixtures, 'ok.yaml'), path.join(fixtures, 'broken.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stdout, /^ok .*ok\.yaml/m);
  t.is(r.stderr.match(/broken\.yaml:\d+:\d+ {2}/g)?.length, 8);
  t.regex(r.stderr, /did you mean 'test-count'/);
  t.notRegex(r.stderr, /\n\s+at /); // no stack trace
});

test('validate: a miswired pipeline exits 2 naming each wrong input, what it accepts and what it was given, by line', async (t) => {
  const r = await cli(['validate', path.join(fixtures, 'miswired.yaml')]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /miswired\.yaml:6:\d+ {2}transforms\.tensors\.inputs\.0: 'tensorify' accepts batch records, but 'scan' gives frame records/);
  t.regex(r.stderr, /miswired\.yaml:7:\d+ {2}transforms\.groups\.inputs\.0: 'group' accepts frame records, but 'tensors' gives tensor-batch records/);
  t.regex(r.stderr, /miswired\.yaml:9:\d+ {2}sinks\.train\.inputs\.0: 'train' accepts tensor-batch records, but 'groups' gives group records/);
  t.regex(r.stderr, /miswired\.yaml:10:\d+ {2}sinks\.evaluate\.inputs\.0: 'evaluate' accepts reconstruction records, but 'scan' gives frame records/);
  t.notRegex(r.stderr, /order the stages/);
});

test('run on an invalid file exits 2 without running', async (t) => {
  const r = await cli(['run', path.join(fixtures, 'broken.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /8 problems/);
});

test('a missing file exits 2 with a message naming it', async (t) => {
  const r = await cli(['run', path.join(fixtures, 'nope.yaml')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /nope\.yaml: cannot read pipeline file/);
});

test('stages lists registered stages with options; plugins join the list', async (t) => {
  const r = await cli(['stages', '--plugin', './test/fixtures/pipelines/stages.ts', 'test-count']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /test-count {2}\(source, plugin/);
  t.regex(r.stdout, /n: integer \(≥ 0\) = 10\n\s+how many/);
  const unknown = await cli(['stages', 'no-such-stage']);
  t.is(unknown.code, 2);
});

test('docs/STAGES.md is what `stages --markdown` prints (regenerate it when an option changes)', async (t) => {
  const r = await cli(['stages', '--markdown']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /### `group`/);
  t.is(readFileSync(path.join(root, 'docs/STAGES.md'), 'utf8'), r.stdout, 'run: node bin/ptychoflow.js stages --markdown > docs/STAGES.md');
});

test('SIGINT stops the run cleanly: exit 130, cleanup ran, summary says aborted', async (t) => {
  const out = path.join(root, 'out/test-sigint');
  rmSync(out, { recursive: true, force: true });
  let sent = false;
  const r = await cli(['run', path.join(fixtures, 'sigint.yaml'), '--json'], {
    onStderr: (text, child) => {
      if (!sent && text.includes('backend: cpu')) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    },
  });
  t.true(sent, r.stderr);
  t.is(r.code, 130, r.stderr);
  t.regex(r.stderr, /interrupted/);
  t.true(existsSync(path.join(out, 'cleanup.txt')));
  t.is(lastJson(r.stdout).status, 'aborted');
});

test('inspect --json prints one JSON object with arrays, dtypes, statistics and the contract check', async (t) => {
  const file = path.join(root, 'test/fixtures/npz/canonical_deflated.npz');
  const r = await cli(['inspect', file, '--json']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const report = JSON.parse(lines[0]!) as {
    file: string;
    format: string;
    arrays: Record<string, { shape: number[]; dtype: string; fortran_order: boolean; mean?: number; mean_abs?: number; min?: number }>;
    contract: { ok: boolean; problems: string[] };
  };
  t.is(report.format, 'npz');
  t.deepEqual(report.arrays.diffraction!.shape, [36, 32, 32]);
  t.is(report.arrays.diffraction!.dtype, '<f4');
  t.is(report.arrays.probeGuess!.dtype, '<c8');
  t.true(typeof report.arrays.probeGuess!.mean_abs === 'number');
  t.true(report.arrays.diffraction!.min! >= 0);
  t.true(report.contract.ok, report.contract.problems.join('; '));
});

test('inspect reads HDF5: every dataset with statistics, the detected layout, and what keeps it from being a scan', async (t) => {
  const h5 = path.join(root, 'test/fixtures/hdf5');
  const r = await cli(['inspect', path.join(h5, 'ptychodus_product.h5'), '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim()) as {
    format: string;
    layout: string;
    arrays: Record<string, { shape: number[]; min?: number; mean_abs?: number }>;
    contract: { ok: boolean; problems: string[] };
  };
  t.is(report.format, 'hdf5');
  t.is(report.layout, 'ptychodus');
  t.deepEqual(report.arrays['raw_data/diffraction']!.shape, [12, 16, 16]);
  t.true(report.arrays['raw_data/diffraction']!.min! > 0);
  t.true(report.arrays.probe!.mean_abs! > 0, 'complex (r, i) datasets get a mean modulus');
  t.true(report.contract.ok, report.contract.problems.join('; '));
  const bad = await cli(['inspect', path.join(h5, 'bad_coords.h5')]);
  t.is(bad.code, 2, 'a file that cannot be read as a scan is bad input: exit 2, with the report');
  t.regex(bad.stdout, /canonical layout/);
  t.regex(bad.stdout, /readable as a scan \(hdf5 source\): 1 problem\(s\)\n\s+- bad_coords\.h5 \[xcoords\]: has shape \(11\), expected \(12\)/);
  const notH5 = await cli(['inspect', path.join(h5, 'not_hdf5.h5')]);
  t.is(notH5.code, 2);
  t.regex(notH5.stderr, /not_hdf5\.h5: not an HDF5 file/);
});

test('inspect names the file and exits 2 on a broken archive, without a stack trace', async (t) => {
  const r = await cli(['inspect', path.join(root, 'test/fixtures/npz/bad_not_a_zip.npz'), '--json']);
  t.is(r.code, 2);
  t.regex(r.stderr, /bad_not_a_zip\.npz/);
  t.notRegex(r.stderr, /\n\s+at /);
  const missing = await cli(['inspect', path.join(root, 'test/fixtures/npz/bad_missing_diffraction.npz')]);
  t.is(missing.code, 2, 'a readable file with contract problems is reported, and exits 2');
  t.regex(missing.stdout, /canonical contract: \d+ problem/);
});

test('pipelines/simulate.yaml runs from the CLI and writes a canonical NPZ that inspect accepts', async (t) => {
  const out = path.join(root, 'out/test-simulate');
  rmSync(out, { recursive: true, force: true });
  const r = await cli([
    'run',
    'pipelines/simulate.yaml',
    '--json',
    '--output',
    out,
    '--set',
    'sources.sim.N=32',
    '--set',
    'sources.sim.object.size=96',
    '--set',
    'sources.sim.scan.step=16',
  ]);
  t.is(r.code, 0, r.stderr);
  const s = lastJson(r.stdout);
  t.is(s.status, 'ok');
  const file = path.join(out, 'scan.npz');
  t.true(existsSync(file));
  const ins = await cli(['inspect', file, '--json']);
  t.is(ins.code, 0, ins.stderr);
  t.true((JSON.parse(ins.stdout.trim()) as { contract: { ok: boolean } }).contract.ok);
});
