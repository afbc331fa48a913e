import type { IndexedDirectory } from '../node/directory.js';
import type { Peer } from '../node/transport.js';
import type { PacketGeometry } from '../scramble/geometry.js';

/** P2's multicast step, provided by the group layer: one fan-out body in, fresh packets out. */
export interface FanoutHandler {
  handle(body: Uint8Array): void;
}

/** What a mix offers its fan-out handler (given to the handler's factory in the ProxyNode constructor). */
export interface FanoutHost {
  /** Null until the mix has its first directory. */
  geometry: () => PacketGeometry | null;
  directory: () => IndexedDirectory | null;
  /** Queue a packet this proxy built for sending at `dueMs` (the mix's own delay queue). */
  enqueue: (packet: Uint8Array, to: Peer, dueMs: number) => boolean;
}
