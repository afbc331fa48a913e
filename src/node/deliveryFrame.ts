import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { openSeal, seal } from '../scramble/sealedBox.js';
import { MalformedMessage, Reader, Writer } from './codec.js';
import type { DeliveryKind } from './wire.js';

/**
 * A CS→source delivery, sealed to the source's X25519 key so that an observer
 * of the last link sees one fixed-size opaque frame whether it carries a
 * message, a SURB reply or a dummy (cover), and cannot read entry ids either.
 *
 *   sealed( entryId u64 | kind u8 | surbId(16) | payload (payloadBytes) )
 */
const KINDS: DeliveryKind[] = ['message', 'surbReply', 'dummy'];

export interface Delivery {
  entryId: number;
  kind: DeliveryKind;
  surbId: Uint8Array;
  payload: Uint8Array;
}

export function sealDelivery(crypto: CryptoBackend, recipientX25519: Uint8Array, d: Delivery, rng: Rng): Uint8Array {
  const inner = new Writer().u64(d.entryId).u8(KINDS.indexOf(d.kind)).fixed(d.surbId).fixed(d.payload).finish();
  return seal(crypto, recipientX25519, inner, rng);
}

/** Opens a delivery; MalformedMessage when it is not for us or is malformed. */
export function openDelivery(
  crypto: CryptoBackend,
  publicKey: Uint8Array,
  secretKey: Uint8Array,
  sealed: Uint8Array,
): Delivery {
  const inner = openSeal(crypto, publicKey, secretKey, sealed);
  if (!inner) throw new MalformedMessage('bad_seal', 'delivery is not sealed to this source');
  const r = new Reader(inner);
  const entryId = r.u64();
  const kind = KINDS[r.u8()];
  if (!kind) throw new MalformedMessage('bad_field', 'unknown delivery kind');
  const surbId = r.fixed(16);
  const payload = inner.slice(r.offset());
  return { entryId, kind, surbId, payload };
}
