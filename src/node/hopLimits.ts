import {
  CONTROL_FROM_ALL_ADDRESSES,
  CONTROL_FROM_ONE_ADDRESS,
  SPHINX_FROM_ALL_STRANGERS,
  SPHINX_FROM_DIRECTORY_NODE,
  SPHINX_FROM_STRANGER,
} from './limits.js';
import { PeerRateLimiter } from './rateLimiter.js';
import { FRAME_SPHINX } from './wire.js';

/**
 * The per-previous-hop budget of a mix or CS, checked on every datagram before
 * any cryptography: Sphinx packets from nodes the directory lists (proxies, CS)
 * get a mix's budget, every other address a source's, and all those others
 * together a shared cap; control frames have their own per-address budget.
 * Limits are in src/node/limits.ts.
 *
 * UDP source addresses are not authenticated: a spoofer can spend a listed
 * node's budget. That costs the spoofer as much as it costs the link; links
 * authenticated by a handshake would close it (docs/threat-model.md).
 */
export class HopLimits {
  private readonly fromDirectoryNodes: PeerRateLimiter;
  private readonly fromStrangers: PeerRateLimiter;
  private readonly control: PeerRateLimiter;

  constructor(
    /** Whether "IP:PORT" is a node of the current directory (a proxy or CS). */
    private readonly isDirectoryNode: (peer: string) => boolean,
    nowMs: number,
  ) {
    this.fromDirectoryNodes = new PeerRateLimiter(SPHINX_FROM_DIRECTORY_NODE, null, nowMs);
    this.fromStrangers = new PeerRateLimiter(SPHINX_FROM_STRANGER, SPHINX_FROM_ALL_STRANGERS, nowMs);
    this.control = new PeerRateLimiter(CONTROL_FROM_ONE_ADDRESS, CONTROL_FROM_ALL_ADDRESSES, nowMs);
  }

  /** Whether this datagram (its first byte says what it is) from `peer` fits the budget. */
  allow(frame: number | undefined, peer: string, nowMs: number): boolean {
    if (frame !== FRAME_SPHINX) return this.control.allow(peer, nowMs);
    if (this.isDirectoryNode(peer)) return this.fromDirectoryNodes.allow(peer, nowMs);
    return this.fromStrangers.allow(peer, nowMs);
  }
}
