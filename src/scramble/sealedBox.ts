import type { CryptoBackend } from './crypto/backend.js';
import { InvalidArgument } from './errors.js';
import type { Rng } from './rng.js';

/**
 * libsodium crypto_box_seal format: epk(32) || crypto_box_easy(m, nonce, pk, esk)
 * with nonce = BLAKE2b-192(epk || pk). This is the seed's "scramble" (temporary
 * key, encrypt, prepend key, encrypt to a public key), in a format every
 * libsodium binding can open. The ephemeral key comes from `rng` so that the
 * codec stays pure; it is fresh per box.
 */
export const SEAL_OVERHEAD = 32 + 16;

function sealNonce(crypto: CryptoBackend, epk: Uint8Array, pk: Uint8Array): Uint8Array {
  const input = new Uint8Array(64);
  input.set(epk, 0);
  input.set(pk, 32);
  return crypto.blake2b(input, 24);
}

export function seal(crypto: CryptoBackend, recipientPublicKey: Uint8Array, message: Uint8Array, rng: Rng): Uint8Array {
  if (recipientPublicKey.length !== 32) throw new InvalidArgument('sealed box recipient key must be 32 bytes');
  const esk = rng(32);
  let epk: Uint8Array;
  let box: Uint8Array;
  try {
    epk = crypto.x25519Base(esk);
    box = crypto.boxEasy(message, sealNonce(crypto, epk, recipientPublicKey), recipientPublicKey, esk);
  } finally {
    // Also when boxEasy refuses a low-order recipient key.
    esk.fill(0);
  }
  const out = new Uint8Array(32 + box.length);
  out.set(epk, 0);
  out.set(box, 32);
  return out;
}

/** Opens a sealed box; null when it is not for this key or was modified. */
export function openSeal(
  crypto: CryptoBackend,
  publicKey: Uint8Array,
  secretKey: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  if (sealed.length < SEAL_OVERHEAD) return null;
  const epk = sealed.subarray(0, 32);
  return crypto.boxOpenEasy(sealed.subarray(32), sealNonce(crypto, epk, publicKey), epk, secretKey);
}
