import { DirectoryFetcher } from '../node/directoryFetcher.js';
import { MixdError } from '../node/errors.js';
import type { Peer } from '../node/transport.js';
import { GroupFanout } from '../proxy/groupFanout.js';
import { ProxyNode } from '../proxy/proxyNode.js';
import type { MethodHandler, RoleDeps, RoleInstance } from './roleInstance.js';

/** The CS a proxy or source is configured with, or a clear error. */
export function centralOf(config: RoleDeps['config']): { peer: Peer; key: Uint8Array } {
  const ref = config.central;
  if (!ref) throw MixdError.CONFIG(`a ${config.role} needs a "central" section in its config`);
  return { peer: { host: ref.address.host, port: ref.address.port }, key: ref.key };
}

export class ProxyRole implements RoleInstance {
  readonly role = 'proxy' as const;
  readonly node: ProxyNode;
  readonly directory: DirectoryFetcher;
  private readonly report: RoleDeps['report'];

  constructor({ ctx, stores, config, timing, advertise, report }: RoleDeps) {
    const central = centralOf(config);
    this.report = report;
    this.directory = new DirectoryFetcher(ctx, central.peer, central.key, timing.directoryRefreshMs, {
      insecureNoCover: config.insecureNoCover,
    });
    this.node = new ProxyNode(
      ctx,
      stores.replay,
      this.directory,
      {
        advertise,
        central: central.peer,
        queueCapacity: config.queue.capacity,
        descriptorIntervalMs: timing.descriptorIntervalMs,
      },
      (host) => new GroupFanout({ ctx, ...host }),
    );
  }

  start(): void {
    this.directory.start();
    this.node.start().catch((err: unknown) => this.report(err, 'start'));
  }

  stop(): void {
    this.directory.stop();
    this.node.stop();
  }

  onDatagram(bytes: Uint8Array, from: Peer): void {
    this.node.onDatagram(bytes, from);
  }

  status(): Record<string, unknown> {
    return this.node.status();
  }

  methods(): Record<string, MethodHandler> {
    return {};
  }
}
