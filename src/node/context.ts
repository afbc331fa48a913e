import type { Logger } from 'pino';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Clock } from './clock.js';
import type { DropReason } from './dropReasons.js';
import type { Metrics } from './metrics.js';
import type { Transport } from './transport.js';

/** A node's long-term Ed25519 identity. The seed never leaves the data directory. */
export interface Identity {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * What every role gets from the runtime that starts it (src/daemon): the same
 * roles run on real sockets in real time or on a MemoryNetwork in virtual
 * time, and only this context differs.
 */
export interface NodeContext {
  crypto: CryptoBackend;
  identity: Identity;
  dataDir: string;
  log: Logger;
  metrics: Metrics;
  /** Every timer and every reading of the time goes through this clock (guarded: see GuardedClock). */
  clock: Clock;
  transport: Transport;
  /** Shorthand for clock.now(). */
  now: () => number;
}

/** Drop a datagram with a counter and a debug line: never a crash, never silence. */
export function countDrop(ctx: NodeContext, reason: DropReason, detail?: string): void {
  ctx.metrics.drops.inc({ reason });
  ctx.log.debug({ reason, detail }, 'dropped datagram');
}

/**
 * The node's handling of an error a guarded callback caught (a bug, since
 * bad input is dropped with a typed error long before): logged, counted in
 * `internal_errors` by where it happened, and passed on to `onInternalError`
 * (a testnet fails the test there; a daemon just keeps running).
 */
export function internalErrorReporter(
  log: Logger,
  metrics: Metrics,
  onInternalError?: (err: unknown, where: string) => void,
): (err: unknown, where: string) => void {
  return (err, where) => {
    metrics.internalErrors.inc({ where });
    log.error({ err, where }, 'internal error');
    onInternalError?.(err, where);
  };
}
