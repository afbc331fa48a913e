import type { InviteKdf } from '../group/invite.js';
import type { InternalErrorReporter } from '../node/clock.js';
import type { Config } from '../node/config.js';
import type { NodeContext } from '../node/context.js';
import type { ControlConnection } from '../node/controlSocket.js';
import type { NodeStores } from '../node/stores.js';
import type { Peer } from '../node/transport.js';
import type { DaemonTiming } from './timing.js';

/** A control-socket method (newline-delimited JSON; src/node/controlSocket.ts). */
export type MethodHandler = (params: Record<string, unknown>, conn: ControlConnection) => unknown;

/**
 * One role running in a daemon (central, proxy or source), whatever world it
 * runs in. startDaemon builds the node's context and stores, then the role
 * instance with every collaborator passed to its constructor, and routes the
 * transport's datagrams to `onDatagram`.
 */
export interface RoleInstance {
  readonly role: 'central' | 'proxy' | 'source';
  /**
   * Starts timers and the role's own startup. Returns at once: what waits
   * for the network (a first directory, registration) goes on in the
   * background, and a failure there is reported as an internal error.
   */
  start(): void;
  /** Stops every timer; the daemon closes the transport and stores afterwards. */
  stop(): void;
  onDatagram(bytes: Uint8Array, from: Peer): void;
  status(): Record<string, unknown>;
  /** Control methods beyond `status` (a source's group and send methods). */
  methods(): Record<string, MethodHandler>;
}

/** What startDaemon hands each role's constructor. */
export interface RoleDeps {
  ctx: NodeContext;
  stores: NodeStores;
  config: Config;
  timing: DaemonTiming;
  /** This node's address as published ("IP:PORT", the bound port). */
  advertise: string;
  /** Receives failures of background startup work. */
  report: InternalErrorReporter;
  /** Argon2id cost of the invites a source creates (default: DEFAULT_INVITE_KDF). */
  inviteKdf?: InviteKdf;
}
