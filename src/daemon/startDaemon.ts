import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CentralNode } from '../central/centralNode.js';
import type { InviteKdf } from '../group/invite.js';
import { GuardedClock, guarded } from '../node/clock.js';
import { type Config, formatHostPort } from '../node/config.js';
import { countDrop, internalErrorReporter, type NodeContext } from '../node/context.js';
import { type ControlConnection, serveControl } from '../node/controlSocket.js';
import type { DirectoryFetcher } from '../node/directoryFetcher.js';
import { MixdError } from '../node/errors.js';
import { loadOrCreateIdentity } from '../node/identity.js';
import { hex } from '../node/ids.js';
import { createMetrics, type MetricsServer, serveMetrics } from '../node/metrics.js';
import { securityProblems } from '../node/securityFloor.js';
import type { NodeStores } from '../node/stores.js';
import type { Peer, Transport } from '../node/transport.js';
import type { ProxyNode } from '../proxy/proxyNode.js';
import type { SourceNode } from '../source/sourceNode.js';
import { CentralRole, directoryParams } from './centralRole.js';
import { ProxyRole } from './proxyRole.js';
import type { MethodHandler, RoleDeps, RoleInstance } from './roleInstance.js';
import type { NodeSpec, Runtime } from './runtime.js';
import { SourceRole } from './sourceRole.js';
import { type DaemonTiming, DEFAULT_TIMING } from './timing.js';

export interface StartOptions {
  /** Unique in its network (seeds, logs); default: the role. */
  name?: string;
  timing?: Partial<DaemonTiming>;
  /** Argon2id cost for invites a source creates (default: 64 MiB, 3 passes). */
  inviteKdf?: InviteKdf;
}

/** A running node: its role, context and stores, and the way to stop it. */
export interface Daemon {
  readonly name: string;
  readonly role: Config['role'];
  /** The config it runs with; `listen.port` is the bound port (so a restart binds the same one). */
  readonly config: Config;
  readonly ctx: NodeContext;
  readonly local: Peer;
  readonly instance: RoleInstance;
  readonly stores: NodeStores;
  readonly central?: CentralNode;
  readonly proxy?: ProxyNode;
  readonly source?: SourceNode;
  /** A proxy's or source's verified copy of the directory. */
  readonly directory?: DirectoryFetcher;
  /** The control socket's path, or null when the runtime serves none. */
  readonly controlPath: string | null;
  /** Adds control methods (also reachable through `call`). */
  addMethods(methods: Record<string, MethodHandler>): void;
  /** Runs a control method in this process, as the control socket would (tests, simulations). */
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

function createRole(deps: RoleDeps): RoleInstance {
  switch (deps.config.role) {
    case 'central':
      return new CentralRole(deps);
    case 'proxy':
      return new ProxyRole(deps);
    case 'source':
      return new SourceRole(deps);
  }
}

const NO_CONNECTION: ControlConnection = { event() {}, onClose() {} };

/**
 * Starts one node of the configured role in the given world (real:
 * realRuntime(); virtual: src/sim/virtualRuntime.ts). Every timer and every
 * datagram callback of the node is guarded: an error is logged, counted in
 * internal_errors and reported to runtime.onInternalError, and the node
 * keeps running.
 */
export async function startDaemon(config: Config, runtime: Runtime, options: StartOptions = {}): Promise<Daemon> {
  if (config.role === 'central' && !config.insecureNoCover) {
    // F12: what CS publishes is what everyone's anonymity rests on; refuse to publish less than the floor.
    const problems = securityProblems(directoryParams(config.network));
    if (problems.length > 0) throw MixdError.INSECURE_NETWORK(problems);
  }
  const spec: NodeSpec = { name: options.name ?? config.role, config };
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const crypto = runtime.crypto(spec);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const identity = loadOrCreateIdentity(crypto, config.dataDir);
  const log = runtime.logger(spec);
  const metrics = createMetrics(config.role);
  const report = internalErrorReporter(log, metrics, (err, where) => runtime.onInternalError?.(spec, err, where));
  const clock = new GuardedClock(runtime.clock, report);
  const stores = await runtime.openStores(spec);

  let instance: RoleInstance | null = null;
  let ctx: NodeContext | null = null;
  let transport: Transport;
  try {
    transport = await runtime.bindTransport(
      { host: config.listen.host, port: config.listen.port },
      guarded(
        (bytes: Uint8Array, from: Peer) => {
          if (instance) instance.onDatagram(bytes, from);
          else if (ctx) countDrop(ctx, 'not_ready');
        },
        (err, where) => {
          // Last line of defence: a bug triggered by one datagram must not kill the node.
          metrics.drops.inc({ reason: 'internal_error' });
          report(err, where);
        },
        'datagram',
      ),
    );
  } catch (err) {
    await stores.close();
    throw err;
  }
  const nodeCtx: NodeContext = {
    crypto,
    identity,
    dataDir: config.dataDir,
    log,
    metrics,
    clock,
    transport,
    now: () => clock.now(),
  };
  ctx = nodeCtx;
  const bound: Config = { ...config, listen: { ...config.listen, port: transport.local.port } };
  const advertise = formatHostPort(transport.local);
  const role = createRole({
    ctx: nodeCtx,
    stores,
    config: bound,
    timing,
    advertise,
    report,
    inviteKdf: options.inviteKdf,
  });
  instance = role;

  const methods: Record<string, MethodHandler> = {
    ...role.methods(),
    status: async () => ({
      ...role.status(),
      identityKey: hex(identity.publicKey),
      listen: advertise,
      metrics: await metrics.snapshot(),
    }),
  };
  const dispatch = (method: string, params: Record<string, unknown>, conn: ControlConnection) => {
    const m = methods[method];
    if (!m) throw MixdError.UNKNOWN_METHOD(method, config.role);
    return m(params, conn);
  };

  let control: { close(): Promise<void> } | null = null;
  let metricsServer: MetricsServer | null = null;
  const controlPath = runtime.localServices ? join(config.dataDir, 'control.sock') : null;
  try {
    role.start();
    if (controlPath) control = await serveControl(controlPath, dispatch);
    if (runtime.localServices && config.metrics) {
      metricsServer = await serveMetrics(metrics, config.metrics.host, config.metrics.port);
    }
  } catch (err) {
    role.stop();
    await control?.close();
    await transport.close();
    await stores.close();
    throw err;
  }
  log.info({ listen: advertise, identityKey: hex(identity.publicKey) }, `${config.role} started`);

  let stopped: Promise<void> | null = null;
  return {
    name: spec.name,
    role: config.role,
    config: bound,
    ctx: nodeCtx,
    local: transport.local,
    instance: role,
    stores,
    central: role instanceof CentralRole ? role.node : undefined,
    proxy: role instanceof ProxyRole ? role.node : undefined,
    source: role instanceof SourceRole ? role.node : undefined,
    directory: role instanceof ProxyRole || role instanceof SourceRole ? role.directory : undefined,
    controlPath,
    addMethods(m) {
      Object.assign(methods, m);
    },
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      return (await dispatch(method, params, NO_CONNECTION)) as T;
    },
    stop() {
      stopped ??= (async () => {
        role.stop();
        await control?.close();
        await metricsServer?.close();
        await transport.close();
        await stores.close();
      })();
      return stopped;
    },
  };
}
