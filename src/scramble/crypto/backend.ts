/**
 * The only door to cryptographic primitives. Two implementations exist
 * (native libsodium and pure-JS noble) and must agree byte for byte; the
 * packet layer never imports a crypto library directly.
 */
export interface CryptoBackend {
  readonly name: BackendName;
  /** X25519(scalar, u). Throws CryptoFailure when the result is all zero (low-order input). */
  x25519(scalar: Uint8Array, point: Uint8Array): Uint8Array;
  x25519Base(scalar: Uint8Array): Uint8Array;
  /** Ed25519 public key of a 32-byte seed. */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /**
   * IETF ChaCha20 (RFC 8439): 32-byte key, 12-byte nonce, counter 0. Returns a new array, or
   * writes into `output` (same length as `data`; may be `data` itself, not a shifted overlap)
   * and returns it.
   */
  chacha20Xor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, output?: Uint8Array): Uint8Array;
  /** BLAKE2b with output length 16..64 and an optional 16..64-byte key. */
  blake2b(data: Uint8Array, outLen: number, key?: Uint8Array): Uint8Array;
  /** NaCl crypto_box_easy (X25519 + XSalsa20-Poly1305), output = tag(16) || ciphertext. */
  boxEasy(message: Uint8Array, nonce: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** Inverse of boxEasy; null when the tag does not verify. */
  boxOpenEasy(box: Uint8Array, nonce: Uint8Array, publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array | null;
  /** NaCl crypto_secretbox_easy (XSalsa20-Poly1305), 32-byte key, 24-byte nonce, output = tag(16) || ciphertext. */
  secretboxEasy(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  /** Inverse of secretboxEasy; null when the tag does not verify. */
  secretboxOpenEasy(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
  /** Ed25519 public key -> X25519 public key (birational map, libsodium crypto_sign_ed25519_pk_to_curve25519). */
  ed25519PublicToX25519(publicKey: Uint8Array): Uint8Array;
  /** Ed25519 seed -> X25519 secret scalar (libsodium crypto_sign_ed25519_sk_to_curve25519). */
  ed25519SeedToX25519(seed: Uint8Array): Uint8Array;
  /** Argon2id v1.3 with one lane (libsodium crypto_pwhash ALG_ARGON2ID13); salt 16 bytes, memory in bytes. */
  argon2id(password: Uint8Array, salt: Uint8Array, opsLimit: number, memLimitBytes: number, outLen: number): Uint8Array;
  randomBytes(n: number): Uint8Array;
  /** Constant-time equality for MACs and tags (length leak only). */
  equal(a: Uint8Array, b: Uint8Array): boolean;
}

export type BackendName = 'sodium' | 'noble';

export const X25519_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const BOX_NONCE_BYTES = 24;
export const BOX_MAC_BYTES = 16;
