import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { BOX_NONCE_BYTES } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { MalformedMessage, Reader, Writer } from './codec.js';
import type { BoxKeys } from './deliveryFrame.js';
import { type ControlMessage, decodeControl, encodeControl } from './wire.js';

/** The control messages CS sends a source, which travel only boxed (issue 10, F13). */
export type SourceControl = Extract<ControlMessage, { type: 'challenge' | 'registered' | 'error' | 'cookie' }>;
const BOXABLE = new Set<ControlMessage['type']>(['challenge', 'registered', 'error', 'cookie']);

export interface OpenedControl {
  /** The keepalive time (ms) this answers; 0 when it answers no keepalive (challenge, registered). */
  replyTo: number;
  msg: SourceControl;
}

/**
 * CS → source control frames, authenticated like deliveries (deliveryFrame.ts):
 *
 *   boxed.sealed = nonce (24) || crypto_box(replyTo u64 || control frame, nonce, X25519(source), X25519(CS))
 *
 * so that nobody who can merely spoof CS's address can make a source
 * re-register (`error`), adopt a wrong cookie or registration. `replyTo` ties
 * an answer to the keepalive that caused it: a source ignores an `error` that
 * answers a keepalive from before its current registration, so a recorded
 * one cannot be replayed later.
 */
export function boxControl(
  crypto: CryptoBackend,
  keys: BoxKeys,
  msg: SourceControl,
  replyTo: number,
  rng: Rng,
): ControlMessage {
  const inner = new Writer().u64(replyTo).fixed(encodeControl(msg)).finish();
  const nonce = rng(BOX_NONCE_BYTES);
  const box = crypto.boxEasy(inner, nonce, keys.peerPublicKey, keys.secretKey);
  const sealed = new Uint8Array(nonce.length + box.length);
  sealed.set(nonce, 0);
  sealed.set(box, nonce.length);
  return { type: 'boxed', sealed };
}

/** Opens a boxed control frame; MalformedMessage unless it is from our CS, for us, and one of the boxable kinds. */
export function openControl(crypto: CryptoBackend, keys: BoxKeys, sealed: Uint8Array): OpenedControl {
  if (sealed.length < BOX_NONCE_BYTES + 16) throw new MalformedMessage('bad_seal', 'boxed control frame is too short');
  const inner = crypto.boxOpenEasy(
    sealed.subarray(BOX_NONCE_BYTES),
    sealed.subarray(0, BOX_NONCE_BYTES),
    keys.peerPublicKey,
    keys.secretKey,
  );
  if (!inner) throw new MalformedMessage('bad_seal', 'control frame is not from our central server or not for us');
  const r = new Reader(inner);
  const replyTo = r.u64();
  const msg = decodeControl(inner.subarray(r.offset()));
  if (!BOXABLE.has(msg.type)) throw new MalformedMessage('bad_type', `${msg.type} is never boxed`);
  return { replyTo, msg: msg as SourceControl };
}
