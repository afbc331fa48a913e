import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { BOX_NONCE_BYTES } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { MalformedMessage, Reader, Writer } from './codec.js';
import type { DeliveryKind } from './wire.js';

/**
 * A CS→source delivery: nonce(24) | crypto_box(inner, nonce, source's X25519,
 * CS's X25519). The box is authenticated by CS's static key (the X25519 form
 * of the pinned identity key), so nobody can forge deliveries and trick the
 * source into acknowledging (and CS into deleting) entries it never saw, and
 * it is one fixed size whether it carries a message, a SURB reply or a dummy,
 * so an observer of the last link cannot tell cover from content.
 *
 *   inner = entryId u64 | kind u8 | surbId(16) | payload (payloadBytes)
 */
const KINDS: DeliveryKind[] = ['message', 'surbReply', 'dummy'];

export interface Delivery {
  entryId: number;
  kind: DeliveryKind;
  surbId: Uint8Array;
  payload: Uint8Array;
}

export interface BoxKeys {
  /** The other side's X25519 public key. */
  peerPublicKey: Uint8Array;
  /** Our own X25519 secret key. */
  secretKey: Uint8Array;
}

export function sealDelivery(crypto: CryptoBackend, keys: BoxKeys, d: Delivery, rng: Rng): Uint8Array {
  const inner = new Writer().u64(d.entryId).u8(KINDS.indexOf(d.kind)).fixed(d.surbId).fixed(d.payload).finish();
  const nonce = rng(BOX_NONCE_BYTES);
  const box = crypto.boxEasy(inner, nonce, keys.peerPublicKey, keys.secretKey);
  const out = new Uint8Array(nonce.length + box.length);
  out.set(nonce, 0);
  out.set(box, nonce.length);
  return out;
}

/** Opens a delivery; MalformedMessage when it is not from our CS, not for us, or malformed. */
export function openDelivery(crypto: CryptoBackend, keys: BoxKeys, sealed: Uint8Array): Delivery {
  if (sealed.length < BOX_NONCE_BYTES + 16) throw new MalformedMessage('bad_seal', 'delivery is too short');
  const inner = crypto.boxOpenEasy(
    sealed.subarray(BOX_NONCE_BYTES),
    sealed.subarray(0, BOX_NONCE_BYTES),
    keys.peerPublicKey,
    keys.secretKey,
  );
  if (!inner) throw new MalformedMessage('bad_seal', 'delivery is not from our central server or not for us');
  const r = new Reader(inner);
  const entryId = r.u64();
  const kind = KINDS[r.u8()];
  if (!kind) throw new MalformedMessage('bad_field', 'unknown delivery kind');
  const surbId = r.fixed(16);
  const payload = inner.slice(r.offset());
  return { entryId, kind, surbId, payload };
}
