import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realRuntime } from '../daemon/realRuntime.js';
import type { NodeSpec, Runtime } from '../daemon/runtime.js';
import { type Daemon, startDaemon } from '../daemon/startDaemon.js';
import type { DaemonTiming } from '../daemon/timing.js';
import type { InviteKdf } from '../group/invite.js';
import { type Clock, pollingDriver, type TimeDriver, TimeLimitExceeded, type UntilOptions } from '../node/clock.js';
import {
  type Config,
  type CryptoChoice,
  DEFAULT_NETWORK,
  DEFAULT_QUEUE_CAPACITY,
  type LogLevel,
  type NetworkParams,
} from '../node/config.js';
import { ControlClient } from '../node/controlSocket.js';
import { MemoryNetwork, type MemoryNetworkOptions } from '../node/memoryNetwork.js';
import { NO_COVER } from '../node/securityFloor.js';
import type { SentDatagram } from '../node/transport.js';
import { VirtualClock } from '../node/virtualClock.js';
import type { SourceNode } from '../source/sourceNode.js';
import { virtualRuntime } from './virtualRuntime.js';
import { formGroups, localMember, type SimGroup } from './workload.js';

/**
 * A whole network (CS, proxies, sources, real crypto) in this process, for
 * tests and simulations (model: hyperdht testnet.js). Two worlds, one API, so
 * one test body runs on both (model: wireguard-go device_test genTestPair):
 *  - 'virtual' (default): MemoryNetwork + VirtualClock + memory stores +
 *    seeded crypto; deterministic for a seed, and as fast as the CPU allows;
 *  - 'real': UDP on loopback + SystemClock + LMDB, as the daemons run.
 * Time passes only through `until` and `sleep` (in virtual time nothing moves
 * otherwise), with limits in the world's own time: a failing wait fails fast
 * in virtual time and never depends on the machine's load.
 *
 * Any internal error in any node (a throw a guard caught: a bug) fails the
 * current `until`/`sleep` at once and the test at teardown.
 */

export type World = 'virtual' | 'real';

export interface TestnetOptions {
  proxies: number;
  sources: number;
  world?: World;
  /** Network parameters published by CS (default DEFAULT_NETWORK). */
  network?: Partial<NetworkParams>;
  /** Virtual world: seed of every node's randomness and of the links' noise (default 1). */
  seed?: number;
  /** Virtual world: link latency, jitter and loss (default 1 ms, none, none). */
  links?: Omit<MemoryNetworkOptions, 'seed'>;
  /** Virtual world: start time (default VIRTUAL_START_MS). */
  startMs?: number;
  timing?: Partial<DaemonTiming>;
  /** Argon2id cost of invites (default: 1 pass, 8 MiB: tests do not need to resist guessing). */
  inviteKdf?: InviteKdf;
  crypto?: CryptoChoice;
  /** Loopback address of every node: 127.0.0.1 (default) or ::1. */
  host?: '127.0.0.1' | '::1';
  /** Sources rotate the keys of groups they administer this often (0 = never). */
  groupRotationSeconds?: number;
  logLevel?: LogLevel;
  /** How long (world time) the network may take to come up (default 30 s). */
  readyLimitMs?: number;
  /** Real world: serve each node's control socket (default false). */
  controlSockets?: boolean;
  /** Every node accepts parameters below the security floor (src/node/securityFloor.ts): say so explicitly. */
  insecureNoCover?: boolean;
  /** Each proxy's delay-queue capacity (default DEFAULT_QUEUE_CAPACITY). */
  queueCapacity?: number;
  /** CS's admission policy (default: open, and no per-IP cap worth the name: every node shares one IP). */
  admission?: Config['admission'];
}

/** What a testnet needs from a test framework (node-tap's `t` fits). */
export interface TestHost {
  teardown(fn: () => unknown): void;
  fail?(message: string): unknown;
}

export interface InternalErrorRecord {
  node: string;
  where: string;
  err: unknown;
}

/** An internal error (a bug caught by a guard) happened in a node of a testnet. */
export class InternalErrorInTestnet extends Error {
  readonly code = 'INTERNAL_ERROR';
  constructor(readonly record: InternalErrorRecord) {
    const e = record.err;
    super(
      `internal error in ${record.node} (${record.where}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      {
        cause: e,
      },
    );
    this.name = 'InternalErrorInTestnet';
  }
}

export interface Testnet extends TimeDriver {
  readonly world: World;
  readonly clock: Clock;
  /** The memory network (virtual world only): links, interception, held datagrams. */
  readonly network: MemoryNetwork | null;
  readonly root: string;
  central: Daemon;
  readonly proxies: Daemon[];
  readonly sources: Daemon[];
  readonly internalErrors: readonly InternalErrorRecord[];
  /** The i-th source's SourceNode. */
  source(i: number): SourceNode;
  /** Observes every datagram any node sends (both worlds). Returns the unsubscribe function. */
  tap(fn: (d: SentDatagram) => void): () => void;
  /** Forms groups for real (invites through the mixnet, passphrases, announcements). */
  formGroups(groups: SimGroup[], limitMs?: number): Promise<void>;
  /** Stops one node; its stores stay (LMDB on disk, or the memory world's). */
  stopNode(d: Daemon): Promise<void>;
  /** Starts a node again with its name, data directory, port and stores (stopping it first if needed). */
  restartNode(d: Daemon): Promise<Daemon>;
  /**
   * Starts one more source pinning this network's CS key; `central` overrides the address it
   * reaches CS at (e.g. a relay in a test). Stopped with the network. Resolves once it runs, not
   * once it registers.
   */
  addSource(
    name: string,
    options?: { central?: { host: string; port: number }; insecureNoCover?: boolean },
  ): Promise<Daemon>;
  stop(): Promise<void>;
}

/** Fast daemon timing for tests and simulations. */
export const TESTNET_TIMING: DaemonTiming = {
  keepaliveMs: 1000,
  directoryRefreshMs: 1000,
  descriptorIntervalMs: 1000,
  redeliverMs: 1000,
};

export const TEST_INVITE_KDF: InviteKdf = { opsLimit: 1, memLimitBytes: 8 * 1024 * 1024 };

/**
 * What most integration tests run on, for speed: no cover, 50 ms mean delay. It is below the
 * security floor (src/node/securityFloor.ts), so it works only with `insecureNoCover: true`,
 * which every such test passes explicitly.
 */
export const FAST_TEST_NETWORK: Readonly<Partial<NetworkParams>> = Object.freeze({ ...NO_COVER, meanDelayMs: 50 });

/** What tests and benches need of a daemon, wherever it runs: its UDP port and its control methods. */
export interface ControlledNode {
  ready: { role: string; listen: { host: string; port: number } };
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

/**
 * A daemon of this process as a ControlledNode: calls go through its real control socket when it
 * serves one (the same path as the CLI), else through the same dispatcher in process.
 */
export function controlled(d: Daemon): ControlledNode {
  return {
    ready: { role: d.role, listen: d.local },
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      if (!d.controlPath) return d.call<T>(method, params);
      const c = await ControlClient.connect(d.controlPath);
      try {
        return (await c.call(method, params)) as T;
      } finally {
        c.close();
      }
    },
  };
}

function nodeConfig(
  role: Config['role'],
  dataDir: string,
  network: NetworkParams,
  o: TestnetOptions,
  central: Config['central'],
): Config {
  const host = o.host ?? '127.0.0.1';
  return {
    role,
    listen: { host, port: 0, family: host === '::1' ? 6 : 4 },
    dataDir,
    logLevel: o.logLevel ?? 'error',
    metrics: null,
    crypto: o.crypto ?? 'sodium',
    central,
    network,
    queue: { capacity: role === 'proxy' ? (o.queueCapacity ?? DEFAULT_QUEUE_CAPACITY) : DEFAULT_QUEUE_CAPACITY },
    bridges: [],
    groupRotationSeconds: role === 'source' ? (o.groupRotationSeconds ?? 0) : 0,
    insecureNoCover: o.insecureNoCover ?? false,
    // Every node of a testnet shares one IP: let CS list them all.
    admission: o.admission ?? { allow: 'any', maxProxies: 1000, maxProxiesPerIp: 1000 },
  };
}

/**
 * Builds and starts a testnet, waits until every proxy is in every source's
 * directory and every source is registered, and registers its own teardown
 * with `t` (pass null to stop it yourself).
 */
export async function createTestnet(t: TestHost | null, o: TestnetOptions): Promise<Testnet> {
  const world = o.world ?? 'virtual';
  const root = mkdtempSync(join(tmpdir(), `mixd-${world}-`));
  const errors: InternalErrorRecord[] = [];
  const taps = new Set<(d: SentDatagram) => void>();
  const onInternalError = (node: NodeSpec, err: unknown, where: string) => {
    errors.push({ node: node.name, where, err });
  };

  let runtime: Runtime;
  let network: MemoryNetwork | null = null;
  let driver: TimeDriver;
  if (world === 'virtual') {
    const clock = new VirtualClock({ startMs: o.startMs });
    network = new MemoryNetwork(clock, { ...o.links, seed: o.seed ?? 1 });
    runtime = virtualRuntime({ clock, network, seed: o.seed ?? 1, logLevel: o.logLevel, onInternalError });
    driver = clock;
  } else {
    runtime = realRuntime({
      tap: (d) => {
        for (const fn of taps) fn(d);
      },
      onInternalError,
      localServices: o.controlSockets ?? false,
    });
    driver = pollingDriver(runtime.clock);
  }

  const checkErrors = () => {
    const first = errors[0];
    if (first) throw new InternalErrorInTestnet(first);
  };
  const running = new Set<Daemon>();
  /** Every node's drops, for a failed wait's message: what was lost where says most about why. */
  const dropsByNode = async () => {
    const parts: string[] = [];
    for (const d of running) {
      const drops = (await d.ctx.metrics.snapshot()).drops;
      if (Object.keys(drops).length > 0) parts.push(`${d.name} ${JSON.stringify(drops)}`);
    }
    return parts.length > 0 ? `drops: ${parts.join('; ')}` : 'no drops anywhere';
  };
  const until = async (cond: () => boolean | Promise<boolean>, options: UntilOptions) => {
    checkErrors();
    try {
      await driver.until(() => {
        checkErrors();
        return cond();
      }, options);
    } catch (err) {
      if (err instanceof TimeLimitExceeded) err.message += ` (${await dropsByNode()})`;
      throw err;
    }
    checkErrors();
  };
  const sleep = async (ms: number) => {
    checkErrors();
    await driver.sleep(ms);
    checkErrors();
  };

  const networkParams: NetworkParams = { ...DEFAULT_NETWORK, ...o.network };
  const start = { timing: { ...TESTNET_TIMING, ...o.timing }, inviteKdf: o.inviteKdf ?? TEST_INVITE_KDF };
  const launch = async (config: Config, name: string) => {
    const d = await startDaemon(config, runtime, { ...start, name });
    running.add(d);
    return d;
  };

  let stopping: Promise<void> | null = null;
  const stopAll = () => {
    stopping ??= (async () => {
      for (const d of [...running].reverse()) await d.stop();
      running.clear();
      rmSync(root, { recursive: true, force: true });
    })();
    return stopping;
  };
  t?.teardown(async () => {
    await stopAll();
    if (errors.length > 0 && t.fail) {
      for (const e of errors) t.fail(new InternalErrorInTestnet(e).message);
    }
  });

  try {
    const central = await launch(nodeConfig('central', join(root, 'central'), networkParams, o, null), 'central');
    const ref: Config['central'] = {
      address: { host: central.local.host, port: central.local.port, family: central.config.listen.family },
      key: central.ctx.identity.publicKey,
    };
    const proxies: Daemon[] = [];
    for (let i = 0; i < o.proxies; i++) {
      proxies.push(await launch(nodeConfig('proxy', join(root, `proxy${i}`), networkParams, o, ref), `proxy${i}`));
    }
    const sources: Daemon[] = [];
    for (let i = 0; i < o.sources; i++) {
      sources.push(await launch(nodeConfig('source', join(root, `source${i}`), networkParams, o, ref), `source${i}`));
    }

    const net: Testnet = {
      world,
      clock: runtime.clock,
      network,
      root,
      central,
      proxies,
      sources,
      internalErrors: errors,
      until,
      sleep,
      source(i) {
        const s = sources[i]?.source;
        if (!s) throw new RangeError(`no source ${i} in this testnet`);
        return s;
      },
      tap(fn) {
        if (network) return network.tap(fn);
        taps.add(fn);
        return () => taps.delete(fn);
      },
      async formGroups(groups, limitMs = 120_000) {
        await formGroups(
          sources.map((d) => localMember(d.source as SourceNode)),
          groups,
          { until, sleep },
          limitMs,
        );
      },
      async stopNode(d) {
        running.delete(d);
        await d.stop();
      },
      async restartNode(d) {
        running.delete(d);
        await d.stop();
        const again = await launch(d.config, d.name);
        for (const list of [proxies, sources]) {
          const i = list.indexOf(d);
          if (i >= 0) list[i] = again;
        }
        if (net.central === d) net.central = again;
        return again;
      },
      async addSource(name, options = {}) {
        const config = nodeConfig('source', join(root, name), networkParams, o, {
          ...ref,
          address: options.central ? { ...ref.address, ...options.central } : ref.address,
        });
        if (options.insecureNoCover !== undefined) config.insecureNoCover = options.insecureNoCover;
        return launch(config, name);
      },
      stop: stopAll,
    };

    // Proxies too must know every proxy: a mix with an older directory drops packets to a next hop it
    // has not heard of yet (unknown_next_hop).
    const fullDirectory = (d: Daemon) => d.directory?.current()?.proxies.length === o.proxies;
    await until(
      () =>
        sources.every((s) => s.source?.registered && fullDirectory(s)) &&
        proxies.every((p) => p.proxy?.status().ready === true && fullDirectory(p)),
      { limitMs: o.readyLimitMs ?? 30_000, what: 'every node with a full directory and every source registered' },
    );
    return net;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
