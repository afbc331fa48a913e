import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { installProcessGuard } from '../daemon/processGuard.js';
import { realRuntime } from '../daemon/realRuntime.js';
import { startDaemon } from '../daemon/startDaemon.js';
import { DEFAULT_TIMING } from '../daemon/timing.js';
import { type ConfigOverrides, loadConfig } from '../node/config.js';
import { peerKey, type SentDatagram } from '../node/transport.js';
import { configPathFrom, UsageError } from './usage.js';

interface RunArgs {
  config?: string;
  dir?: string;
  role?: string;
  listen?: string;
  'data-dir'?: string;
  'log-level'?: string;
  metrics?: string;
  crypto?: string;
  central?: string;
  'central-key'?: string;
  'insecure-no-cover'?: boolean;
  'keepalive-ms'?: number;
  'redeliver-ms'?: number;
  'directory-refresh-ms'?: number;
  'descriptor-interval-ms'?: number;
}

/**
 * `mixd simulate --processes` only: record every datagram this daemon sends
 * (wall-clock time, from, to, size) for the simulated global passive
 * adversary. Never set in a real deployment: it is exactly the trace an
 * adversary wants.
 */
function simulationTap(): { out: WriteStream; tap: (d: SentDatagram) => void } | null {
  const dir = process.env.MIXD_SIM_TAP_DIR;
  if (!dir) return null;
  const out = createWriteStream(join(dir, `${process.pid}.jsonl`), { mode: 0o600 });
  const tap = (d: SentDatagram) => {
    out.write(
      `${JSON.stringify({ timeMs: d.timeMs, from: peerKey(d.from), to: peerKey(d.to), size: d.bytes.length })}\n`,
    );
  };
  return { out, tap };
}

export async function runCommand(argv: RunArgs): Promise<void> {
  if (!argv.config && !argv.dir) throw new UsageError('pass --config FILE (or --dir DIR); create one with `mixd init`');
  const overrides: ConfigOverrides = {};
  if (argv.role) overrides.role = argv.role;
  if (argv.listen) overrides.listen = argv.listen;
  if (argv['data-dir']) overrides.dataDir = argv['data-dir'];
  if (argv['log-level']) overrides.logLevel = argv['log-level'];
  if (argv.metrics) overrides.metrics = argv.metrics;
  if (argv.crypto) overrides.crypto = argv.crypto;
  if (argv['insecure-no-cover']) overrides.insecureNoCover = true;
  if (argv.central || argv['central-key']) {
    overrides.central = {};
    if (argv.central) overrides.central.address = argv.central;
    if (argv['central-key']) overrides.central.key = argv['central-key'];
  }
  const config = loadConfig(configPathFrom(argv), overrides);
  const timing = { ...DEFAULT_TIMING };
  if (argv['keepalive-ms']) timing.keepaliveMs = argv['keepalive-ms'];
  if (argv['redeliver-ms']) timing.redeliverMs = argv['redeliver-ms'];
  if (argv['directory-refresh-ms']) timing.directoryRefreshMs = argv['directory-refresh-ms'];
  if (argv['descriptor-interval-ms']) timing.descriptorIntervalMs = argv['descriptor-interval-ms'];
  const sim = simulationTap();
  const daemon = await startDaemon(config, realRuntime({ tap: sim?.tap }), { timing });
  installProcessGuard(daemon.ctx.log, daemon.ctx.metrics);
  const tap = sim?.out;
  const status = {
    ready: true,
    role: daemon.role,
    listen: daemon.local,
    identityKey: Buffer.from(daemon.ctx.identity.publicKey).toString('hex'),
    address: daemon.source?.address,
    control: daemon.controlPath,
  };
  // One machine-readable line on stdout: scripts and tests wait for it.
  process.stdout.write(`${JSON.stringify(status)}\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    daemon.ctx.log.info({ signal }, 'shutting down');
    // A shutdown that hangs (a stuck write, a peer holding a socket) must not leave a zombie daemon.
    setTimeout(() => {
      daemon.ctx.log.error('shutdown did not finish within 10 s; exiting anyway');
      process.exit(1);
    }, 10_000).unref();
    daemon.stop().then(
      () => (tap ? tap.end(() => process.exit(0)) : process.exit(0)),
      (err: unknown) => {
        daemon.ctx.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Last line of defence (issue 10): every socket and timer callback is guarded, so what reaches
  // here is a bug. It is logged with its stack and counted (internal_error); the daemon keeps serving,
  // because exiting would let whoever triggered it switch the node off at will. In-process tests
  // install no such handler, so bugs still fail them.
  const uncaught = (err: unknown) => {
    daemon.ctx.metrics.drops.inc({ reason: 'internal_error' });
    daemon.ctx.log.error({ err }, 'uncaught exception');
  };
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', uncaught);
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
