// Shutdown on signals: SIGTERM stops a training run within one batch (well
// before its epoch would end), prints the summary and exits 143, leaving no
// temp files; a second signal exits at once and still removes the temp files
// registered at that moment.
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { onShutdownSignals, trackTemp } from '../../src/util/signals.js';

const root = path.resolve(import.meta.dirname, '../..');

test('a second signal exits at once with 128 + signo and removes the registered temp files', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pf-sig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tmp = path.join(dir, 'spill');
  writeFileSync(tmp, 'x');
  const untrack = trackTemp(tmp);
  const source = new EventEmitter();
  const seen: string[] = [];
  const exits: number[] = [];
  const off = onShutdownSignals({ onFirst: (s) => seen.push(s), source, exit: (c) => exits.push(c) });
  source.emit('SIGTERM');
  t.deepEqual(seen, ['SIGTERM']);
  t.true(existsSync(tmp), 'the first signal only asks the run to stop');
  source.emit('SIGTERM');
  t.deepEqual(exits, [143]);
  t.false(existsSync(tmp));
  off();
  untrack();
  t.is(source.listenerCount('SIGINT') + source.listenerCount('SIGTERM'), 0);
});

test('SIGTERM mid-epoch: the run stops within a batch, prints the summary, exits 143, leaves no temp files', async (t) => {
  const out = path.join(root, 'out/test-train-signal');
  rmSync(out, { recursive: true, force: true });
  const file = path.join(root, 'test/fixtures/pipelines/train-signal.yaml');
  let sentAt = 0;
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/ptychoflow.js'), 'run', file, '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (sentAt === 0 && stderr.includes('model:')) {
        sentAt = performance.now();
        setTimeout(() => child.kill('SIGTERM'), 1500);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - sentAt }));
  });
  t.true(sentAt > 0, r.stderr);
  t.is(r.code, 143, r.stderr);
  t.regex(r.stderr, /SIGTERM: stopping cleanly/);
  // The epoch had 1 600+ batches left: stopping before it ended shows the signal was acted on within a batch.
  t.regex(r.stderr, /interrupted before the first epoch ended/);
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { status: string };
  t.is(last.status, 'aborted');
  const left = existsSync(out) ? readdirSync(out).filter((n) => n.includes('.tmp')) : [];
  t.deepEqual(left, []);
});
