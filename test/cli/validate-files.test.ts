// validate checks the files the stages read (they exist, are regular and
// readable; with --deep, a source's data meets the scan contract), and
// inspect recognises ptychoflow's own reconstruction NPZ.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { main } from '../../src/cli/main.js';
import { writeNpz } from '../../src/io/npz-writer.js';
import { writeReconstructionNpz } from '../../src/sinks/shared/reconstruction.js';

async function capture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough(),
    err = new PassThrough();
  let stdout = '',
    stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await main(args, { stdout: out as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream });
  return { code, stdout, stderr };
}

const pipeline = (scan: string, truth = 'scan'): string => `sources:
  scan: { type: npz, path: ${scan} }
transforms:
  groups: { type: group, inputs: [scan], gridsize: 1 }
  batches: { type: batch, inputs: [groups] }
  tensors: { type: tensorify, inputs: [batches] }
sinks:
  infer: { type: infer, inputs: [tensors] }
  score: { type: evaluate, inputs: [infer], truth: ${truth} }
`;

test('validate: a missing input file is a problem naming the stage, the path as written and as resolved', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pf-validate-'));
  try {
    writeFileSync(path.join(dir, 'p.yaml'), pipeline('data/scan.npz', 'truth.npz'));
    const r = await capture(['validate', path.join(dir, 'p.yaml')]);
    t.is(r.code, 2);
    t.regex(r.stderr, /2 problems with the input files/);
    t.regex(r.stderr, /sources\.scan: cannot read 'data\/scan\.npz' \(no such file; resolved against the pipeline file's directory to .*data\/scan\.npz\)/);
    t.regex(r.stderr, /sinks\.score: cannot read 'truth\.npz'/);
    t.is(r.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('validate: a directory where a file is expected; --deep checks the scan contract', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pf-validate-'));
  try {
    writeFileSync(path.join(dir, 'dir.yaml'), pipeline('.'));
    const asDir = await capture(['validate', path.join(dir, 'dir.yaml')]);
    t.is(asDir.code, 2);
    t.regex(asDir.stderr, /'\.' is not a regular file/);
    await writeNpz(path.join(dir, 'scan.npz'), { x: { shape: [2], data: Float32Array.of(1, 2), descr: '<f4' } });
    writeFileSync(path.join(dir, 'p.yaml'), pipeline('scan.npz'));
    const shallow = await capture(['validate', path.join(dir, 'p.yaml')]);
    t.is(shallow.code, 0, shallow.stderr);
    t.regex(shallow.stdout, /^ok /);
    const deep = await capture(['validate', '--deep', path.join(dir, 'p.yaml')]);
    t.is(deep.code, 2);
    t.regex(deep.stderr, /'scan\.npz' does not meet the scan contract:\n {4}- \[diffraction\] required array 'diffraction' is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("inspect: ptychoflow's reconstruction NPZ is checked as one (exit 0), and a broken one fails (exit 2)", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pf-inspect-'));
  try {
    const object = { height: 8, width: 10, re: new Float32Array(80).fill(1), im: new Float32Array(80) };
    const probe = { height: 4, width: 4, re: new Float32Array(16).fill(1), im: new Float32Array(16) };
    const file = path.join(dir, 'reconstruction.npz');
    await writeReconstructionNpz(file, { object, placement: { height: 8, width: 10, originX: 0, originY: 0 } }, probe);
    const ok = await capture(['inspect', file]);
    t.is(ok.code, 0, ok.stdout);
    t.regex(ok.stdout, /\(npz, ptychoflow reconstruction layout\)/);
    t.regex(ok.stdout, /reconstruction \(readable by evaluate, refine, epie\): ok/);
    const broken = path.join(dir, 'broken.npz');
    await writeNpz(broken, {
      object: { shape: [8, 10], data: new Float32Array(160), descr: '<c8' },
      probe: { shape: [4, 4], data: new Float32Array(32), descr: '<c8' },
      origin: { shape: [3], data: new Float64Array(3), descr: '<f8' },
    });
    const bad = await capture(['inspect', broken]);
    t.is(bad.code, 2);
    t.regex(bad.stdout, /\[origin\] expected 2 values/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
