import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { join, resolve } from 'node:path';
import { ControlClient } from '../node/controlSocket.js';

/**
 * Real `mixd` processes (integration tests, benchmarks, `simulate --processes`):
 * the CLI entry point, from TypeScript sources through tsx when running from
 * source, else the compiled one.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
export const ROOT = resolve(import.meta.dirname, '..', '..', ...(FROM_SOURCE ? [] : ['..']));
const CLI = FROM_SOURCE ? join(ROOT, 'src', 'cli', 'main.ts') : join(ROOT, 'dist', 'src', 'cli', 'main.js');
const NODE_ARGS = FROM_SOURCE ? ['--import', 'tsx', CLI] : [CLI];
export const FAST = [
  '--keepalive-ms',
  '300',
  '--redeliver-ms',
  '500',
  '--directory-refresh-ms',
  '500',
  '--descriptor-interval-ms',
  '500',
];

export function mixd(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `mixd` without blocking this process (several at once start faster than one after another). */
export function mixdAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (c) => {
    stdout += c;
  });
  proc.stderr?.on('data', (c) => {
    stderr += c;
  });
  return new Promise((resolve) => proc.once('close', (status) => resolve({ status, stdout, stderr })));
}

function initOutput(r: { status: number | null; stdout: string; stderr: string }): Record<string, string> {
  if (r.status !== 0) throw new Error(`mixd init failed: ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const line of r.stdout.trim().split('\n')) {
    const i = line.indexOf(': ');
    out[line.slice(0, i)] = line.slice(i + 2);
  }
  return out;
}

export function initNode(dir: string, role: string, extra: string[] = []): Record<string, string> {
  return initOutput(mixd(['init', '--role', role, '--dir', dir, ...extra]));
}

export async function initNodeAsync(dir: string, role: string, extra: string[] = []): Promise<Record<string, string>> {
  return initOutput(await mixdAsync(['init', '--role', role, '--dir', dir, ...extra]));
}

export async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface NodeProcess {
  proc: ChildProcess;
  ready: {
    role: string;
    listen: { host: string; port: number };
    identityKey: string;
    address?: string;
    control: string;
  };
  stderr: () => string;
  control(): Promise<ControlClient>;
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How long a daemon process may take to print its ready line (tsx compiles on a loaded machine slowly). */
const READY_MS = 90_000;

export function startNode(
  dir: string,
  extra: string[] = [],
  options: { realTiming?: boolean } = {},
): Promise<NodeProcess> {
  const timing = options.realTiming ? [] : FAST;
  const proc = spawn(process.execPath, [...NODE_ARGS, '--dir', dir, ...timing, ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c) => {
    err += c;
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node in ${dir} not ready in ${READY_MS / 1000} s: ${err}`)),
      READY_MS,
    );
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node in ${dir} exited with ${code}: ${err}`));
    });
    proc.stdout?.on('data', (c) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const ready = JSON.parse(out.slice(0, nl));
      const node: NodeProcess = {
        proc,
        ready,
        stderr: () => err,
        control: () => ControlClient.connect(ready.control),
        async call(method, params = {}) {
          const c = await ControlClient.connect(ready.control);
          try {
            return await c.call(method, params);
          } finally {
            c.close();
          }
        },
        async stop(signal = 'SIGTERM') {
          if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
          proc.kill(signal);
          // The daemon gives up on a stuck shutdown after 10 s; never wait for ever here either.
          const guard = setTimeout(() => proc.kill('SIGKILL'), 15_000);
          const code = await exited;
          clearTimeout(guard);
          return code;
        },
      };
      resolvePromise(node);
    });
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Received {
  kind: string;
  group: string | null;
  from: string | null;
  data: string;
  receivedAtMs?: number;
}

export interface Inbox {
  items: Received[];
  /** Resolves at the first item (already here or arriving) that matches. */
  next(match: (d: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): void;
}

/** Collects the datagrams a source delivers to its control-socket subscribers. */
export async function collect(node: NodeProcess): Promise<Inbox> {
  const c = await node.control();
  const items: Received[] = [];
  const waiters: Array<{ match: (d: Received) => boolean; resolve: (d: Received) => void }> = [];
  c.onEvent((name, d) => {
    if (name !== 'datagram') return;
    const item = d as Received;
    items.push(item);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as (typeof waiters)[number];
      if (w.match(item)) {
        waiters.splice(i, 1);
        w.resolve(item);
      }
    }
  });
  await c.call('subscribe');
  return {
    items,
    next(match, timeoutMs = 20_000) {
      const hit = items.find(match);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for a datagram')), timeoutMs);
        waiters.push({
          match,
          resolve: (d) => {
            clearTimeout(timer);
            resolve(d);
          },
        });
      });
    },
    close: () => c.close(),
  };
}

export function text(d: { data: string }): string {
  return Buffer.from(d.data, 'base64').toString('utf8');
}
