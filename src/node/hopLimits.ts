import {
  CONTROL_FROM_ALL_STRANGERS,
  CONTROL_FROM_KNOWN_ADDRESS,
  CONTROL_FROM_STRANGER,
  SPHINX_FROM_ALL_STRANGERS,
  SPHINX_FROM_DIRECTORY_NODE,
  SPHINX_FROM_STRANGER,
} from './limits.js';
import { PeerRateLimiter } from './rateLimiter.js';
import { FRAME_SPHINX } from './wire.js';

/**
 * The per-previous-hop budget of a mix or CS, checked on every datagram before
 * any cryptography. Peers the node already knows — nodes of the directory
 * (proxies, CS) and, at CS, sources with a live session — get a budget of
 * their own; every other address gets a stranger's, and all strangers together
 * share one cap, so a crowd of strangers cannot take the node's CPU, nor crowd
 * out the peers it already serves. Control frames have their own budgets.
 * Limits are in src/node/limits.ts.
 *
 * UDP source addresses are not authenticated: a spoofer can spend a known
 * peer's budget. That costs the spoofer as much as it costs the link; links
 * authenticated by a handshake would close it (docs/threat-model.md).
 */
export class HopLimits {
  private readonly fromDirectoryNodes: PeerRateLimiter;
  private readonly fromStrangers: PeerRateLimiter;
  private readonly controlFromKnown: PeerRateLimiter;
  private readonly controlFromStrangers: PeerRateLimiter;

  constructor(
    /** Whether "IP:PORT" is a node of the current directory (a proxy or CS). */
    private readonly isDirectoryNode: (peer: string) => boolean,
    nowMs: number,
    /** Whether "IP:PORT" is otherwise known (CS: a source with a live session). */
    private readonly isKnownPeer: (peer: string) => boolean = () => false,
  ) {
    this.fromDirectoryNodes = new PeerRateLimiter(SPHINX_FROM_DIRECTORY_NODE, null, nowMs);
    this.fromStrangers = new PeerRateLimiter(SPHINX_FROM_STRANGER, SPHINX_FROM_ALL_STRANGERS, nowMs);
    this.controlFromKnown = new PeerRateLimiter(CONTROL_FROM_KNOWN_ADDRESS, null, nowMs);
    this.controlFromStrangers = new PeerRateLimiter(CONTROL_FROM_STRANGER, CONTROL_FROM_ALL_STRANGERS, nowMs);
  }

  /** Whether this datagram (its first byte says what it is) from `peer` fits the budget. */
  allow(frame: number | undefined, peer: string, nowMs: number): boolean {
    const known = this.isDirectoryNode(peer);
    if (frame !== FRAME_SPHINX) {
      return known || this.isKnownPeer(peer)
        ? this.controlFromKnown.allow(peer, nowMs)
        : this.controlFromStrangers.allow(peer, nowMs);
    }
    return known ? this.fromDirectoryNodes.allow(peer, nowMs) : this.fromStrangers.allow(peer, nowMs);
  }
}
