import { SystemClock } from '../node/clock.js';
import { openLmdbStores } from '../node/lmdbStores.js';
import { createLogger } from '../node/logger.js';
import { bindUdp, type SentDatagram, tappedBind } from '../node/transport.js';
import { getCrypto } from '../scramble/crypto/index.js';
import { mailboxOptions, type NodeSpec, type Runtime } from './runtime.js';

export interface RealRuntimeOptions {
  /**
   * Observer of every datagram sent (simulations only: `simulate --real` and
   * `--processes`). A deployed daemon never has one: it is the trace an
   * adversary wants.
   */
  tap?: (d: SentDatagram) => void;
  onInternalError?: (node: NodeSpec, err: unknown, where: string) => void;
  /** Control socket and metrics endpoint (default true). */
  localServices?: boolean;
}

/** Real time, real UDP sockets, LMDB stores: what `mixd` runs on. */
export function realRuntime(options: RealRuntimeOptions = {}): Runtime {
  const clock = new SystemClock();
  const tap = options.tap;
  return {
    clock,
    bindTransport: tap ? tappedBind(bindUdp, () => clock.preciseNow(), tap) : bindUdp,
    crypto: ({ config }) => getCrypto(config.crypto),
    openStores: async ({ config }) => openLmdbStores(config.dataDir, mailboxOptions(config)),
    logger: ({ config }) => createLogger(config.role, config.logLevel),
    onInternalError: options.onInternalError,
    localServices: options.localServices ?? true,
  };
}
