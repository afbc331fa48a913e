import { Writer } from '../node/codec.js';
import { CHALLENGE_TTL_MS } from '../node/limits.js';
import { COOKIE_BYTES } from '../node/wire.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { CryptoFailure } from '../scramble/errors.js';

/** Bytes of a challenge nonce: issue time (u64 ms) and a 24-byte MAC. */
export const CHALLENGE_BYTES = 32;
const CHALLENGE_MAC_BYTES = CHALLENGE_BYTES - 8;

/**
 * Stateless registration challenges and address cookies (issue 10, F6, F13).
 *
 * A challenge is `timeMs u64 || MAC(identityKey, address, timeMs)`, the MAC
 * being keyed BLAKE2b-192 under a secret only this CS process holds. CS keeps
 * no table of outstanding challenges, so no number of `hello`s can fill one,
 * and a `hello(victimKey)` from anywhere cannot displace the victim's own: a
 * challenge is good only for the identity key AND the address it was sent to,
 * for CHALLENGE_TTL_MS.
 *
 * An address cookie is `MAC(identityKey, address)` (BLAKE2b-128, same secret).
 * CS gives it in `registered` and in `cookie` frames; a source signs it into
 * every keepalive, and CS moves a session to a new address only with a cookie
 * for that address. Whoever forwards a captured keepalive from elsewhere
 * carries the cookie of the source's address and moves nothing.
 *
 * The secret is fresh per CS process: after a restart, old challenges and
 * cookies stop verifying and sources fetch new ones in one round trip.
 */
export class Registration {
  private readonly secret: Uint8Array;

  constructor(
    private readonly crypto: CryptoBackend,
    secret: Uint8Array = crypto.randomBytes(32),
  ) {
    this.secret = secret;
  }

  challenge(identityKey: Uint8Array, address: string, nowMs: number): Uint8Array {
    const out = new Uint8Array(CHALLENGE_BYTES);
    const timeMs = Math.max(0, Math.floor(nowMs));
    new DataView(out.buffer).setBigUint64(0, BigInt(timeMs), false);
    out.set(this.mac('challenge', identityKey, address, timeMs, CHALLENGE_MAC_BYTES), 8);
    return out;
  }

  /** Whether `nonce` is a challenge this CS made for this key and address within the TTL. */
  checkChallenge(identityKey: Uint8Array, address: string, nonce: Uint8Array, nowMs: number): boolean {
    if (nonce.length !== CHALLENGE_BYTES) return false;
    const timeMs = Number(new DataView(nonce.buffer, nonce.byteOffset, 8).getBigUint64(0, false));
    if (!(timeMs <= nowMs && nowMs - timeMs <= CHALLENGE_TTL_MS)) return false;
    const expected = this.mac('challenge', identityKey, address, timeMs, CHALLENGE_MAC_BYTES);
    return this.crypto.equal(expected, nonce.subarray(8));
  }

  cookie(identityKey: Uint8Array, address: string): Uint8Array {
    return this.mac('cookie', identityKey, address, 0, COOKIE_BYTES);
  }

  checkCookie(identityKey: Uint8Array, address: string, cookie: Uint8Array): boolean {
    return cookie.length === COOKIE_BYTES && this.crypto.equal(this.cookie(identityKey, address), cookie);
  }

  private mac(label: string, identityKey: Uint8Array, address: string, timeMs: number, bytes: number): Uint8Array {
    const msg = new Writer().string(`mixd/v1/cs-${label}`).bytes(identityKey).string(address).u64(timeMs).finish();
    return this.crypto.blake2b(msg, bytes, this.secret);
  }
}

/**
 * Whether an Ed25519 public key is one CS can serve (issue 10, F7): a canonical
 * point of prime order, not small or mixed order. Such keys would pass a
 * signature check in some libraries and then make the conversion to X25519
 * (needed to box deliveries) throw on every later message.
 */
export function validIdentityKey(crypto: CryptoBackend, key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  try {
    crypto.ed25519PublicToX25519(key);
    return true;
  } catch (err) {
    if (err instanceof CryptoFailure) return false;
    throw err;
  }
}
