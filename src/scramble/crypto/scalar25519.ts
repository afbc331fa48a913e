/**
 * Scalar arithmetic modulo ℓ, the order of Curve25519's prime-order subgroup, for the sender's
 * accumulated Sphinx blinding (src/scramble/header.ts). This is not a primitive: it is the integer
 * arithmetic that lets the sender compute x·b_0·…·b_{i−1} once instead of applying the blinding
 * scalars one X25519 at a time (Sphinx, Danezis–Goldberg 2009 §3.2; lnd's and Nym's Sphinx
 * implementations do the same). Pure and backend-independent, so both backends stay byte-identical.
 *
 * Why representatives: X25519 (RFC 7748) clamps its scalar, so an arbitrary product mod ℓ cannot be
 * passed to it directly. A clamped scalar is c = 2^254 + 8m with 0 ≤ m < 2^251, and on a point P of
 * the prime-order subgroup X25519(c, u(P)) = u((c mod ℓ)·P). Since u(−Q) = u(Q), any c with
 * c ≡ ±k (mod ℓ) gives u(k·P). About half of all residues k have a clamped representative, and
 * for all but a fraction of about 2^−126.6 of them k or −k has one (see clampedRepresentative).
 *
 * BigInt values are immutable and cannot be wiped; the byte encodings made here can, and callers
 * wipe them (docs/threat-model.md).
 */

import { InvalidArgument } from '../errors.js';

/** ℓ = 2^252 + 27742317777372353535851937790883648493 (RFC 7748 §4.1). */
export const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

const TWO_254 = 2n ** 254n;
/** m of a clamped scalar 2^254 + 8m ranges over [0, 2^251). */
const CLAMPED_M_LIMIT = 2n ** 251n;
const MASK_64 = (1n << 64n) - 1n;

function modOrder(a: bigint): bigint {
  const r = a % GROUP_ORDER;
  return r < 0n ? r + GROUP_ORDER : r;
}

function powModOrder(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = modOrder(base);
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % GROUP_ORDER;
    b = (b * b) % GROUP_ORDER;
  }
  return result;
}

/** 8^−1 mod ℓ (ℓ is prime, Fermat). */
const INV_8 = powModOrder(8n, GROUP_ORDER - 2n);
/** 2^254 · 8^−1 mod ℓ: m(k) = k·8^−1 − this. */
const OFFSET = ((TWO_254 % GROUP_ORDER) * INV_8) % GROUP_ORDER;

function littleEndianToBigint(bytes: Uint8Array): bigint {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 32);
  return (
    dv.getBigUint64(0, true) |
    (dv.getBigUint64(8, true) << 64n) |
    (dv.getBigUint64(16, true) << 128n) |
    (dv.getBigUint64(24, true) << 192n)
  );
}

function bigintToLittleEndian(value: bigint, out: Uint8Array): Uint8Array {
  const dv = new DataView(out.buffer, out.byteOffset, 32);
  dv.setBigUint64(0, value & MASK_64, true);
  dv.setBigUint64(8, (value >> 64n) & MASK_64, true);
  dv.setBigUint64(16, (value >> 128n) & MASK_64, true);
  dv.setBigUint64(24, (value >> 192n) & MASK_64, true);
  return out;
}

/**
 * The scalar X25519 really multiplies by for the 32-byte string `k`: RFC 7748 decodeScalar25519
 * (clear bits 0–2 and 255, set bit 254), reduced mod ℓ.
 */
export function clampedScalarModOrder(k: Uint8Array): bigint {
  if (k.length !== 32) throw new InvalidArgument('an X25519 scalar is 32 bytes');
  const v = littleEndianToBigint(k);
  const clamped = (v & ~7n & ((1n << 255n) - 1n)) | TWO_254;
  return clamped % GROUP_ORDER;
}

export function mulModOrder(a: bigint, b: bigint): bigint {
  return (a * b) % GROUP_ORDER;
}

/**
 * A 32-byte X25519 scalar c that clamping leaves unchanged (c = 2^254 + 8m, 0 ≤ m < 2^251) with
 * c ≡ k or c ≡ −k (mod ℓ), so that X25519(c, u) = u(k·P) for every P of the prime-order subgroup
 * (and for P with a torsion part, which the factor 8 removes, exactly as plain X25519 does).
 * Undefined when neither k nor −k has one. With m(k) = (k − 2^254)·8^−1 mod ℓ and δ = ℓ − 2^252
 * (≈ 2^124.38): m(k) + m(−k) ≡ δ and m(0) = 2^251 + δ, so both fail exactly when m(k) lies in
 * [2^251, 2^251 + 2δ], i.e. k ≡ 8j (mod ℓ) with |j| ≤ δ: 2δ + 1 residues, a fraction of about
 * 2^−126.6, among them 0 and the small multiples of 8. Callers must handle that case (header.ts
 * then applies the remaining blinding scalars one X25519 at a time).
 */
export function clampedRepresentative(k: bigint, out: Uint8Array = new Uint8Array(32)): Uint8Array | undefined {
  const kInv8 = mulModOrder(modOrder(k), INV_8);
  let m = modOrder(kInv8 - OFFSET);
  if (m >= CLAMPED_M_LIMIT) {
    m = modOrder(-kInv8 - OFFSET);
    if (m >= CLAMPED_M_LIMIT) return undefined;
  }
  return bigintToLittleEndian(TWO_254 + 8n * m, out);
}

/** For tests and vectors: the little-endian 32-byte encoding of a value below 2^256. */
export function scalarToBytes(value: bigint): Uint8Array {
  return bigintToLittleEndian(value, new Uint8Array(32));
}

/** For tests and vectors: the integer a 32-byte little-endian string encodes. */
export function bytesToScalar(bytes: Uint8Array): bigint {
  if (bytes.length !== 32) throw new InvalidArgument('a scalar is 32 bytes');
  return littleEndianToBigint(bytes);
}
