// A nats-server for the scale tests: JetStream on 127.0.0.1, a free port, a
// temp store directory; stopped (and its directory removed) by the caller in
// finally. `restart` stops it and starts it again on the same port and store
// (the file store keeps streams, consumers and objects).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function natsServerBinary(): string | undefined {
  for (const p of [process.env.NATS_SERVER, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (p !== undefined && p !== '' && spawnSync(p, ['--version']).status === 0) return p;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`nats-server not ready in 10 s: ${text}`)), 10_000);
    const on = (b: Buffer): void => {
      text += b.toString();
      if (text.includes('Server is ready')) {
        clearTimeout(timer);
        child.stderr?.off('data', on);
        child.stderr?.resume();
        resolve();
      }
    };
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}): ${text}`));
    });
  });
}

export interface NatsServer {
  url: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its store. */
  dispose(): Promise<void>;
}

export async function startNats(bin: string, extra: readonly string[] = []): Promise<NatsServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptychoflow-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const c = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    await ready(c);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
