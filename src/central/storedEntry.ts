import type { MixKeyPair } from '../node/mixKeys.js';
import type { DeliveryKind } from '../node/wire.js';
import type { PacketGeometry } from '../scramble/geometry.js';

/**
 * What CS keeps per mailbox entry: kind(1) | surbId(16) | payload padded to the
 * packet's payload size, so every delivery frame on the CS→T link has one size
 * whatever it carries (message, SURB reply or dummy).
 */
const KINDS: DeliveryKind[] = ['message', 'surbReply', 'dummy'];

export function encodeStoredEntry(
  kind: DeliveryKind,
  surbId: Uint8Array,
  payload: Uint8Array,
  geometry: PacketGeometry,
): Uint8Array {
  const out = new Uint8Array(1 + 16 + geometry.payloadBytes);
  out[0] = KINDS.indexOf(kind);
  out.set(surbId, 1);
  out.set(payload.subarray(0, geometry.payloadBytes), 17);
  return out;
}

export function decodeStoredEntry(
  bytes: Uint8Array,
): { kind: DeliveryKind; surbId: Uint8Array; payload: Uint8Array } | null {
  const kind = KINDS[bytes[0] as number];
  if (!kind || bytes.length < 17) return null;
  return { kind, surbId: bytes.subarray(1, 17), payload: bytes.subarray(17) };
}

/** Extension points the group layer fills in (P2 tokens are opened at CS). */
export interface DeliveryHooks {
  openToken?: (body: Uint8Array, keys: MixKeyPair[]) => { mailbox: Uint8Array; payload: Uint8Array } | null;
}
