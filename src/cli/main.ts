#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../node/config.js';
import { MixdError } from '../node/errors.js';
import { addressCommand, recvCommand, sendCommand, statusCommand } from './client.js';
import { groupCommand } from './group.js';
import { initCommand } from './init.js';
import { simulateCommand } from './simulate.js';

/** Errors a user can fix get one clear line and exit code 2; bugs keep their stack. */
function fail(err: unknown): never {
  if (
    err instanceof ConfigError ||
    (err instanceof MixdError && err.code !== 'INTERNAL') ||
    (err instanceof Error && err.name === 'UsageError')
  ) {
    process.stderr.write(`mixd: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`mixd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

const configOption = (y: Argv) =>
  y
    .option('config', { type: 'string', describe: 'config file (JSON) written by `mixd init`' })
    .option('dir', { type: 'string', describe: 'data directory (uses DIR/mixd.json as the config)' });

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName('mixd')
    .usage('$0 --role central|proxy|source --config FILE\n$0 <command> [options]')
    .command(
      '$0',
      'run a daemon',
      (y) =>
        configOption(y)
          .option('role', { choices: ['central', 'proxy', 'source'] as const, describe: 'role (overrides the config)' })
          .option('listen', { type: 'string', describe: 'HOST:PORT to bind' })
          .option('data-dir', { type: 'string' })
          .option('log-level', { type: 'string' })
          .option('metrics', { type: 'string', describe: 'HOST:PORT for Prometheus metrics' })
          .option('crypto', { type: 'string', describe: 'sodium (default) or noble' })
          .option('central', { type: 'string', describe: 'central server HOST:PORT' })
          .option('central-key', { type: 'string', describe: "central server's public key (hex)" })
          .option('insecure-no-cover', {
            type: 'boolean',
            describe: 'accept network parameters below the security floor (no cover, short delays): tests only',
          })
          .option('keepalive-ms', { type: 'number', hidden: true })
          .option('redeliver-ms', { type: 'number', hidden: true })
          .option('directory-refresh-ms', { type: 'number', hidden: true })
          .option('descriptor-interval-ms', { type: 'number', hidden: true }),
      // Loaded only to run a daemon: the client commands start faster without the roles, LMDB and sockets.
      (argv) => import('./run.js').then((m) => m.runCommand(argv)),
    )
    .command(
      'init',
      'create a data directory with keys and a config file',
      (y) =>
        y
          .option('role', { choices: ['central', 'proxy', 'source'] as const, demandOption: true })
          .option('dir', { type: 'string', demandOption: true, describe: 'data directory to create' })
          .option('listen', { type: 'string', describe: 'HOST:PORT to bind (default 127.0.0.1:0 = any free port)' })
          .option('central', { type: 'string', describe: 'central server HOST:PORT (proxy, source)' })
          .option('central-key', { type: 'string', describe: "central server's public key, hex (proxy, source)" })
          .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing config' }),
      (argv) => initCommand(argv),
    )
    .command('status', 'ask a running daemon for its state', configOption, (argv) => statusCommand(argv))
    .command(
      'group <action> [args..]',
      'groups: create NAME | invite GROUP ADDRESS | join [INVITE] | invites | list | members GROUP | remove GROUP ADDRESS | promote GROUP ADDRESS | leave GROUP | bind GROUP --listen --app',
      (y) =>
        configOption(y)
          .positional('action', { type: 'string' })
          .positional('args', { type: 'string', array: true })
          .option('passphrase-file', {
            type: 'string',
            describe: 'read the passphrase from this file instead of a prompt',
          })
          .option('listen', { type: 'string', describe: 'bind: local UDP port applications send to' })
          .option('app', { type: 'string', describe: 'bind: where group datagrams are sent' }),
      (argv) => groupCommand(argv),
    )
    .command('address', "print this source's address", configOption, (argv) => addressCommand(argv))
    .command(
      'send <target> [text]',
      'send a datagram to a member address (unicast) or a group; stdin when TEXT is missing',
      (y) =>
        configOption(y)
          .positional('target', { type: 'string', demandOption: true })
          .positional('text', { type: 'string' }),
      (argv) => sendCommand(argv),
    )
    .command(
      'recv [group]',
      'print datagrams as they arrive, until interrupted',
      (y) =>
        configOption(y).positional('group', { type: 'string' }).option('json', { type: 'boolean', default: false }),
      (argv) => recvCommand(argv),
    )
    .command(
      'simulate',
      'run a whole network locally (real daemons, real UDP) and report delivery, latency and anonymity',
      (y) =>
        y
          .option('proxies', { type: 'number', describe: 'proxies (default 5)' })
          .option('sources', { type: 'number', describe: 'sources (default 10)' })
          .option('groups', { type: 'number', describe: 'groups (default 3)' })
          .option('group-size', { type: 'number', describe: 'members per group (default 4)' })
          .option('duration', { type: 'number', describe: 'seconds of workload per run (default 8)' })
          .option('rate', { type: 'number', describe: 'group messages per second, whole network (default 8)' })
          .option('mu', { type: 'number', describe: 'mean per-hop delay in ms (default 50)' })
          .option('cover', { type: 'string', describe: 'cover traffic on|off (default on)' })
          .option('lambda', { type: 'number', describe: 'source sending rate with cover, packets/s (default 20)' })
          .option('seed', { type: 'number', describe: 'workload seed (default 1)' })
          .option('json', { type: 'string', describe: 'write the report as JSON to this file' })
          .option('report', { type: 'string', describe: 'write a self-contained HTML report to this file' })
          .option('processes', { type: 'boolean', describe: 'run every daemon as its own OS process' }),
      (argv) => simulateCommand(argv),
    )
    .strict()
    .fail((msg, err) => {
      if (err) fail(err);
      process.stderr.write(`mixd: ${msg}\nRun \`mixd --help\` for usage.\n`);
      process.exit(2);
    })
    .help()
    .parseAsync();
}

main().catch(fail);
