import { createRequire } from 'node:module';
import { CryptoFailure } from '../errors.js';
import type { CryptoBackend } from './backend.js';

// sodium-native is CommonJS with a native addon; load it lazily so that a
// machine without a working prebuild can still run on the noble backend.
/** The part of sodium-native's API mixd uses (its published typings lag the package). */
interface Sodium {
  crypto_scalarmult(q: Buffer, n: Buffer, p: Buffer): void;
  crypto_scalarmult_base(q: Buffer, n: Buffer): void;
  crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
  crypto_sign_detached(sig: Buffer, m: Buffer, sk: Buffer): void;
  crypto_sign_verify_detached(sig: Buffer, m: Buffer, pk: Buffer): boolean;
  crypto_stream_chacha20_ietf_xor(c: Buffer, m: Buffer, n: Buffer, k: Buffer): void;
  crypto_generichash(out: Buffer, m: Buffer, key?: Buffer): void;
  crypto_box_easy(c: Buffer, m: Buffer, n: Buffer, pk: Buffer, sk: Buffer): void;
  crypto_box_open_easy(m: Buffer, c: Buffer, n: Buffer, pk: Buffer, sk: Buffer): boolean;
  randombytes_buf(b: Buffer): void;
  crypto_secretbox_easy(c: Buffer, m: Buffer, n: Buffer, k: Buffer): void;
  crypto_secretbox_open_easy(m: Buffer, c: Buffer, n: Buffer, k: Buffer): boolean;
  crypto_sign_ed25519_pk_to_curve25519(x: Buffer, ed: Buffer): void;
  crypto_sign_ed25519_sk_to_curve25519(x: Buffer, ed: Buffer): void;
  crypto_pwhash(out: Buffer, pw: Buffer, salt: Buffer, ops: number, mem: number, alg: number): void;
  crypto_pwhash_ALG_ARGON2ID13: number;
  sodium_memcmp(a: Buffer, b: Buffer): boolean;
}
const require = createRequire(import.meta.url);

export function loadSodiumBackend(): CryptoBackend {
  const s: Sodium = require('sodium-native');
  const zeroNonce12 = Buffer.alloc(12);
  const asBuf = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

  return {
    name: 'sodium',
    x25519(scalar, point) {
      const out = Buffer.allocUnsafe(32);
      try {
        s.crypto_scalarmult(out, asBuf(scalar), asBuf(point));
      } catch {
        // libsodium refuses an all-zero shared secret (low-order point).
        throw new CryptoFailure('X25519 produced the identity (low-order point)');
      }
      return new Uint8Array(out.buffer, out.byteOffset, 32);
    },
    x25519Base(scalar) {
      const out = Buffer.allocUnsafe(32);
      s.crypto_scalarmult_base(out, asBuf(scalar));
      return new Uint8Array(out.buffer, out.byteOffset, 32);
    },
    ed25519PublicKey(seed) {
      const pk = Buffer.allocUnsafe(32);
      const sk = Buffer.allocUnsafe(64);
      s.crypto_sign_seed_keypair(pk, sk, asBuf(seed));
      sk.fill(0);
      return new Uint8Array(pk);
    },
    ed25519Sign(seed, message) {
      const pk = Buffer.allocUnsafe(32);
      const sk = Buffer.allocUnsafe(64);
      s.crypto_sign_seed_keypair(pk, sk, asBuf(seed));
      const sig = Buffer.allocUnsafe(64);
      s.crypto_sign_detached(sig, asBuf(message), sk);
      sk.fill(0);
      return new Uint8Array(sig);
    },
    ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        return s.crypto_sign_verify_detached(asBuf(signature), asBuf(message), asBuf(publicKey));
      } catch {
        return false;
      }
    },
    chacha20Xor(key, nonce, data) {
      const out = Buffer.allocUnsafe(data.length);
      s.crypto_stream_chacha20_ietf_xor(out, asBuf(data), asBuf(nonce ?? zeroNonce12), asBuf(key));
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
    blake2b(data, outLen, key) {
      const out = Buffer.allocUnsafe(outLen);
      if (key) s.crypto_generichash(out, asBuf(data), asBuf(key));
      else s.crypto_generichash(out, asBuf(data));
      return new Uint8Array(out.buffer, out.byteOffset, outLen);
    },
    boxEasy(message, nonce, publicKey, secretKey) {
      const out = Buffer.allocUnsafe(message.length + 16);
      s.crypto_box_easy(out, asBuf(message), asBuf(nonce), asBuf(publicKey), asBuf(secretKey));
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
    boxOpenEasy(box, nonce, publicKey, secretKey) {
      if (box.length < 16) return null;
      const out = Buffer.allocUnsafe(box.length - 16);
      let ok = false;
      try {
        ok = s.crypto_box_open_easy(out, asBuf(box), asBuf(nonce), asBuf(publicKey), asBuf(secretKey));
      } catch {
        return null;
      }
      return ok ? new Uint8Array(out.buffer, out.byteOffset, out.length) : null;
    },
    secretboxEasy(message, nonce, key) {
      const out = Buffer.allocUnsafe(message.length + 16);
      s.crypto_secretbox_easy(out, asBuf(message), asBuf(nonce), asBuf(key));
      return new Uint8Array(out);
    },
    secretboxOpenEasy(box, nonce, key) {
      if (box.length < 16) return null;
      const out = Buffer.allocUnsafe(box.length - 16);
      try {
        return s.crypto_secretbox_open_easy(out, asBuf(box), asBuf(nonce), asBuf(key)) ? new Uint8Array(out) : null;
      } catch {
        return null;
      }
    },
    ed25519PublicToX25519(publicKey) {
      const out = Buffer.allocUnsafe(32);
      try {
        s.crypto_sign_ed25519_pk_to_curve25519(out, asBuf(publicKey));
      } catch {
        throw new CryptoFailure('not a valid Ed25519 public key');
      }
      return new Uint8Array(out);
    },
    ed25519SeedToX25519(seed) {
      const pk = Buffer.allocUnsafe(32);
      const sk = Buffer.allocUnsafe(64);
      s.crypto_sign_seed_keypair(pk, sk, asBuf(seed));
      const out = Buffer.allocUnsafe(32);
      s.crypto_sign_ed25519_sk_to_curve25519(out, sk);
      sk.fill(0);
      return new Uint8Array(out);
    },
    argon2id(password, salt, opsLimit, memLimitBytes, outLen) {
      const out = Buffer.allocUnsafe(outLen);
      s.crypto_pwhash(out, asBuf(password), asBuf(salt), opsLimit, memLimitBytes, s.crypto_pwhash_ALG_ARGON2ID13);
      return new Uint8Array(out);
    },
    randomBytes(n) {
      const out = Buffer.allocUnsafe(n);
      s.randombytes_buf(out);
      return new Uint8Array(out.buffer, out.byteOffset, n);
    },
    equal(a, b) {
      if (a.length !== b.length) return false;
      return s.sodium_memcmp(asBuf(a), asBuf(b));
    },
  };
}
