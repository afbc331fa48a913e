import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import { GROUP_ID_BYTES } from './certificate.js';
import { MalformedRekey } from './errors.js';
import { hexKey } from './keys.js';

/**
 * Revocation: an admin's signed statement that `memberKey` was removed from
 * the group by the rekey that created `epoch`.
 *
 *   version(1)=1 | groupId(16) | memberKey(32) | epoch u32 | actor(32) | signature(64)   = 149 bytes
 *   signature = Ed25519(actor, "mixd/v1/group/revoke\0" || all bytes before it)
 *
 * Every member keeps the list; it travels (whole) in every invite and (the
 * new entries) in every rekey. A revoked key is re-admitted only on a
 * certificate issued by an admin: a plain member cannot bring a removed
 * member back, and a joiner learns whom an admin removed, whoever invited it.
 * Each entry carries its own admin signature so a non-admin inviter can
 * forward the list but cannot forge entries (which would bar honest members).
 */
export interface Revocation {
  readonly memberKey: Uint8Array;
  readonly epoch: number;
  readonly actor: Uint8Array;
  readonly signature: Uint8Array;
}

export const REVOCATION_VERSION = 1;
export const REVOCATION_BYTES = 1 + GROUP_ID_BYTES + IDENTITY_KEY_BYTES + 4 + IDENTITY_KEY_BYTES + 64;
/** Entries kept per group; beyond it the oldest (lowest epoch) go first. */
export const MAX_REVOCATIONS = 1024;
const REVOKE_LABEL = label('revoke');

function unsigned(groupId: Uint8Array, r: Omit<Revocation, 'signature'>): Uint8Array {
  return new ByteWriter().u8(REVOCATION_VERSION).bytes(groupId).bytes(r.memberKey).u32(r.epoch).bytes(r.actor).finish();
}

export function signRevocation(
  crypto: CryptoBackend,
  groupId: Uint8Array,
  memberKey: Uint8Array,
  epoch: number,
  actor: { identitySeed: Uint8Array; identityKey: Uint8Array },
): Revocation {
  const r = { memberKey: memberKey.slice(), epoch, actor: actor.identityKey.slice() };
  const signature = crypto.ed25519Sign(actor.identitySeed, concatBytes(REVOKE_LABEL, unsigned(groupId, r)));
  return { ...r, signature };
}

export function verifyRevocation(crypto: CryptoBackend, groupId: Uint8Array, r: Revocation): boolean {
  return crypto.ed25519Verify(r.actor, concatBytes(REVOKE_LABEL, unsigned(groupId, r)), r.signature);
}

export function writeRevocation(w: ByteWriter, groupId: Uint8Array, r: Revocation): void {
  w.bytes(unsigned(groupId, r)).bytes(r.signature);
}

export function readRevocation(
  rd: ByteReader,
  groupId: Uint8Array,
  fail: (m: string) => Error = (m) => new MalformedRekey(m),
): Revocation {
  const version = rd.u8('revocation version');
  if (version !== REVOCATION_VERSION) throw fail(`unknown revocation version ${version}`);
  const gid = rd.bytes(GROUP_ID_BYTES, 'revocation groupId');
  if (!bytesEqual(gid, groupId)) throw fail('revocation is for another group');
  return {
    memberKey: rd.bytes(IDENTITY_KEY_BYTES, 'revoked key'),
    epoch: rd.u32('revocation epoch'),
    actor: rd.bytes(IDENTITY_KEY_BYTES, 'revocation actor'),
    signature: rd.bytes(64, 'revocation signature'),
  };
}

export function encodeRevocation(groupId: Uint8Array, r: Revocation): Uint8Array {
  const w = new ByteWriter();
  writeRevocation(w, groupId, r);
  return w.finish();
}

export function decodeRevocation(groupId: Uint8Array, bytes: Uint8Array): Revocation {
  const rd = new ByteReader(bytes, (m) => new MalformedRekey(m));
  const r = readRevocation(rd, groupId);
  rd.end('revocation');
  return r;
}

export function isRevoked(list: readonly Revocation[], key: Uint8Array): boolean {
  return list.some((r) => bytesEqual(r.memberKey, key));
}

/** Adds entries (one per key: the newest wins), drops re-admitted keys, keeps the newest MAX_REVOCATIONS. */
export function mergeRevocations(
  list: readonly Revocation[],
  added: readonly Revocation[],
  readmitted: readonly Uint8Array[] = [],
): Revocation[] {
  const byKey = new Map<string, Revocation>();
  for (const r of [...list, ...added]) {
    const k = hexKey(r.memberKey);
    const old = byKey.get(k);
    if (!old || r.epoch >= old.epoch) byKey.set(k, r);
  }
  for (const k of readmitted) byKey.delete(hexKey(k));
  const out = [...byKey.values()].sort(
    (a, b) => a.epoch - b.epoch || hexKey(a.memberKey).localeCompare(hexKey(b.memberKey)),
  );
  return out.slice(Math.max(0, out.length - MAX_REVOCATIONS));
}
