import type { Logger } from 'pino';
import type { Clock } from '../node/clock.js';
import type { Config } from '../node/config.js';
import type { MailboxStoreOptions } from '../node/mailboxStore.js';
import type { NodeStores } from '../node/stores.js';
import type { BindTransport } from '../node/transport.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';

/** One node as the runtime sees it: a name unique in its network (seeds and logs use it) and its config. */
export interface NodeSpec {
  name: string;
  config: Config;
}

/**
 * Everything a node gets from the world it runs in. One startup path
 * (startDaemon) for both worlds:
 *  - the real runtime (src/daemon/realRuntime.ts): SystemClock, UDP sockets,
 *    LMDB stores, the configured crypto backend, control socket and metrics;
 *  - the virtual runtime (src/sim/virtualRuntime.ts, tests and simulations):
 *    VirtualClock, MemoryNetwork, memory stores, seeded crypto, no local services.
 */
export interface Runtime {
  /** The world's clock; each node wraps it in a GuardedClock. */
  readonly clock: Clock;
  readonly bindTransport: BindTransport;
  crypto(node: NodeSpec): CryptoBackend;
  /** The node's stores; opened again on a restart (a memory world hands back the same ones). */
  openStores(node: NodeSpec): Promise<NodeStores>;
  logger(node: NodeSpec): Logger;
  /** After the node logged and counted an internal error (a bug): a testnet fails the test here. */
  onInternalError?(node: NodeSpec, err: unknown, where: string): void;
  /** Serve the control socket and the metrics endpoint (real sockets on this machine). */
  readonly localServices: boolean;
}

/** The mailbox limits of a CS config (entries older than the TTL go; at most `quota` per mailbox). */
export function mailboxOptions(config: Config): MailboxStoreOptions {
  return { ttlMs: config.network.mailboxTtlSeconds * 1000, quota: config.network.mailboxQuota };
}
