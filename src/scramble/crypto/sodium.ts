import { createRequire } from 'node:module';
import { CryptoFailure } from '../errors.js';
import type { CryptoBackend } from './backend.js';

// sodium-native is CommonJS with a native addon; load it lazily so that a
// machine without a working prebuild can still run on the noble backend.
/**
 * The part of sodium-native's API mixd uses (its published typings lag the package). Since
 * sodium-native 5 every argument may be any typed array (ArrayBuffer.isView), so the packet
 * layer's Uint8Arrays are passed as they are, without wrapping each one in a Buffer view.
 */
interface Sodium {
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  crypto_stream_chacha20_ietf_xor(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_generichash(out: Uint8Array, m: Uint8Array, key?: Uint8Array): void;
  crypto_box_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, pk: Uint8Array, sk: Uint8Array): void;
  crypto_box_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, pk: Uint8Array, sk: Uint8Array): boolean;
  randombytes_buf(b: Uint8Array): void;
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
  crypto_sign_ed25519_pk_to_curve25519(x: Uint8Array, ed: Uint8Array): void;
  crypto_sign_ed25519_sk_to_curve25519(x: Uint8Array, ed: Uint8Array): void;
  crypto_pwhash(out: Uint8Array, pw: Uint8Array, salt: Uint8Array, ops: number, mem: number, alg: number): void;
  crypto_pwhash_ALG_ARGON2ID13: number;
  sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;
}
const require = createRequire(import.meta.url);

export function loadSodiumBackend(): CryptoBackend {
  const s: Sodium = require('sodium-native');
  const zeroNonce12 = Buffer.alloc(12);

  return {
    name: 'sodium',
    x25519(scalar, point) {
      const out = Buffer.allocUnsafe(32);
      try {
        s.crypto_scalarmult(out, scalar, point);
      } catch {
        // libsodium refuses an all-zero shared secret (low-order point).
        throw new CryptoFailure('X25519 produced the identity (low-order point)');
      }
      return new Uint8Array(out.buffer, out.byteOffset, 32);
    },
    x25519Base(scalar) {
      const out = Buffer.allocUnsafe(32);
      s.crypto_scalarmult_base(out, scalar);
      return new Uint8Array(out.buffer, out.byteOffset, 32);
    },
    ed25519PublicKey(seed) {
      const pk = Buffer.allocUnsafe(32);
      const sk = Buffer.allocUnsafe(64);
      s.crypto_sign_seed_keypair(pk, sk, seed);
      sk.fill(0);
      return new Uint8Array(pk);
    },
    ed25519Sign(seed, message) {
      const pk = Buffer.allocUnsafe(32);
      const sk = Buffer.allocUnsafe(64);
      s.crypto_sign_seed_keypair(pk, sk, seed);
      const sig = Buffer.allocUnsafe(64);
      s.crypto_sign_detached(sig, message, sk);
      sk.fill(0);
      return new Uint8Array(sig);
    },
    ed25519Verify(publicKey, message, signature) {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        return s.crypto_sign_verify_detached(signature, message, publicKey);
      } catch {
        return false;
      }
    },
    chacha20Xor(key, nonce, data, output) {
      if (output) {
        // libsodium allows c == m (in place); a shifted overlap would be wrong, as with noble.
        s.crypto_stream_chacha20_ietf_xor(output, data, nonce ?? zeroNonce12, key);
        return output;
      }
      const out = Buffer.allocUnsafe(data.length);
      s.crypto_stream_chacha20_ietf_xor(out, data, nonce ?? zeroNonce12, key);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
    blake2b(data, outLen, key) {
      const out = Buffer.allocUnsafe(outLen);
      if (key) s.crypto_generichash(out, data, key);
      else s.crypto_generichash(out, data);
      return new Uint8Array(out.buffer, out.byteOffset, outLen);
    },
    boxEasy(message, nonce, publicKey, secretKey) {
      const out = Buffer.allocUnsafe(message.length + 16);
      try {
        s.crypto_box_easy(out, message, nonce, publicKey, secretKey);
      } catch {
        // libsodium refuses a low-order public key (all-zero shared secret); noble throws CryptoFailure too.
        throw new CryptoFailure('crypto_box: low-order public key');
      }
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
    boxOpenEasy(box, nonce, publicKey, secretKey) {
      if (box.length < 16) return null;
      const out = Buffer.allocUnsafe(box.length - 16);
      let ok = false;
      try {
        ok = s.crypto_box_open_easy(out, box, nonce, publicKey, secretKey);
      } catch {
        return null;
      }
      return ok ? new Uint8Array(out.buffer, out.byteOffset, out.length) : null;
    },
    secretboxEasy(message, nonce, key) {
      const out = Buffer.allocUnsafe(message.length + 16);
      s.crypto_secretbox_easy(out, message, nonce, key);
      return new Uint8Array(out);
    },
    secretboxOpenEasy(box, nonce, key) {
      if (box.length < 16) return null;
      const out = Buffer.allocUnsafe(box.length - 16);
      try {
        return s.crypto_secretbox_open_easy(out, box, nonce, key) ? new Uint8Array(out) : null;
      } catch {
        return null;
      }
    },
    ed25519PublicToX25519(publicKey) {
      const out = Buffer.allocUnsafe(32);
      try {
        s.crypto_sign_ed25519_pk_to_curve25519(out, publicKey);
      } catch {
        throw new CryptoFailure('not a valid Ed25519 public key');
      }
      return new Uint8Array(out);
    },
    ed25519SeedToX25519(seed) {
      const pk = Buffer.allocUnsafe(32);
      const sk = Buffer.allocUnsafe(64);
      s.crypto_sign_seed_keypair(pk, sk, seed);
      const out = Buffer.allocUnsafe(32);
      s.crypto_sign_ed25519_sk_to_curve25519(out, sk);
      sk.fill(0);
      return new Uint8Array(out);
    },
    argon2id(password, salt, opsLimit, memLimitBytes, outLen) {
      const out = Buffer.allocUnsafe(outLen);
      s.crypto_pwhash(out, password, salt, opsLimit, memLimitBytes, s.crypto_pwhash_ALG_ARGON2ID13);
      return new Uint8Array(out);
    },
    randomBytes(n) {
      const out = Buffer.allocUnsafe(n);
      s.randombytes_buf(out);
      return new Uint8Array(out.buffer, out.byteOffset, n);
    },
    equal(a, b) {
      if (a.length !== b.length) return false;
      return s.sodium_memcmp(a, b);
    },
  };
}
