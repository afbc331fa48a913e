import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, DEFAULT_NETWORK, DEFAULT_QUEUE_CAPACITY, type NetworkParams } from '../node/config.js';
import { ControlClient } from '../node/controlSocket.js';
import { type Daemon, type DaemonExtras, type DaemonTiming, startDaemon } from '../node/daemon.js';
import { NO_COVER } from '../node/securityFloor.js';

export interface LocalNetworkOptions {
  proxies: number;
  sources: number;
  network?: Partial<NetworkParams>;
  timing?: Partial<DaemonTiming>;
  logLevel?: Config['logLevel'];
  extras?: DaemonExtras;
  /** Crypto backend of every daemon (default sodium). */
  crypto?: Config['crypto'];
  /** Loopback address to run on: 127.0.0.1 (default) or ::1. */
  host?: '127.0.0.1' | '::1';
  /** Sources rotate the keys of groups they administer this often (0 = never). */
  groupRotationSeconds?: number;
  /** Every node accepts parameters below the security floor (src/node/securityFloor.ts): say so explicitly. */
  insecureNoCover?: boolean;
  /** Each proxy's delay-queue capacity (default DEFAULT_QUEUE_CAPACITY). */
  queueCapacity?: number;
  /** CS's admission policy (default: open, and no per-IP cap worth the name: every node shares one IP). */
  admission?: Config['admission'];
}

export interface LocalNetwork {
  root: string;
  central: Daemon;
  proxies: Daemon[];
  sources: Daemon[];
  /**
   * Starts one more source, pinning this network's CS key; `central` overrides the address it
   * reaches CS at (e.g. a relay in a test). Stopped with the network. Resolves once it runs, not
   * once it registers.
   */
  addSource(
    name: string,
    options?: { central?: { host: string; port: number }; insecureNoCover?: boolean },
  ): Promise<Daemon>;
  stop(): Promise<void>;
}

/** What tests and benches need of a daemon, wherever it runs: its UDP port and its control socket. */
export interface ControlledNode {
  ready: { role: string; listen: { host: string; port: number } };
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

/** A daemon of this process as a ControlledNode (calls go through its real control socket). */
export function controlled(d: Daemon): ControlledNode {
  return {
    ready: { role: d.role, listen: d.ctx.transport.local },
    async call(method, params = {}) {
      const c = await ControlClient.connect(d.controlPath);
      try {
        return await c.call(method, params);
      } finally {
        c.close();
      }
    },
  };
}

/**
 * What most integration tests run on, for speed: no cover, 50 ms mean delay. It is below the
 * security floor (src/node/securityFloor.ts), so it works only with `insecureNoCover: true`,
 * which every such test passes explicitly.
 */
export const FAST_TEST_NETWORK: Readonly<Partial<NetworkParams>> = Object.freeze({ ...NO_COVER, meanDelayMs: 50 });

const SIM_TIMING: DaemonTiming = {
  keepaliveMs: 1000,
  directoryRefreshMs: 1000,
  descriptorIntervalMs: 1000,
  redeliverMs: 1000,
};

function baseConfig(
  role: Config['role'],
  dataDir: string,
  network: NetworkParams,
  logLevel: Config['logLevel'],
  host: '127.0.0.1' | '::1' = '127.0.0.1',
  crypto: Config['crypto'] = 'sodium',
  insecureNoCover = false,
  admission?: Config['admission'],
): Config {
  return {
    role,
    listen: { host, port: 0, family: host === '::1' ? 6 : 4 },
    dataDir,
    logLevel,
    metrics: null,
    crypto,
    central: null,
    network,
    queue: { capacity: DEFAULT_QUEUE_CAPACITY },
    bridges: [],
    groupRotationSeconds: 0,
    insecureNoCover,
    // Every node of a local network shares one IP: let CS list them all.
    admission: admission ?? { allow: 'any', maxProxies: 1000, maxProxiesPerIp: 1000 },
  };
}

/**
 * A whole network in this process: real daemons, real UDP sockets on
 * loopback, real LMDB stores in a temporary directory.
 */
export async function startLocalNetwork(opts: LocalNetworkOptions): Promise<LocalNetwork> {
  const root = mkdtempSync(join(tmpdir(), 'mixd-sim-'));
  const network = { ...DEFAULT_NETWORK, ...opts.network };
  const timing = { ...SIM_TIMING, ...opts.timing };
  const logLevel = opts.logLevel ?? 'error';
  const central = await startDaemon(
    baseConfig(
      'central',
      join(root, 'central'),
      network,
      logLevel,
      opts.host,
      opts.crypto,
      opts.insecureNoCover,
      opts.admission,
    ),
    timing,
  );
  const ref = {
    address: {
      host: opts.host ?? '127.0.0.1',
      port: central.ctx.transport.local.port,
      family: opts.host === '::1' ? (6 as const) : (4 as const),
    },
    key: central.ctx.identity.publicKey,
  };
  const proxies: Daemon[] = [];
  for (let i = 0; i < opts.proxies; i++) {
    const c = baseConfig(
      'proxy',
      join(root, `proxy${i}`),
      network,
      logLevel,
      opts.host,
      opts.crypto,
      opts.insecureNoCover,
    );
    c.central = ref;
    if (opts.queueCapacity) c.queue = { capacity: opts.queueCapacity };
    proxies.push(await startDaemon(c, timing));
  }
  const sources: Daemon[] = [];
  for (let i = 0; i < opts.sources; i++) {
    const c = baseConfig(
      'source',
      join(root, `source${i}`),
      network,
      logLevel,
      opts.host,
      opts.crypto,
      opts.insecureNoCover,
    );
    c.central = ref;
    c.groupRotationSeconds = opts.groupRotationSeconds ?? 0;
    sources.push(await startDaemon(c, timing, opts.extras));
  }
  // Ready when every proxy is in the directory and every source is registered.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const dirProxies = sources.map((s) => s.source?.directory.current()?.proxies.length ?? 0);
    const registered = sources.every((s) => s.source?.registered);
    if (registered && dirProxies.every((n) => n === opts.proxies)) break;
    if (Date.now() > deadline) throw new Error('local network did not come up within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const extra: Daemon[] = [];
  return {
    root,
    central,
    proxies,
    sources,
    async addSource(name, o = {}) {
      const insecure = o.insecureNoCover ?? opts.insecureNoCover;
      const c = baseConfig('source', join(root, name), network, logLevel, opts.host, opts.crypto, insecure);
      c.central = o.central ? { ...ref, address: { ...ref.address, ...o.central } } : ref;
      const d = await startDaemon(c, timing, opts.extras);
      extra.push(d);
      return d;
    },
    async stop() {
      for (const d of [...extra, ...sources, ...proxies, central]) await d.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
