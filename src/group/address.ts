import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { base32Decode, base32Encode, base32Length } from './base32.js';
import { InvalidAddress } from './errors.js';

/**
 * A member address is self-certifying: `base32(identityKey)@base32(centralId)`.
 * The identity key is the member's Ed25519 public key, from which its X25519
 * encryption key is derived, so an address alone is enough to seal an invite
 * to someone: no key server has to be trusted to hand out the right key.
 */
export interface MemberAddress {
  /** Ed25519 public key, 32 bytes. */
  readonly identityKey: Uint8Array;
  /** Home central server, 10 bytes (`centralIdOf`). */
  readonly centralId: Uint8Array;
}

export const IDENTITY_KEY_BYTES = 32;
export const CENTRAL_ID_BYTES = 10;
const KEY_CHARS = base32Length(IDENTITY_KEY_BYTES); // 52
const CENTRAL_CHARS = base32Length(CENTRAL_ID_BYTES); // 16
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

export function encodeAddress(address: MemberAddress): string {
  if (address.identityKey.length !== IDENTITY_KEY_BYTES) throw new InvalidAddress('identity key must be 32 bytes');
  if (address.centralId.length !== CENTRAL_ID_BYTES) throw new InvalidAddress('central id must be 10 bytes');
  return `${base32Encode(address.identityKey)}@${base32Encode(address.centralId)}`;
}

/**
 * Parses an address. Upper case is accepted (people retype addresses) and
 * folded to the canonical lower case; anything else non-canonical is refused
 * so two different strings never name the same member.
 */
export function parseAddress(text: string): MemberAddress {
  if (typeof text !== 'string') throw new InvalidAddress('address must be a string');
  // Bound the work on pasted garbage before splitting; precise length errors come per part below.
  if (text.length > 4 * (KEY_CHARS + 1 + CENTRAL_CHARS)) {
    throw new InvalidAddress(`address is ${text.length} characters; expected ${KEY_CHARS + 1 + CENTRAL_CHARS}`);
  }
  const parts = text.toLowerCase().split('@');
  if (parts.length !== 2) {
    throw new InvalidAddress(`address must contain exactly one "@" (identity-key@central-id), got ${parts.length - 1}`);
  }
  const [keyText, centralText] = parts as [string, string];
  if (keyText.length !== KEY_CHARS) {
    throw new InvalidAddress(`identity key part is ${keyText.length} characters; expected ${KEY_CHARS}`);
  }
  if (centralText.length !== CENTRAL_CHARS) {
    throw new InvalidAddress(`central id part is ${centralText.length} characters; expected ${CENTRAL_CHARS}`);
  }
  const identityKey = base32Decode(keyText);
  if (typeof identityKey === 'string') throw new InvalidAddress(`identity key part: ${identityKey}`);
  const centralId = base32Decode(centralText);
  if (typeof centralId === 'string') throw new InvalidAddress(`central id part: ${centralId}`);
  return { identityKey, centralId };
}

/**
 * The X25519 key to seal to for an identity key. Throws InvalidAddress when
 * the key is not a usable Ed25519 point, so a bad address fails at the
 * prompt and not deep inside the sealing code.
 */
export function encryptionKeyOf(crypto: CryptoBackend, identityKey: Uint8Array): Uint8Array {
  if (identityKey.length !== IDENTITY_KEY_BYTES) throw new InvalidAddress('identity key must be 32 bytes');
  let x: Uint8Array;
  try {
    x = crypto.ed25519PublicToX25519(identityKey);
  } catch {
    throw new InvalidAddress('identity key is not a valid Ed25519 public key');
  }
  // A low-order key would make every seal to it readable by anyone (the shared secret is fixed):
  // clamped scalars are multiples of 8, so X25519 with any scalar gives the identity for such a key.
  try {
    crypto.x25519(PROBE_SCALAR, x);
  } catch {
    throw new InvalidAddress('identity key maps to a low-order encryption key');
  }
  return x;
}
