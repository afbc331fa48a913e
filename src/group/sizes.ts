import type { PacketGeometry } from '../scramble/geometry.js';
import { SEAL_OVERHEAD } from '../scramble/sealedBox.js';

/**
 * Size arithmetic shared by the group message and fan-out codecs, derived
 * from one invariant: a delivered copy (token | u16 length | seal(pub_G, C0))
 * must fit one packet body. Everything else follows from it.
 */
export const MAILBOX_ID_BYTES = 16;
/** seal(pub_CS, mailboxId): ephemeral key 32 + MAC 16 + 16. */
export const TOKEN_BYTES = SEAL_OVERHEAD + MAILBOX_ID_BYTES;
/** version(1) | sender(32) | index(u32): the part of C0 only the group key opens (groupMessage.ts). */
export const OUTER_HEADER_BYTES = 1 + 32 + 4;
/** XSalsa20-Poly1305 tag of the message-key layer. */
export const SECRETBOX_MAC_BYTES = 16;
/** type(1) | bodyLength(2). */
export const INNER_HEADER_BYTES = 1 + 2;
export const SIGNATURE_BYTES = 64;
/** Everything C0 adds to a datagram: seal + outer header + tag + inner header + signature = 168 bytes. */
export const C0_OVERHEAD =
  SEAL_OVERHEAD + OUTER_HEADER_BYTES + SECRETBOX_MAC_BYTES + INNER_HEADER_BYTES + SIGNATURE_BYTES;
/** version(1) | pub_G(32) | token count(1) | C0 length(2). */
export const FANOUT_HEADER_BYTES = 1 + 32 + 1 + 2;
export const MAX_TOKENS_PER_BUNDLE = 255;

/** Largest C0 whose delivered copy still fits one body. */
export function maxC0Bytes(geometry: PacketGeometry): number {
  return geometry.bodyBytes - TOKEN_BYTES - 2 - SEAL_OVERHEAD;
}

/** Largest datagram (body of a `data` message) one group message can carry. */
export function maxDatagramBytes(geometry: PacketGeometry): number {
  return maxC0Bytes(geometry) - C0_OVERHEAD;
}

/**
 * Length C0 is padded to. CS sees the length of every copy it delivers; if
 * that were the exact datagram length, all copies of one message would share
 * a distinctive length and CS could group them (seed 004: CS must learn a
 * single recipient, not which deliveries belong together). Lengths are
 * rounded up to a power of two (at least 256), capped at the maximum, so CS
 * only ever sees a handful of size classes.
 */
export function paddedC0Length(geometry: PacketGeometry, naturalLength: number): number {
  const max = maxC0Bytes(geometry);
  let n = 256;
  while (n < naturalLength) n *= 2;
  return Math.min(n, max);
}
