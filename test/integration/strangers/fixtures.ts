import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, concatBytes, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { type ControlMessage, encodeControl, padControl, sourceLinkFrameBytes } from '../../../src/node/wire.js';
import { DEFAULT_GEOMETRY } from '../../../src/scramble/geometry.js';

/** Every frame on the source ↔ CS link has this size at the default geometry. */
export const LINK_BYTES = sourceLinkFrameBytes(DEFAULT_GEOMETRY.payloadBytes);

/** A control message as a source sends it: padded to the link size. */
export function linkFrame(msg: ControlMessage): Uint8Array {
  return padControl(encodeControl(msg), LINK_BYTES);
}

/**
 * An attacker's Ed25519 key of mixed order, A' = aB + T with T of order 8, and signatures that a
 * cofactorless verifier (libsodium's crypto_sign_verify_detached) accepts: [S]B − [h]A' = R holds
 * whenever h ≡ 0 (mod 8), so the signer draws nonces until the challenge h is a multiple of 8.
 * Attack code for tests only (F7): it is exactly what mixd must refuse.
 */
export function mixedOrderSigner(): { publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array } {
  const Fn = ed25519.Point.Fn;
  const L = Fn.ORDER;
  const a = bytesToNumberLE(ed25519.utils.randomSecretKey()) % L;
  const A = ed25519.Point.BASE.multiply(a);
  const publicKey = A.add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1] as string)).toBytes();
  return {
    publicKey,
    sign(message) {
      for (;;) {
        const r = (bytesToNumberLE(ed25519.utils.randomSecretKey()) % (L - 1n)) + 1n;
        const R = ed25519.Point.BASE.multiply(r).toBytes();
        const h = bytesToNumberLE(sha512(concatBytes(R, publicKey, message))) % L;
        if (h % 8n !== 0n) continue;
        const S = (r + h * a) % L;
        return concatBytes(R, numberToBytesLE(S, 32));
      }
    },
  };
}
