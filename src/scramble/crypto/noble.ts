import { chacha20 } from '@noble/ciphers/chacha.js';
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, concatBytes, equalBytes } from '@noble/curves/utils.js';
import { argon2id } from '@noble/hashes/argon2.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { CryptoFailure } from '../errors.js';
import type { CryptoBackend } from './backend.js';

// "expand 32-byte k" as little-endian words: the Salsa20 sigma constant.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function u8ToU32(b: Uint8Array): Uint32Array {
  const out = new Uint32Array(b.length / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(i * 4, true);
  return out;
}

function u32ToU8(w: Uint32Array): Uint8Array {
  const out = new Uint8Array(w.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < w.length; i++) dv.setUint32(i * 4, w[i] as number, true);
  return out;
}

/** crypto_box_beforenm: HSalsa20 of the X25519 shared secret with a zero input. */
function boxKey(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const shared = x25519Checked(secretKey, publicKey);
  const sharedWords = u8ToU32(shared);
  const out = new Uint32Array(8);
  try {
    hsalsa(SIGMA, sharedWords, new Uint32Array(4), out);
    return u32ToU8(out);
  } finally {
    // libsodium wipes its copies of these inside crypto_box; the JS backend does the same.
    shared.fill(0);
    sharedWords.fill(0);
    out.fill(0);
  }
}

/** crypto_box_easy / open_easy under the box key, which is wiped afterwards. */
function withBoxKey<T>(publicKey: Uint8Array, secretKey: Uint8Array, use: (key: Uint8Array) => T): T {
  const key = boxKey(publicKey, secretKey);
  try {
    return use(key);
  } finally {
    key.fill(0);
  }
}

function x25519Checked(scalar: Uint8Array, point: Uint8Array): Uint8Array {
  let out: Uint8Array;
  try {
    out = x25519.scalarMult(scalar, point);
  } catch {
    throw new CryptoFailure('X25519 produced the identity (low-order point)');
  }
  let acc = 0;
  for (const b of out) acc |= b;
  if (acc === 0) throw new CryptoFailure('X25519 produced the identity (low-order point)');
  return out;
}

export function loadNobleBackend(): CryptoBackend {
  return {
    name: 'noble',
    x25519: x25519Checked,
    x25519Base(scalar) {
      return x25519.scalarMultBase(scalar);
    },
    ed25519PublicKey(seed) {
      return ed25519.getPublicKey(seed);
    },
    ed25519Sign(seed, message) {
      return ed25519.sign(message, seed);
    },
    ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        // zip215:false = RFC 8032 strict decoding, canonical S, small-order keys rejected.
        if (!ed25519.verify(signature, message, publicKey, { zip215: false })) return false;
        // noble checks the cofactored equation; libsodium also rejects a small-order R and checks
        // [S]B - [k]A = R byte for byte, which refuses an R with a torsion component. Match it.
        const r = signature.subarray(0, 32);
        if (ed25519.Point.fromBytes(r).isSmallOrder()) return false;
        const k = bytesToNumberLE(sha512(concatBytes(r, publicKey, message))) % ed25519.Point.Fn.ORDER;
        const sB = ed25519.Point.BASE.multiplyUnsafe(bytesToNumberLE(signature.subarray(32)));
        return equalBytes(sB.subtract(ed25519.Point.fromBytes(publicKey).multiplyUnsafe(k)).toBytes(), r);
      } catch {
        return false;
      }
    },
    chacha20Xor(key, nonce, data, output) {
      return output ? chacha20(key, nonce, data, output) : chacha20(key, nonce, data);
    },
    blake2b(data, outLen, key) {
      return key ? blake2b(data, { dkLen: outLen, key }) : blake2b(data, { dkLen: outLen });
    },
    boxEasy(message, nonce, publicKey, secretKey) {
      return withBoxKey(publicKey, secretKey, (key) => xsalsa20poly1305(key, nonce).encrypt(message));
    },
    boxOpenEasy(box, nonce, publicKey, secretKey) {
      if (box.length < 16) return null;
      try {
        return withBoxKey(publicKey, secretKey, (key) => xsalsa20poly1305(key, nonce).decrypt(box));
      } catch {
        return null;
      }
    },
    secretboxEasy(message, nonce, key) {
      return xsalsa20poly1305(key, nonce).encrypt(message);
    },
    secretboxOpenEasy(box, nonce, key) {
      if (box.length < 16) return null;
      try {
        return xsalsa20poly1305(key, nonce).decrypt(box);
      } catch {
        return null;
      }
    },
    ed25519PublicToX25519(publicKey) {
      let ok = false;
      try {
        // As libsodium: refuse small-order points and points outside the prime-order subgroup.
        const point = ed25519.Point.fromBytes(publicKey);
        ok = !point.isSmallOrder() && point.isTorsionFree();
      } catch {}
      if (!ok) throw new CryptoFailure('not a valid Ed25519 public key');
      return ed25519.utils.toMontgomery(publicKey);
    },
    ed25519SeedToX25519(seed) {
      return ed25519.utils.toMontgomerySecret(seed);
    },
    argon2id(password, salt, opsLimit, memLimitBytes, outLen) {
      return argon2id(password, salt, { t: opsLimit, m: Math.floor(memLimitBytes / 1024), p: 1, dkLen: outLen });
    },
    randomBytes(n) {
      return randomBytes(n);
    },
    equal(a, b) {
      if (a.length !== b.length) return false;
      let diff = 0;
      for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
      return diff === 0;
    },
  };
}
