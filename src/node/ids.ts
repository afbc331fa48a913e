import type { CryptoBackend } from '../scramble/crypto/backend.js';

/**
 * Short identifiers derived from Ed25519 identity keys, domain-separated so a
 * node id can never be mistaken for a mailbox id of the same key. 16 bytes:
 * collisions need ~2^64 keys, and they only ever name, never authenticate.
 */
const enc = new TextEncoder();
const NODE_LABEL = enc.encode('mixd/v1/node-id/');
const MAILBOX_LABEL = enc.encode('mixd/v1/mailbox/');
const CENTRAL_LABEL = enc.encode('mixd/v1/central/');

function labelled(crypto: CryptoBackend, label: Uint8Array, key: Uint8Array, len: number): Uint8Array {
  const msg = new Uint8Array(label.length + key.length);
  msg.set(label, 0);
  msg.set(key, label.length);
  return crypto.blake2b(msg, len);
}

/** Id of a proxy or CS in the directory and in relay commands. */
export function nodeIdOf(crypto: CryptoBackend, identityKey: Uint8Array): Uint8Array {
  return labelled(crypto, NODE_LABEL, identityKey, 16);
}

/** Mailbox of a source at its CS: what deliver commands and tokens name. */
export function mailboxIdOf(crypto: CryptoBackend, identityKey: Uint8Array): Uint8Array {
  return labelled(crypto, MAILBOX_LABEL, identityKey, 16);
}

/** The `@central-id` part of an address: 10 bytes (16 base32 characters). */
export function centralIdOf(crypto: CryptoBackend, centralIdentityKey: Uint8Array): Uint8Array {
  return labelled(crypto, CENTRAL_LABEL, centralIdentityKey, 16).subarray(0, 10);
}

// Hex lives in the lowest layer (the group layer needs it too); re-exported for the daemons' imports.
export { fromHex, hex } from '../scramble/hex.js';
