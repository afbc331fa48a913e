import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { MalformedPacket } from '../scramble/errors.js';
import type { PacketGeometry } from '../scramble/geometry.js';
import { type UnwrapResult, unwrapPacket } from '../scramble/packet.js';
import type { ReplayCache } from '../scramble/replayCache.js';
import { countDrop, type NodeContext } from './context.js';
import type { MixKeyRing } from './mixKeys.js';

export interface Unwrapped {
  result: UnwrapResult;
  /** Epoch of the mix key that opened the packet (the route was built for it). */
  epoch: number;
}

/**
 * Unwraps with the node's held mix keys, current epoch first. The packet does
 * not say which epoch it was built for (that would partition senders by clock
 * skew), so a MAC failure under one key moves on to the next: at most one extra
 * X25519 per held key, only near epoch boundaries or for garbage.
 * The replay tag is checked against the cache of the epoch whose key matched.
 */
export function unwrapWithKeyRing(
  crypto: CryptoBackend,
  geometry: PacketGeometry,
  ring: MixKeyRing,
  replay: ReplayCache,
  packet: Uint8Array,
  nowMs: number,
): Unwrapped {
  let last: MalformedPacket | undefined;
  for (const key of ring.candidates(nowMs)) {
    try {
      const result = unwrapPacket(crypto, geometry, key.secretKey, packet, (tag) =>
        replay.checkAndInsert(key.epoch, tag),
      );
      return { result, epoch: key.epoch };
    } catch (err) {
      if (!(err instanceof MalformedPacket)) throw err;
      // Only a MAC (or point) failure can mean "wrong key"; anything after the MAC is final.
      if (err.reason !== 'bad_mac' && err.reason !== 'bad_point') throw err;
      last = err;
      if (err.reason === 'bad_point') break;
    }
  }
  throw last ?? new MalformedPacket('bad_mac', 'no mix key held');
}

/**
 * The I/O edge of both mixes and CS: unwraps, and on any MalformedPacket
 * counts the drop by reason (replays also as replay hits) and returns null.
 */
export function unwrapOrCount(
  ctx: NodeContext,
  geometry: PacketGeometry,
  ring: MixKeyRing,
  replay: ReplayCache,
  packet: Uint8Array,
): Unwrapped | null {
  try {
    return unwrapWithKeyRing(ctx.crypto, geometry, ring, replay, packet, ctx.now());
  } catch (err) {
    if (!(err instanceof MalformedPacket)) throw err;
    if (err.reason === 'replay') ctx.metrics.replayHits.inc();
    countDrop(ctx, err.reason, err.message);
    return null;
  }
}
