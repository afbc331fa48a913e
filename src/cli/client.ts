import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../node/config.js';
import { ControlClient } from '../node/controlSocket.js';
import { configPathFrom } from './usage.js';

async function connect(argv: { config?: string; dir?: string }): Promise<ControlClient> {
  const config = loadConfig(configPathFrom(argv));
  return ControlClient.connect(join(config.dataDir, 'control.sock'));
}

export async function statusCommand(argv: { config?: string; dir?: string }): Promise<void> {
  const c = await connect(argv);
  const status = await c.call('status');
  process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  c.close();
}

export async function addressCommand(argv: { config?: string; dir?: string }): Promise<void> {
  const c = await connect(argv);
  process.stdout.write(`${await c.call<string>('address')}\n`);
  c.close();
}

function readStdin(): Buffer {
  return readFileSync(0);
}

export async function sendCommand(argv: {
  config?: string;
  dir?: string;
  target?: string;
  text?: string;
}): Promise<void> {
  const data = argv.text !== undefined ? Buffer.from(argv.text, 'utf8') : readStdin();
  const c = await connect(argv);
  const target = argv.target as string;
  const method = target.includes('@') ? 'sendTo' : 'groupSend';
  const params =
    method === 'sendTo'
      ? { to: target, data: data.toString('base64') }
      : { group: target, data: data.toString('base64') };
  await c.call(method, params);
  c.close();
}

export async function recvCommand(argv: {
  config?: string;
  dir?: string;
  group?: string;
  json?: boolean;
}): Promise<void> {
  const c = await connect(argv);
  c.onEvent((name, raw) => {
    if (name !== 'datagram') return;
    const d = raw as { kind: string; group: string | null; from: string | null; data: string };
    if (argv.group && d.group !== argv.group) return;
    if (argv.json) process.stdout.write(`${JSON.stringify(d)}\n`);
    else {
      const text = Buffer.from(d.data, 'base64');
      const who = d.from ?? 'anonymous';
      process.stdout.write(`[${d.group ?? 'direct'}] ${who}: ${text.toString('utf8')}\n`);
    }
  });
  await c.call('subscribe', { group: argv.group ?? null });
  process.stderr.write(`mixd: receiving${argv.group ? ` for ${argv.group}` : ''}; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  c.close();
}
