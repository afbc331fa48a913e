import { formatHostPort } from '../node/config.js';
import { DirectoryFetcher } from '../node/directoryFetcher.js';
import type { Peer } from '../node/transport.js';
import { sourceMethods } from '../source/controlMethods.js';
import { SourceNode } from '../source/sourceNode.js';
import { centralOf } from './proxyRole.js';
import type { MethodHandler, RoleDeps, RoleInstance } from './roleInstance.js';

/** Mixes between a sender and CS on a unicast route (P1, P2, P3). */
const SOURCE_MIX_HOPS = 3;

export class SourceRole implements RoleInstance {
  readonly role = 'source' as const;
  readonly node: SourceNode;
  readonly directory: DirectoryFetcher;
  private readonly control: Record<string, MethodHandler>;
  private readonly deps: RoleDeps;

  constructor(deps: RoleDeps) {
    const { ctx, stores, config, timing, inviteKdf } = deps;
    const central = centralOf(config);
    this.deps = deps;
    this.directory = new DirectoryFetcher(ctx, central.peer, central.key, timing.directoryRefreshMs, {
      insecureNoCover: config.insecureNoCover,
    });
    this.node = new SourceNode(ctx, this.directory, {
      central: central.peer,
      centralKey: central.key,
      keepaliveMs: timing.keepaliveMs,
      mixHops: SOURCE_MIX_HOPS,
      inviteKdf,
      groupRotationMs: config.groupRotationSeconds * 1000,
      groupStore: stores.groups,
    });
    this.control = sourceMethods(this.node);
  }

  start(): void {
    this.directory.start();
    this.node
      .start()
      .then(() => this.bindConfiguredBridges())
      .catch((err: unknown) => this.deps.report(err, 'start'));
  }

  /** The config's local UDP bridges, once the source is up (they need the group list). */
  private async bindConfiguredBridges(): Promise<void> {
    const bind = this.control.groupBind as MethodHandler;
    for (const b of this.deps.config.bridges) {
      await bind(
        { group: b.group, listen: formatHostPort(b.listen), app: formatHostPort(b.app) },
        { event() {}, onClose() {} },
      );
    }
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
    return this.control;
  }
}
