import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../node/config.js';
import { ControlClient } from '../node/controlSocket.js';
import { configPathFrom, UsageError } from './usage.js';

interface Base {
  config?: string;
  dir?: string;
}

async function call<T>(argv: Base, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const config = loadConfig(configPathFrom(argv));
  const c = await ControlClient.connect(join(config.dataDir, 'control.sock'));
  try {
    return await c.call<T>(method, params);
  } finally {
    c.close();
  }
}

/** The passphrase from --passphrase-file, else a prompt on the terminal (not echoed), else stdin's first line. */
async function passphrase(file: string | undefined, prompt: string): Promise<string> {
  if (file) {
    const p = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (!p) throw new UsageError(`${file} is empty: put the passphrase on its first line`);
    return p;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  if (process.stdin.isTTY) {
    process.stderr.write(prompt);
    // Mute the echo: the passphrase must not land in the terminal's scrollback.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  }
  const line = await new Promise<string>((resolve) => rl.once('line', resolve).once('close', () => resolve('')));
  rl.close();
  if (process.stdin.isTTY) process.stderr.write('\n');
  if (!line) throw new UsageError('no passphrase given: type one, or pass --passphrase-file FILE');
  return line;
}

function print(v: unknown): void {
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);
}

export async function groupCommand(
  argv: Base & {
    action?: string;
    args?: string[];
    'passphrase-file'?: string;
    listen?: string;
    app?: string;
  },
): Promise<void> {
  const args = (argv.args ?? []).map(String);
  const need = (n: number, usage: string) => {
    if (args.length < n) throw new UsageError(`usage: mixd group ${usage}`);
  };
  switch (argv.action) {
    case 'create':
      need(1, 'create NAME');
      return print(await call(argv, 'groupCreate', { name: args[0] }));
    case 'invite': {
      need(2, 'invite GROUP ADDRESS [--passphrase-file FILE]');
      const pass = await passphrase(argv['passphrase-file'], 'Passphrase to share with the invitee out of band: ');
      const r = await call<{ id: string; fragments: number }>(argv, 'groupInvite', {
        group: args[0],
        address: args[1],
        passphrase: pass,
      });
      return print(
        `invite sent (${r.fragments} packet${r.fragments === 1 ? '' : 's'}, id ${r.id}); tell ${args[1]} the passphrase over another channel; they join with \`mixd group join ${r.id}\``,
      );
    }
    case 'join': {
      const pending = await call<Array<{ id: string }>>(argv, 'groupInvites');
      if (pending.length === 0)
        throw new UsageError('no invite has arrived yet: ask a member to run `mixd group invite GROUP YOUR-ADDRESS`');
      const pass = await passphrase(argv['passphrase-file'], 'Passphrase for the invite: ');
      return print(await call(argv, 'groupJoin', { invite: args[0] ?? '', passphrase: pass }));
    }
    case 'invites':
      return print(await call(argv, 'groupInvites'));
    case 'list':
      return print(await call(argv, 'groupList'));
    case 'members':
      need(1, 'members GROUP');
      return print(await call(argv, 'groupMembers', { group: args[0] }));
    case 'remove':
      need(2, 'remove GROUP ADDRESS');
      return print(await call(argv, 'groupRemove', { group: args[0], address: args[1] }));
    case 'promote':
      need(2, 'promote GROUP ADDRESS');
      return print(await call(argv, 'groupPromote', { group: args[0], address: args[1] }));
    case 'leave':
      need(1, 'leave GROUP');
      return print(await call(argv, 'groupLeave', { group: args[0] }));
    case 'bind':
      need(1, 'bind GROUP --listen 127.0.0.1:PORT --app 127.0.0.1:APPPORT');
      if (!argv.listen || !argv.app) throw new UsageError('bind needs --listen HOST:PORT and --app HOST:PORT');
      return print(await call(argv, 'groupBind', { group: args[0], listen: argv.listen, app: argv.app }));
    default:
      throw new UsageError(
        `unknown group command "${argv.action ?? ''}": use create, invite, join, invites, list, members, remove, promote, leave or bind`,
      );
  }
}
