import { pino } from 'pino';
import { mailboxOptions, type NodeSpec, type Runtime } from '../daemon/runtime.js';
import type { LogLevel } from '../node/config.js';
import type { MemoryNetwork } from '../node/memoryNetwork.js';
import { memoryStores } from '../node/memoryStores.js';
import type { NodeStores } from '../node/stores.js';
import type { VirtualClock } from '../node/virtualClock.js';
import { getCrypto } from '../scramble/crypto/index.js';
import { seededCrypto } from './seededCrypto.js';

export interface VirtualRuntimeOptions {
  clock: VirtualClock;
  network: MemoryNetwork;
  /** Every node's randomness derives from it (and the node's name and start count). */
  seed: number | string;
  logLevel?: LogLevel;
  onInternalError?: (node: NodeSpec, err: unknown, where: string) => void;
}

export interface VirtualRuntime extends Runtime {
  /** Each node's stores, by name: kept across a restart, as a disk would be. */
  readonly stores: Map<string, NodeStores>;
}

/**
 * The world of tests and simulations: VirtualClock, MemoryNetwork, memory
 * stores (src/node/stores.ts says why), seeded real crypto. Deterministic for
 * a seed: the n-th start of node "source3" always gets the same randomness,
 * and a restarted node gets a fresh stream (a restart must not repeat nonces).
 */
export function virtualRuntime(o: VirtualRuntimeOptions): VirtualRuntime {
  const stores = new Map<string, NodeStores>();
  const starts = new Map<string, number>();
  return {
    clock: o.clock,
    bindTransport: o.network.bind,
    stores,
    crypto: ({ name, config }) => {
      const n = starts.get(name) ?? 0;
      starts.set(name, n + 1);
      return seededCrypto(getCrypto(config.crypto), `mixd/sim/${o.seed}/${name}/${n}`);
    },
    openStores: async ({ name, config }) => {
      let s = stores.get(name);
      if (!s) {
        s = memoryStores(mailboxOptions(config));
        stores.set(name, s);
      }
      return s;
    },
    logger: ({ name, config }) =>
      pino(
        { level: o.logLevel ?? 'error', base: { role: config.role, node: name } },
        pino.destination({ dest: 2, sync: true }),
      ),
    onInternalError: o.onInternalError,
    localServices: false,
  };
}
