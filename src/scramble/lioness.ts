import type { CryptoBackend } from './crypto/backend.js';
import { InvalidArgument } from './errors.js';

/**
 * Lioness (Anderson–Biham 1996) wide-block cipher: four Feistel rounds over
 * L (32 bytes) || R, with ChaCha20 keyed by L xor K as the stream cipher and
 * keyed BLAKE2b-256 as the hash. Changing any bit of the block garbles all of
 * it, so a payload tag planted by a malicious hop is destroyed, not carried
 * (the tagging attack a plain stream cipher would allow).
 *
 * key = K1 || K2 || K3 || K4, 32 bytes each.
 */
export const LIONESS_KEY_BYTES = 128;
const ZERO_NONCE = new Uint8Array(12);
/** Round key L xor Ki, reused (every call is synchronous) and wiped after each block. */
const roundKey = new Uint8Array(32);

function streamRound(crypto: CryptoBackend, l: Uint8Array, k: Uint8Array, r: Uint8Array): void {
  for (let i = 0; i < 32; i++) roundKey[i] = (l[i] as number) ^ (k[i] as number);
  crypto.chacha20Xor(roundKey, ZERO_NONCE, r, r);
}

function hashRound(crypto: CryptoBackend, r: Uint8Array, k: Uint8Array, l: Uint8Array): void {
  const h = crypto.blake2b(r, 32, k);
  for (let i = 0; i < 32; i++) l[i] = (l[i] as number) ^ (h[i] as number);
  h.fill(0);
}

function check(key: Uint8Array, block: Uint8Array): void {
  if (key.length !== LIONESS_KEY_BYTES) throw new InvalidArgument('Lioness key must be 128 bytes');
  if (block.length <= 32) throw new InvalidArgument('Lioness block must be longer than 32 bytes');
}

/** Encrypts `block` in place (no copy: the hot path of a mix). */
export function lionessEncryptInPlace(crypto: CryptoBackend, key: Uint8Array, block: Uint8Array): void {
  check(key, block);
  const l = block.subarray(0, 32);
  const r = block.subarray(32);
  try {
    streamRound(crypto, l, key.subarray(0, 32), r);
    hashRound(crypto, r, key.subarray(32, 64), l);
    streamRound(crypto, l, key.subarray(64, 96), r);
    hashRound(crypto, r, key.subarray(96, 128), l);
  } finally {
    roundKey.fill(0);
  }
}

/** Decrypts `block` in place. */
export function lionessDecryptInPlace(crypto: CryptoBackend, key: Uint8Array, block: Uint8Array): void {
  check(key, block);
  const l = block.subarray(0, 32);
  const r = block.subarray(32);
  try {
    hashRound(crypto, r, key.subarray(96, 128), l);
    streamRound(crypto, l, key.subarray(64, 96), r);
    hashRound(crypto, r, key.subarray(32, 64), l);
    streamRound(crypto, l, key.subarray(0, 32), r);
  } finally {
    roundKey.fill(0);
  }
}

export function lionessEncrypt(crypto: CryptoBackend, key: Uint8Array, block: Uint8Array): Uint8Array {
  const out = new Uint8Array(block);
  lionessEncryptInPlace(crypto, key, out);
  return out;
}

export function lionessDecrypt(crypto: CryptoBackend, key: Uint8Array, block: Uint8Array): Uint8Array {
  const out = new Uint8Array(block);
  lionessDecryptInPlace(crypto, key, out);
  return out;
}
