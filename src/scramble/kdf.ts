import type { CryptoBackend } from './crypto/backend.js';

/**
 * Per-hop key schedule, extract-then-expand (HKDF's shape, RFC 5869 §1):
 *   extract: PRK = BLAKE2b-256(key = EXTRACT_LABEL, msg = s), s the X25519 shared secret. Keyed
 *            BLAKE2b is a PRF (RFC 7693 §2.5), so PRK is a uniform 32-byte key.
 *   expand:  M = ChaCha20(key = PRK, nonce = EXPAND_NONCE, counter 0) keystream, 256 bytes.
 * The expand step is the PRG of the Sphinx paper (ρ keyed by a hash of s), the same way libsodium's
 * randombytes_buf_deterministic stretches a seed. One ChaCha20 call replaces the four BLAKE2b-512
 * calls of the v1 schedule (SP 800-108 counter mode), which cost a mix 0.1–0.15 X25519 per packet.
 * PRK is used for nothing else and is wiped at once.
 */
const EXTRACT_LABEL = new TextEncoder().encode('mixd/sphinx/v2/extract//////////'); // 32 bytes
const EXPAND_NONCE = new TextEncoder().encode('mixd/hopkeys'); // 12 bytes, ChaCha20-IETF nonce

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
  try {
    crypto.chacha20Xor(prk, EXPAND_NONCE, material, material);
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
