import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import {
  encodeCertificate,
  GROUP_ID_BYTES,
  memberFromCertificate,
  readCertificate,
  verifyMemberList,
} from './certificate.js';
import { DIRECT_KIND, DIRECT_VERSION, openDirect, sealDirect } from './direct.js';
import { BadSignature, MalformedRekey, NotAMember, NotAuthorized, WrongEpoch } from './errors.js';
import { type SealedGroupMessage, type SealOptions, sealGroupMessage } from './groupMessage.js';
import { findMember, type GroupState, type LocalIdentity, type Member, pruneFormerMembers } from './groupState.js';
import { hexKey } from './keys.js';
import { encodeRekeyNotice } from './rekeyNotice.js';

/**
 * Rekeying (Hermes-style removal, plus scheduled rotation). A fresh group
 * keypair and epoch+1 are sent to each remaining member in its own blob
 * sealed to that member's identity-derived X25519 key (O(n) seals), so a
 * removed member, who knows the old group secret, cannot learn the new one.
 *
 * Authority: only the admin rekeys (remove, rotate, and the rekey that
 * follows a member's `leave`). A single rekeyer means two rekeys can never
 * race for the same epoch. When the admin itself leaves, it rekeys the group
 * without itself and hands the admin role to a successor in the same signed
 * blob. Receivers check the actor against their own state's admin.
 *
 * Blob (direct message kind 2, sealed to one member):
 *   version(1) | reason(1) | groupId(16) | newEpoch(u32) | actor(32) | admin(32)
 *   | issuedAtMs(u64) | newPublicKey(32) | newSecretKey(32)
 *   | memberCount(u16) | certificates(167 each) | formerCount(u16) | certificates
 *   | signature(64) = Ed25519(actor, "mixd/v1/group/rekey\0" || every byte before it)
 */
export const REKEY_VERSION = 1;
export const REKEY_REASON = { rotate: 1, remove: 2, leave: 3 } as const;
export type RekeyReason = keyof typeof REKEY_REASON;
const REASON_BY_CODE = new Map<number, RekeyReason>(
  Object.entries(REKEY_REASON).map(([k, v]) => [v, k as RekeyReason]),
);
const REKEY_LABEL = label('rekey');

/** How long the previous epoch's key still opens incoming messages (in flight through mix delays). */
export const DEFAULT_REKEY_GRACE_MS = 10 * 60 * 1000;

export interface RekeyContent {
  reason: RekeyReason;
  groupId: Uint8Array;
  newEpoch: number;
  actor: Uint8Array;
  admin: Uint8Array;
  issuedAtMs: number;
  newPublicKey: Uint8Array;
  newSecretKey: Uint8Array;
  members: Member[];
  formerMembers: Member[];
  signature: Uint8Array;
}

function writeUnsigned(c: Omit<RekeyContent, 'signature'>): Uint8Array {
  const w = new ByteWriter()
    .u8(REKEY_VERSION)
    .u8(REKEY_REASON[c.reason])
    .bytes(c.groupId)
    .u32(c.newEpoch)
    .bytes(c.actor)
    .bytes(c.admin)
    .u64(c.issuedAtMs)
    .bytes(c.newPublicKey)
    .bytes(c.newSecretKey)
    .u16(c.members.length);
  for (const m of c.members) w.bytes(encodeCertificate(m.certificate));
  w.u16(c.formerMembers.length);
  for (const m of c.formerMembers) w.bytes(encodeCertificate(m.certificate));
  return w.finish();
}

/** Parses a rekey blob body. Throws only MalformedRekey / MalformedCertificate. */
export function decodeRekeyContent(bytes: Uint8Array): RekeyContent {
  const r = new ByteReader(bytes, (m) => new MalformedRekey(m));
  const version = r.u8('rekey version');
  if (version !== REKEY_VERSION) throw new MalformedRekey(`unknown rekey version ${version}`);
  const code = r.u8('reason');
  const reason = REASON_BY_CODE.get(code);
  if (!reason) throw new MalformedRekey(`unknown rekey reason ${code}`);
  const groupId = r.bytes(GROUP_ID_BYTES, 'groupId');
  const newEpoch = r.u32('newEpoch');
  const actor = r.bytes(IDENTITY_KEY_BYTES, 'actor');
  const admin = r.bytes(IDENTITY_KEY_BYTES, 'admin');
  const issuedAtMs = r.u64('issuedAtMs');
  const newPublicKey = r.bytes(32, 'newPublicKey');
  const newSecretKey = r.bytes(32, 'newSecretKey');
  const members: Member[] = [];
  for (let n = r.u16('member count'); n > 0; n--) members.push(memberFromCertificate(readCertificate(r)));
  const formerMembers: Member[] = [];
  for (let n = r.u16('former count'); n > 0; n--) formerMembers.push(memberFromCertificate(readCertificate(r)));
  const signature = r.bytes(64, 'signature');
  r.end('rekey');
  return {
    reason,
    groupId,
    newEpoch,
    actor,
    admin,
    issuedAtMs,
    newPublicKey,
    newSecretKey,
    members,
    formerMembers,
    signature,
  };
}

export interface RekeyOptions extends SealOptions {
  /** New admin; required when the actor (the admin) removes itself. Default: the actor. */
  newAdmin?: Uint8Array;
  /** Default: 'remove' when someone is dropped, else 'rotate'. */
  reason?: RekeyReason;
  graceMs?: number;
}

export interface RekeyResult {
  /** The actor's new state (discard it if the actor left). */
  readonly newState: GroupState;
  /** One sealed blob per remaining member except the actor: deliver each to that member's mailbox. */
  readonly perMember: Array<{ identityKey: Uint8Array; sealed: Uint8Array }>;
  /** A `rekey` group message (C0) under the OLD key, so every old member learns that the epoch moved on. */
  readonly notice: Uint8Array;
  readonly removed: Uint8Array[];
}

/**
 * Builds a rekey keeping exactly `remainingMembers` (identity keys, a subset
 * of the current members). The input state is not modified.
 */
export function createRekey(
  crypto: CryptoBackend,
  group: GroupState,
  actor: LocalIdentity,
  remainingMembers: readonly Uint8Array[],
  rng: Rng,
  nowMs: number,
  options: RekeyOptions = {},
): RekeyResult {
  if (!bytesEqual(actor.identityKey, group.admin)) throw new NotAuthorized('only the admin can rekey the group');
  if (group.epoch >= 0xffffffff) throw new RangeError('epoch counter exhausted: create a new group');
  const seen = new Set<string>();
  const members: Member[] = [];
  for (const k of remainingMembers) {
    const m = findMember(group.members, k);
    if (!m) throw new NotAMember(`${hexKey(k)} is not a member; rekeys never add members (invite them)`);
    if (seen.has(hexKey(k))) throw new RangeError(`${hexKey(k)} is listed twice`);
    seen.add(hexKey(k));
    members.push(m);
  }
  if (members.length === 0) throw new RangeError('a rekey needs at least one remaining member');
  const actorStays = seen.has(hexKey(actor.identityKey));
  const admin = options.newAdmin ?? (actorStays ? actor.identityKey : undefined);
  if (!admin) throw new RangeError('the admin is leaving: name a newAdmin among the remaining members');
  if (!seen.has(hexKey(admin))) throw new RangeError('the new admin must be a remaining member');
  const removedMembers = group.members.filter((m) => !seen.has(hexKey(m.identityKey)));
  const removed = removedMembers.map((m) => m.identityKey);
  const formerMembers = pruneFormerMembers(members, [...group.formerMembers, ...removedMembers]);

  const newSecretKey = rng(32);
  const newPublicKey = crypto.x25519Base(newSecretKey);
  const reason = options.reason ?? (removed.length > 0 ? 'remove' : 'rotate');
  const unsigned = writeUnsigned({
    reason,
    groupId: group.groupId,
    newEpoch: group.epoch + 1,
    actor: actor.identityKey,
    admin,
    issuedAtMs: nowMs,
    newPublicKey,
    newSecretKey,
    members,
    formerMembers,
  });
  const blob = concatBytes(unsigned, crypto.ed25519Sign(actor.identitySeed, concatBytes(REKEY_LABEL, unsigned)));
  const perMember = members
    .filter((m) => !bytesEqual(m.identityKey, actor.identityKey))
    .map((m) => ({
      identityKey: m.identityKey,
      sealed: sealDirect(crypto, m.identityKey, DIRECT_KIND.rekey, blob, rng),
    }));
  blob.fill(0);
  unsigned.fill(0);

  const noticeBody = encodeRekeyNotice({ newEpoch: group.epoch + 1, newPublicKey, removed });
  const sent: SealedGroupMessage = sealGroupMessage(crypto, group, actor, 'rekey', noticeBody, rng, options);
  const newState = nextState(group, sent.group.sendSeq, {
    newEpoch: group.epoch + 1,
    newPublicKey,
    newSecretKey,
    admin: admin.slice(),
    members,
    formerMembers,
    untilMs: nowMs + (options.graceMs ?? DEFAULT_REKEY_GRACE_MS),
  });
  return { newState, perMember, notice: sent.c0, removed };
}

function nextState(
  group: GroupState,
  sendSeq: number,
  n: {
    newEpoch: number;
    newPublicKey: Uint8Array;
    newSecretKey: Uint8Array;
    admin: Uint8Array;
    members: Member[];
    formerMembers: Member[];
    untilMs: number;
  },
): GroupState {
  const keep = new Set(n.members.map((m) => hexKey(m.identityKey)));
  return {
    ...group,
    epoch: n.newEpoch,
    publicKey: n.newPublicKey,
    secretKey: n.newSecretKey,
    admin: n.admin,
    members: n.members,
    formerMembers: n.formerMembers,
    sendSeq,
    windows: new Map([...group.windows].filter(([k]) => keep.has(k))),
    previous: { epoch: group.epoch, publicKey: group.publicKey, secretKey: group.secretKey, untilMs: n.untilMs },
  };
}

/** Scheduled rotation (forward secrecy of the group layer): a rekey with the same members. */
export function rotateGroupKey(
  crypto: CryptoBackend,
  group: GroupState,
  actor: LocalIdentity,
  rng: Rng,
  nowMs: number,
  options: Omit<RekeyOptions, 'reason' | 'newAdmin'> = {},
): RekeyResult {
  return createRekey(
    crypto,
    group,
    actor,
    group.members.map((m) => m.identityKey),
    rng,
    nowMs,
    { ...options, reason: 'rotate' },
  );
}

export interface OpenedRekey {
  readonly index: number;
  /** The receiver's new state: new key and epoch, previous key kept for the grace period. */
  readonly group: GroupState;
  readonly reason: RekeyReason;
  readonly actor: Uint8Array;
  /** Members of our old state that are not in the new one. */
  readonly removed: Uint8Array[];
}

/**
 * Opens a rekey blob sealed to our identity. Null when it is not sealed to
 * us or is another kind of direct message (try openInvite). Otherwise the
 * result is verified, or a typed error says why not: unknown group, not
 * newer than our epoch (replays land here), actor not our admin, bad
 * signature, bad certificates, or we are not in the new list.
 */
export function openRekey(
  crypto: CryptoBackend,
  identitySeed: Uint8Array,
  groups: readonly GroupState[],
  sealed: Uint8Array,
  nowMs: number,
  options: { graceMs?: number } = {},
): OpenedRekey | null {
  const direct = openDirect(crypto, identitySeed, sealed);
  if (direct === null) return null;
  if (direct.version !== DIRECT_VERSION) throw new MalformedRekey(`unknown direct message version ${direct.version}`);
  if (direct.kind !== DIRECT_KIND.rekey) return null;
  return acceptRekey(crypto, identitySeed, groups, direct.body, nowMs, options);
}

/**
 * The body of a rekey direct message that the caller has already opened (so a
 * receiver dispatching on the kind opens each seal once). Verified as in openRekey.
 */
export function acceptRekey(
  crypto: CryptoBackend,
  identitySeed: Uint8Array,
  groups: readonly GroupState[],
  body: Uint8Array,
  nowMs: number,
  options: { graceMs?: number } = {},
): OpenedRekey {
  const c = decodeRekeyContent(body);
  const index = groups.findIndex((g) => bytesEqual(g.groupId, c.groupId));
  if (index < 0) throw new NotAMember('rekey for a group we are not in');
  const group = groups[index] as GroupState;
  if (c.newEpoch <= group.epoch) throw new WrongEpoch(`rekey to epoch ${c.newEpoch}; we are already at ${group.epoch}`);
  if (!bytesEqual(c.actor, group.admin) || !findMember(group.members, c.actor)) {
    throw new NotAuthorized('rekey is not from the group admin');
  }
  const signed = body.subarray(0, body.length - 64);
  if (!crypto.ed25519Verify(c.actor, concatBytes(REKEY_LABEL, signed), c.signature)) {
    throw new BadSignature('rekey signature does not verify');
  }
  if (!crypto.equal(crypto.x25519Base(c.newSecretKey), c.newPublicKey)) {
    throw new MalformedRekey('new group secret key does not match its public key');
  }
  verifyMemberList(crypto, c.groupId, c.newEpoch, group.creator, c.members, c.formerMembers);
  const self = crypto.ed25519PublicKey(identitySeed);
  if (!findMember(c.members, self)) throw new NotAMember('the rekey does not keep us as a member');
  if (!findMember(c.members, c.admin)) throw new MalformedRekey('the new admin is not a member');
  const removed = group.members.filter((m) => !findMember(c.members, m.identityKey)).map((m) => m.identityKey);
  const newState = nextState(group, group.sendSeq, {
    newEpoch: c.newEpoch,
    newPublicKey: c.newPublicKey,
    newSecretKey: c.newSecretKey,
    admin: c.admin,
    members: c.members,
    formerMembers: c.formerMembers,
    untilMs: nowMs + (options.graceMs ?? DEFAULT_REKEY_GRACE_MS),
  });
  return { index, group: newState, reason: c.reason, actor: c.actor, removed };
}

export type LeaveResult =
  /** A plain member: multicast this `leave` message; the admin then rekeys without us. */
  | { kind: 'message'; c0: Uint8Array; group: GroupState }
  /** The admin: deliver these rekey blobs and the notice; the successor becomes admin. */
  | { kind: 'handover'; rekey: RekeyResult }
  /** The last member: nothing to send, just delete the group. */
  | { kind: 'last' };

/**
 * Leaving. Decision: the rekey after a member's leave is done by the admin
 * (the only rekeyer). The admin itself leaves by rekeying the group without
 * itself, handing over to `successor` (default: the longest-standing other
 * member, by certificate issue time then key, so the choice is predictable).
 */
export function leaveGroup(
  crypto: CryptoBackend,
  group: GroupState,
  self: LocalIdentity,
  rng: Rng,
  nowMs: number,
  options: RekeyOptions & { successor?: Uint8Array } = {},
): LeaveResult {
  if (!findMember(group.members, self.identityKey)) throw new NotAMember('we are not a member of this group');
  const others = group.members.filter((m) => !bytesEqual(m.identityKey, self.identityKey));
  if (others.length === 0) return { kind: 'last' };
  if (!bytesEqual(group.admin, self.identityKey)) {
    const sent = sealGroupMessage(crypto, group, self, 'leave', new Uint8Array(0), rng, options);
    return { kind: 'message', c0: sent.c0, group: sent.group };
  }
  const successor =
    options.successor ??
    [...others].sort(
      (a, b) =>
        a.certificate.issuedAtMs - b.certificate.issuedAtMs ||
        hexKey(a.identityKey).localeCompare(hexKey(b.identityKey)),
    )[0]?.identityKey;
  const rekey = createRekey(
    crypto,
    group,
    self,
    others.map((m) => m.identityKey),
    rng,
    nowMs,
    { ...options, newAdmin: successor, reason: 'leave' },
  );
  return { kind: 'handover', rekey };
}
