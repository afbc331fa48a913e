import type { Logger } from 'pino';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { DropReason } from './dropReasons.js';
import type { Metrics } from './metrics.js';
import type { UdpTransport } from './transport.js';

/** A node's long-term Ed25519 identity. The seed never leaves the data directory. */
export interface Identity {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/** What every role gets from the daemon runtime (src/node/daemon.ts). */
export interface NodeContext {
  crypto: CryptoBackend;
  identity: Identity;
  dataDir: string;
  log: Logger;
  metrics: Metrics;
  transport: UdpTransport;
  now: () => number;
}

/** Drop a datagram with a counter and a debug line: never a crash, never silence. */
export function countDrop(ctx: NodeContext, reason: DropReason, detail?: string): void {
  ctx.metrics.drops.inc({ reason });
  ctx.log.debug({ reason, detail }, 'dropped datagram');
}
