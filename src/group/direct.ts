import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { openSeal, seal } from '../scramble/sealedBox.js';
import { encryptionKeyOf } from './address.js';
import { concatBytes } from './bytes.js';

/**
 * Unicast control messages sealed to one member's identity-derived X25519
 * key (invites, rekeys). After the seal opens, the plaintext starts with
 *
 *   version(1) = 1 | kind(1) | body
 *
 * so a source that finds a mailbox entry none of its group keys open can
 * tell an invite from a rekey with one seal-open. Kinds: 1 invite, 2 rekey,
 * 3 datagram, 4 group control (a group message's C0), 5 removal notice,
 * 6 announce (a newcomer and its sender chain, pairwise).
 */
export const DIRECT_VERSION = 1;
export const DIRECT_KIND = { invite: 1, rekey: 2, datagram: 3, groupControl: 4, removal: 5, announce: 6 } as const;

export function sealDirect(
  crypto: CryptoBackend,
  recipientIdentityKey: Uint8Array,
  kind: number,
  body: Uint8Array,
  rng: Rng,
): Uint8Array {
  const pk = encryptionKeyOf(crypto, recipientIdentityKey);
  return seal(crypto, pk, concatBytes(Uint8Array.of(DIRECT_VERSION, kind), body), rng);
}

export interface DirectMessage {
  readonly version: number;
  readonly kind: number;
  readonly body: Uint8Array;
}

/** Null when the seal is not for this identity (or was modified); the caller validates version and kind. */
export function openDirect(crypto: CryptoBackend, identitySeed: Uint8Array, sealed: Uint8Array): DirectMessage | null {
  const sk = crypto.ed25519SeedToX25519(identitySeed);
  const pk = crypto.x25519Base(sk);
  const plain = openSeal(crypto, pk, sk, sealed);
  sk.fill(0);
  if (plain === null || plain.length < 2) return null;
  return { version: plain[0] as number, kind: plain[1] as number, body: plain.subarray(2) };
}
