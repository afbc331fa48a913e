import type { CryptoBackend } from './crypto/backend.js';

/**
 * Per-hop key schedule. Extract: PRK = BLAKE2b-256(key = label, msg = s), where s
 * is the X25519 shared secret. Expand: NIST SP 800-108 counter mode with keyed
 * BLAKE2b-512 as the PRF, K(i) = BLAKE2b-512(key = PRK, msg = i || label).
 * Keyed BLAKE2b is a PRF (RFC 7693 §2.5); this is the same shape as
 * libsodium's crypto_kdf and HKDF, with one primitive instead of two.
 */
const EXTRACT_LABEL = new TextEncoder().encode('mixd/sphinx/v1/extract//////////'); // 32 bytes
const EXPAND_LABEL = new TextEncoder().encode('mixd/sphinx/v1/hop-keys');

export interface HopKeys {
  /** ChaCha20 key for the routing information β. */
  headerKey: Uint8Array;
  /** Keyed-BLAKE2b key for the header MAC γ. */
  macKey: Uint8Array;
  /** Four 32-byte Lioness keys (K1..K4) for the payload. */
  payloadKey: Uint8Array;
  /** X25519 scalar that blinds α for the next hop. */
  blinding: Uint8Array;
  /** Replay tag: identical for two copies of one packet at one hop, unrelated otherwise. */
  replayTag: Uint8Array;
  /** The one buffer every field above is a view of, so that wipeHopKeys clears them all. */
  material: Uint8Array;
}

export const HOP_KEY_MATERIAL = 32 + 32 + 128 + 32 + 32;

/** The caller wipes the result with wipeHopKeys (try/finally) once done; `shared` is the caller's too. */
export function deriveHopKeys(crypto: CryptoBackend, shared: Uint8Array): HopKeys {
  const prk = crypto.blake2b(shared, 32, EXTRACT_LABEL);
  const material = new Uint8Array(HOP_KEY_MATERIAL);
  const msg = new Uint8Array(1 + EXPAND_LABEL.length);
  msg.set(EXPAND_LABEL, 1);
  try {
    for (let i = 0; i * 64 < HOP_KEY_MATERIAL; i++) {
      msg[0] = i + 1;
      const block = crypto.blake2b(msg, 64, prk);
      material.set(block, i * 64);
      block.fill(0);
    }
  } finally {
    prk.fill(0);
  }
  return {
    material,
    headerKey: material.subarray(0, 32),
    macKey: material.subarray(32, 64),
    payloadKey: material.subarray(64, 192),
    blinding: material.subarray(192, 224),
    replayTag: material.subarray(224, 256),
  };
}

/** Zeroes every key of `keys` (they share one buffer). */
export function wipeHopKeys(keys: HopKeys): void {
  keys.material.fill(0);
}
