// The CLI as a user runs it: a child process of bin/ptychoflow.js. Exit codes,
// the JSON summary as the last stdout line, validation output, SIGINT.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
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
