import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CentralNode } from '../central/centralNode.js';
import { GroupError, type InviteKdf, openDeliveredCopyWithKeys } from '../group/index.js';
import { GroupFanout } from '../proxy/groupFanout.js';
import { ProxyNode } from '../proxy/proxyNode.js';
import { getCrypto } from '../scramble/crypto/index.js';
import { sourceMethods } from '../source/controlMethods.js';
import { SourceNode } from '../source/sourceNode.js';
import { type Config, formatHostPort } from './config.js';
import type { NodeContext } from './context.js';
import { type ControlConnection, serveControl } from './controlSocket.js';
import { MixdError } from './errors.js';

export type MethodHandler = (params: Record<string, unknown>, conn: ControlConnection) => unknown;

import { openDatabase } from './database.js';
import type { NetworkParams } from './directory.js';
import { DirectoryFetcher } from './directoryFetcher.js';
import { loadOrCreateIdentity } from './identity.js';
import { hex } from './ids.js';
import { createLogger } from './logger.js';
import { createMetrics, type MetricsServer, serveMetrics } from './metrics.js';
import { PersistentReplayCache } from './persistentReplayCache.js';
import { securityProblems } from './securityFloor.js';
import { UdpTransport } from './transport.js';

/** Timing knobs that are not network parameters; tests shorten them. */
export interface DaemonTiming {
  keepaliveMs: number;
  directoryRefreshMs: number;
  descriptorIntervalMs: number;
  redeliverMs: number;
}

export const DEFAULT_TIMING: DaemonTiming = {
  keepaliveMs: 5000,
  directoryRefreshMs: 30_000,
  descriptorIntervalMs: 30_000,
  redeliverMs: 3000,
};

export interface Daemon {
  role: Config['role'];
  ctx: NodeContext;
  central?: CentralNode;
  proxy?: ProxyNode;
  source?: SourceNode;
  controlPath: string;
  /** Adds control-socket methods (the group layer registers its own). */
  addMethods(methods: Record<string, MethodHandler>): void;
  stop(): Promise<void>;
}

/** What CS publishes in the directory: the network section less its own mailbox limits. */
function directoryParams(n: Config['network']): NetworkParams {
  const { mailboxTtlSeconds: _ttl, mailboxQuota: _quota, ...published } = n;
  return published;
}

/** Starts one node of the configured role with real sockets and a real database. */
/** In-process knobs that are not part of the config file (simulation, tests). */
export interface DaemonExtras {
  /** Argon2id cost for invites this source creates (default: 64 MiB, 3 passes). */
  inviteKdf?: InviteKdf;
}

export async function startDaemon(
  config: Config,
  timing: DaemonTiming = DEFAULT_TIMING,
  extras: DaemonExtras = {},
): Promise<Daemon> {
  if (config.role === 'central' && !config.insecureNoCover) {
    // F12: what CS publishes is what everyone's anonymity rests on; refuse to publish less than the floor.
    const problems = securityProblems(directoryParams(config.network));
    if (problems.length > 0) throw MixdError.INSECURE_NETWORK(problems);
  }
  const crypto = getCrypto(config.crypto);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const identity = loadOrCreateIdentity(crypto, config.dataDir);
  const log = createLogger(config.role, config.logLevel);
  const metrics = createMetrics(config.role);
  const db = openDatabase(config.dataDir);
  const replay = new PersistentReplayCache(db);

  let handler: (bytes: Uint8Array, from: { host: string; port: number }) => void = () => {};
  const transport = await UdpTransport.bind({ host: config.listen.host, port: config.listen.port }, (b, f) => {
    try {
      handler(b, f);
    } catch (err) {
      // Last line of defence: a bug triggered by one datagram must not kill the node.
      metrics.drops.inc({ reason: 'internal_error' });
      log.error({ err }, 'datagram handler failed');
    }
  });
  const ctx: NodeContext = {
    crypto,
    identity,
    dataDir: config.dataDir,
    log,
    metrics,
    transport,
    now: () => Date.now(),
  };
  const advertise = formatHostPort(transport.local);

  const methods: Record<string, MethodHandler> = {};
  const daemon: Daemon = {
    role: config.role,
    ctx,
    controlPath: join(config.dataDir, 'control.sock'),
    addMethods(m) {
      Object.assign(methods, m);
    },
    stop: async () => {},
  };
  let metricsServer: MetricsServer | null = null;
  let fetcher: DirectoryFetcher | null = null;

  if (config.role === 'central') {
    const central = new CentralNode(ctx, db, replay, {
      params: directoryParams(config.network),
      advertise,
      mailboxTtlMs: config.network.mailboxTtlSeconds * 1000,
      mailboxQuota: config.network.mailboxQuota,
      sessionTimeoutMs: timing.keepaliveMs * 3,
      redeliverMs: timing.redeliverMs,
      admission: {
        allow: config.admission.allow === 'any' ? 'any' : new Set(config.admission.allow),
        maxProxies: config.admission.maxProxies,
        maxProxiesPerIp: config.admission.maxProxiesPerIp,
      },
    });
    // CS opens P2's delivery tokens with its mix keys (current first, then those still held).
    central.hooks.openToken = (body, keys) => {
      try {
        const c = openDeliveredCopyWithKeys(crypto, keys, body);
        return { mailbox: c.mailboxId, payload: c.payload };
      } catch (err) {
        if (err instanceof GroupError) return null;
        throw err;
      }
    };
    handler = (b, f) => central.onDatagram(b, f);
    central.start();
    daemon.central = central;
    methods.status = () => central.status();
  } else {
    const ref = config.central;
    if (!ref) throw MixdError.CONFIG('proxy and source need a "central" section');
    const centralPeer = { host: ref.address.host, port: ref.address.port };
    fetcher = new DirectoryFetcher(ctx, centralPeer, ref.key, timing.directoryRefreshMs, {
      insecureNoCover: config.insecureNoCover,
    });
    if (config.role === 'proxy') {
      const proxy = new ProxyNode(ctx, replay, fetcher, {
        advertise,
        central: centralPeer,
        queueCapacity: config.queue.capacity,
        descriptorIntervalMs: timing.descriptorIntervalMs,
      });
      proxy.fanout = new GroupFanout({
        ctx,
        geometry: () => proxy.geometry,
        directory: () => fetcher?.current() ?? null,
        enqueue: (packet, to, due) => proxy.enqueueOwn(packet, to, due),
      });
      handler = (b, f) => proxy.onDatagram(b, f);
      fetcher.start();
      proxy.start().catch((err) => log.error({ err }, 'proxy start failed'));
      daemon.proxy = proxy;
      methods.status = () => proxy.status();
    } else {
      const source = new SourceNode(ctx, fetcher, {
        central: centralPeer,
        centralKey: ref.key,
        keepaliveMs: timing.keepaliveMs,
        mixHops: 3,
        inviteKdf: extras.inviteKdf,
        groupRotationMs: config.groupRotationSeconds * 1000,
      });
      handler = (b, f) => source.onDatagram(b, f);
      fetcher.start();
      source
        .start()
        .then(async () => {
          for (const b of config.bridges) {
            await (methods.groupBind as MethodHandler)(
              { group: b.group, listen: formatHostPort(b.listen), app: formatHostPort(b.app) },
              { event() {}, onClose() {} },
            );
          }
        })
        .catch((err) => log.error({ err }, 'source start failed'));
      daemon.source = source;
      methods.status = () => source.status();
      Object.assign(methods, sourceMethods(source));
    }
  }

  const baseStatus = methods.status as MethodHandler;
  methods.status = async (p, c) => ({
    ...((await baseStatus(p, c)) as object),
    identityKey: hex(identity.publicKey),
    listen: advertise,
    metrics: await metrics.snapshot(),
  });
  const control = await serveControl(daemon.controlPath, (method, params, conn) => {
    const m = methods[method];
    if (!m) throw MixdError.UNKNOWN_METHOD(method, config.role);
    return m(params, conn);
  });
  if (config.metrics) metricsServer = await serveMetrics(metrics, config.metrics.host, config.metrics.port);
  log.info({ listen: advertise, identityKey: hex(identity.publicKey) }, `${config.role} started`);

  daemon.stop = async () => {
    fetcher?.stop();
    daemon.central?.stop();
    daemon.proxy?.stop();
    daemon.source?.stop();
    await control.close();
    await metricsServer?.close();
    await transport.close();
    await replay.flush();
    await db.close();
  };
  return daemon;
}
