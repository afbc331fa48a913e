import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import {
  checkCertificate,
  encodeCertificate,
  GROUP_ID_BYTES,
  isSelfSigned,
  memberFromCertificate,
  memberSinceBefore,
  readCertificate,
} from './certificate.js';
import { DIRECT_KIND, sealDirect } from './direct.js';
import { fitTransition, parentView } from './epochOrder.js';
import { BadCertificate, BadSignature, MalformedRekey, NotAMember, NotAuthorized } from './errors.js';
import { type SealOptions, sealGroupMessage } from './groupMessage.js';
import {
  assertNotRemoved,
  chainsFromSeed,
  findMember,
  type GroupState,
  isAdmin,
  type LocalIdentity,
  MAX_ADMINS,
  MAX_LINEAGE,
  type Member,
} from './groupState.js';
import { hexKey } from './keys.js';
import { createRemovalNotice } from './removalNotice.js';
import { mergeRevocations, type Revocation, readRevocation, signRevocation, writeRevocation } from './revocation.js';

/**
 * Rekeying: removal, leave, rotation, promotion. Any admin may rekey. The
 * new group keypair and the seed of the new epoch's sender chains go to each
 * remaining member in a blob sealed to that member's identity key; removed
 * members get only a signed removal notice (removalNotice.ts), never key
 * material. Cost: one small blob per remaining member (O(n) seals and
 * packets, each blob one packet whatever n is), because the blob carries the
 * membership *change*, not the member list:
 *
 *   new members = (members since before the parent epoch, ours) ∪ joined − removed
 *
 * "Members since before the parent epoch" (root certificate, or certificate
 * of an earlier epoch) are the same for every member by induction (they came
 * from the previous rekey); `joined` lists everyone who joined during the
 * parent epoch as the actor knows them; the digest lets each receiver check
 * that it reached exactly the actor's list.
 *
 * Blob (direct message kind 2):
 *   version(1)=2 | reason u8 | groupId(16) | newEpoch u32 | actor(32) | parentActor(32) | issuedAtMs u64
 *   | newPublicKey(32) | newSecretKey(32) | chainSeed(32)
 *   | adminCount u8 | admins(32 each)
 *   | joinedCount u16 | certificates(167 each)
 *   | removedCount u16 | removed keys(32 each)
 *   | revocationCount u16 | revocations(149 each)        (the new ones: this rekey's removals)
 *   | memberDigest(32)                                    BLAKE2b-256 of the sorted new member keys
 *   | signature(64)    = Ed25519(actor, "mixd/v1/group/rekey\0" || all bytes before it)
 *
 * Authority: the actor must be an admin of the parent epoch. Admins can be
 * added only by the creator (promotion), or by the last admin handing over
 * as it leaves. Concurrent rekeys converge by the rule in epochOrder.ts.
 */
export const REKEY_VERSION = 2;
export const REKEY_REASON = { rotate: 1, remove: 2, leave: 3, promote: 4 } as const;
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
  parentActor: Uint8Array;
  issuedAtMs: number;
  newPublicKey: Uint8Array;
  newSecretKey: Uint8Array;
  chainSeed: Uint8Array;
  admins: Uint8Array[];
  joined: Member[];
  removed: Uint8Array[];
  revocations: Revocation[];
  memberDigest: Uint8Array;
  signature: Uint8Array;
}

function writeUnsigned(c: Omit<RekeyContent, 'signature'>): Uint8Array {
  const w = new ByteWriter()
    .u8(REKEY_VERSION)
    .u8(REKEY_REASON[c.reason])
    .bytes(c.groupId)
    .u32(c.newEpoch)
    .bytes(c.actor)
    .bytes(c.parentActor)
    .u64(c.issuedAtMs)
    .bytes(c.newPublicKey)
    .bytes(c.newSecretKey)
    .bytes(c.chainSeed)
    .u8(c.admins.length);
  for (const a of c.admins) w.bytes(a);
  w.u16(c.joined.length);
  for (const m of c.joined) w.bytes(encodeCertificate(m.certificate));
  w.u16(c.removed.length);
  for (const k of c.removed) w.bytes(k);
  w.u16(c.revocations.length);
  for (const r of c.revocations) writeRevocation(w, c.groupId, r);
  return w.bytes(c.memberDigest).finish();
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
  const parentActor = r.bytes(IDENTITY_KEY_BYTES, 'parentActor');
  const issuedAtMs = r.u64('issuedAtMs');
  const newPublicKey = r.bytes(32, 'newPublicKey');
  const newSecretKey = r.bytes(32, 'newSecretKey');
  const chainSeed = r.bytes(32, 'chainSeed');
  const admins: Uint8Array[] = [];
  for (let n = r.u8('admin count'); n > 0; n--) admins.push(r.bytes(IDENTITY_KEY_BYTES, 'admin'));
  const joined: Member[] = [];
  for (let n = r.u16('joined count'); n > 0; n--) joined.push(memberFromCertificate(readCertificate(r)));
  const removed: Uint8Array[] = [];
  for (let n = r.u16('removed count'); n > 0; n--) removed.push(r.bytes(IDENTITY_KEY_BYTES, 'removed key'));
  const revocations: Revocation[] = [];
  for (let n = r.u16('revocation count'); n > 0; n--) revocations.push(readRevocation(r, groupId));
  const memberDigest = r.bytes(32, 'member digest');
  const signature = r.bytes(64, 'signature');
  r.end('rekey');
  return {
    reason,
    groupId,
    newEpoch,
    actor,
    parentActor,
    issuedAtMs,
    newPublicKey,
    newSecretKey,
    chainSeed,
    admins,
    joined,
    removed,
    revocations,
    memberDigest,
    signature,
  };
}

/** BLAKE2b-256 over the sorted member keys: what every receiver must reach after applying a rekey. */
export function memberDigest(crypto: CryptoBackend, members: readonly Member[]): Uint8Array {
  const keys = members.map((m) => hexKey(m.identityKey)).sort();
  return crypto.blake2b(new TextEncoder().encode(`members:${keys.join(',')}`), 32);
}

/**
 * The parent epoch's membership from `state`'s view: who was a member when
 * the epoch began (including those who left since), and who joined during it.
 */
function epochMembership(
  state: { members: readonly Member[]; departed: readonly Member[] },
  extra: readonly Member[],
  epoch: number,
): { start: Member[]; joined: Member[] } {
  const seen = new Set<string>();
  const start: Member[] = [];
  const joined: Member[] = [];
  const current = new Set(state.members);
  for (const m of [...state.members, ...state.departed, ...extra]) {
    const k = hexKey(m.identityKey);
    if (seen.has(k)) continue;
    seen.add(k);
    if (memberSinceBefore(m, epoch)) start.push(m);
    else if (current.has(m)) joined.push(m);
  }
  return { start, joined };
}

function applyMembership(
  start: readonly Member[],
  joined: readonly Member[],
  removed: readonly Uint8Array[],
): Member[] {
  const out = new Map<string, Member>();
  for (const m of [...start, ...joined]) out.set(hexKey(m.identityKey), m);
  for (const k of removed) out.delete(hexKey(k));
  return [...out.values()];
}

function checkAdmins(
  admins: readonly Uint8Array[],
  parentAdmins: readonly Uint8Array[],
  members: readonly Member[],
  actor: Uint8Array,
  creator: Uint8Array,
  reason: RekeyReason,
  fail: (m: string) => Error,
): void {
  if (admins.length === 0) throw fail('a rekey must leave at least one admin');
  if (admins.length > MAX_ADMINS) throw fail(`at most ${MAX_ADMINS} admins`);
  const seen = new Set<string>();
  for (const a of admins) {
    if (seen.has(hexKey(a))) throw fail('an admin is listed twice');
    seen.add(hexKey(a));
    if (!findMember(members, a)) throw fail('every admin must be a member');
  }
  const added = admins.filter((a) => !isAdmin(parentAdmins, a));
  if (added.length === 0) return;
  const handover = reason === 'leave' && !findMember(members, actor);
  if (!bytesEqual(actor, creator) && !handover) {
    throw new NotAuthorized('only the creator can promote admins (or the last admin, handing over as it leaves)');
  }
}

export interface RekeyOptions extends SealOptions {
  /** The new admin list (default: the current admins who stay). Adding any needs the creator, or a hand-over. */
  admins?: readonly Uint8Array[];
  /** Default: 'remove' when someone is dropped, else 'rotate'. */
  reason?: RekeyReason;
  graceMs?: number;
}

export interface RekeyResult {
  /** The actor's new state (discard it if the actor left). */
  readonly newState: GroupState;
  /** One sealed blob per remaining member except the actor: deliver each to that member's mailbox. */
  readonly perMember: Array<{ identityKey: Uint8Array; sealed: Uint8Array }>;
  /** One sealed removal notice per removed member (not for those who left on their own, nor the actor). */
  readonly removals: Array<{ identityKey: Uint8Array; sealed: Uint8Array }>;
  /** Everyone the rekey drops from the epoch's membership (removed or departed). */
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
  assertNotRemoved(group);
  if (!isAdmin(group.admins, actor.identityKey) || !findMember(group.members, actor.identityKey)) {
    throw new NotAuthorized('only an admin can rekey the group (remove, rotate, promote)');
  }
  if (group.epoch >= 0xffffffff) throw new RangeError('epoch counter exhausted: create a new group');
  const keep = new Set<string>();
  const memberKeys = new Set(group.members.map((m) => hexKey(m.identityKey)));
  for (const k of remainingMembers) {
    if (!memberKeys.has(hexKey(k))) throw new NotAMember(`${hexKey(k)} is not a member; rekeys never add members`);
    if (keep.has(hexKey(k))) throw new RangeError(`${hexKey(k)} is listed twice`);
    keep.add(hexKey(k));
  }
  if (keep.size === 0) throw new RangeError('a rekey needs at least one remaining member');
  const newEpoch = group.epoch + 1;
  const { start, joined } = epochMembership(group, [], group.epoch);
  const members = group.members.filter((m) => keep.has(hexKey(m.identityKey)));
  const removedMembers = [...start, ...joined].filter((m) => !keep.has(hexKey(m.identityKey)));
  const removed = removedMembers.map((m) => m.identityKey);
  const departed = new Set(group.departed.map((m) => hexKey(m.identityKey)));
  // Who is removed by this rekey (not those who left by themselves, nor the actor handing over): revoked and told.
  const expelled = removedMembers.filter(
    (m) => !departed.has(hexKey(m.identityKey)) && !bytesEqual(m.identityKey, actor.identityKey),
  );
  const reason = options.reason ?? (expelled.length > 0 ? 'remove' : 'rotate');
  const admins = [...(options.admins ?? group.admins.filter((a) => keep.has(hexKey(a))))];
  checkAdmins(admins, group.admins, members, actor.identityKey, group.creator, reason, (m) => new RangeError(m));
  const revocations =
    reason === 'remove'
      ? expelled.map((m) => signRevocation(crypto, group.groupId, m.identityKey, newEpoch, actor))
      : [];

  const newSecretKey = rng(32);
  const newPublicKey = crypto.x25519Base(newSecretKey);
  const chainSeed = rng(32);
  const unsigned = writeUnsigned({
    reason,
    groupId: group.groupId,
    newEpoch,
    actor: actor.identityKey,
    parentActor: group.epochActor,
    issuedAtMs: nowMs,
    newPublicKey,
    newSecretKey,
    chainSeed,
    admins,
    joined,
    removed,
    revocations,
    memberDigest: memberDigest(crypto, members),
  });
  const blob = concatBytes(unsigned, crypto.ed25519Sign(actor.identitySeed, concatBytes(REKEY_LABEL, unsigned)));
  const perMember = members
    .filter((m) => !bytesEqual(m.identityKey, actor.identityKey))
    .map((m) => ({
      identityKey: m.identityKey,
      sealed: sealDirect(crypto, m.identityKey, DIRECT_KIND.rekey, blob, rng),
    }));
  const removals = expelled.map((m) => ({
    identityKey: m.identityKey,
    sealed: sealDirect(
      crypto,
      m.identityKey,
      DIRECT_KIND.removal,
      createRemovalNotice(
        crypto,
        {
          groupId: group.groupId,
          newEpoch,
          parentActor: group.epochActor,
          removed: m.identityKey,
          issuedAtMs: nowMs,
        },
        actor,
      ),
      rng,
    ),
  }));
  blob.fill(0);
  unsigned.fill(0);

  const actorStays = keep.has(hexKey(actor.identityKey));
  const chains = actorStays
    ? chainsFromSeed(crypto, chainSeed, group.groupId, newEpoch, members, actor.identityKey)
    : { sendChain: { chainKey: new Uint8Array(32), index: 0 }, chains: new Map() };
  chainSeed.fill(0);
  // Re-admitted by an admin during the parent epoch, and still here: no longer revoked.
  const readmitted = joined
    .filter((m) => keep.has(hexKey(m.identityKey)) && isAdmin(group.admins, m.certificate.inviterKey))
    .map((m) => m.identityKey);
  const newState: GroupState = {
    ...group,
    epoch: newEpoch,
    epochActor: actor.identityKey.slice(),
    publicKey: newPublicKey,
    secretKey: newSecretKey,
    admins,
    members,
    departed: [],
    revoked: mergeRevocations(group.revoked, revocations, readmitted),
    sendChain: chains.sendChain,
    chains: chains.chains,
    previous: {
      epoch: group.epoch,
      publicKey: group.publicKey,
      secretKey: group.secretKey,
      chains: group.chains,
      untilMs: nowMs + (options.graceMs ?? DEFAULT_REKEY_GRACE_MS),
    },
    lineage: [
      {
        epoch: group.epoch,
        actor: group.epochActor,
        admins: group.admins,
        revoked: group.revoked,
        removed: removedMembers,
      },
      ...group.lineage,
    ].slice(0, MAX_LINEAGE),
    removed: null,
  };
  return { newState, perMember, removals, removed };
}

/** Scheduled rotation (forward secrecy of the group layer): a rekey with the same members. */
export function rotateGroupKey(
  crypto: CryptoBackend,
  group: GroupState,
  actor: LocalIdentity,
  rng: Rng,
  nowMs: number,
  options: Omit<RekeyOptions, 'reason' | 'admins'> = {},
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

/** The creator makes a member an admin: a rekey with the same members and one more admin. */
export function promoteAdmin(
  crypto: CryptoBackend,
  group: GroupState,
  creator: LocalIdentity,
  memberKey: Uint8Array,
  rng: Rng,
  nowMs: number,
  options: Omit<RekeyOptions, 'reason' | 'admins'> = {},
): RekeyResult {
  if (!bytesEqual(creator.identityKey, group.creator)) throw new NotAuthorized('only the creator can promote admins');
  if (!findMember(group.members, memberKey)) throw new NotAMember('only a member can be promoted');
  if (isAdmin(group.admins, memberKey)) throw new RangeError('already an admin');
  return createRekey(
    crypto,
    group,
    creator,
    group.members.map((m) => m.identityKey),
    rng,
    nowMs,
    { ...options, reason: 'promote', admins: [...group.admins, memberKey] },
  );
}

export interface OpenedRekey {
  readonly index: number;
  /** The receiver's new state: new key, epoch and chains, previous key kept for the grace period. */
  readonly group: GroupState;
  readonly reason: RekeyReason;
  readonly actor: Uint8Array;
  /** Members of our old state that are not in the new one. */
  readonly removed: Uint8Array[];
  /** True when this rekey replaced a concurrent one we had applied (the convergence rule). */
  readonly switched: boolean;
}

/**
 * The body of a rekey direct message that the caller has already opened.
 * Verified, or a typed error says why not: unknown group, older than our
 * epoch (Rollback), already applied, lost to a concurrent rekey
 * (RekeySuperseded), built on an epoch we do not hold yet (RekeyOutOfOrder:
 * keep it and retry), actor not an admin, bad signature, bad certificates,
 * or a member list that does not match the actor's digest.
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
  const g = groups[index] as GroupState;
  const fit = fitTransition(g, c.newEpoch, c.actor, c.parentActor, 'rekey');
  const parent = parentView(g, fit);
  if (!isAdmin(parent.admins, c.actor)) throw new NotAuthorized('rekey is not from an admin of the epoch it builds on');
  const signed = body.subarray(0, body.length - 64);
  if (!crypto.ed25519Verify(c.actor, concatBytes(REKEY_LABEL, signed), c.signature)) {
    throw new BadSignature('rekey signature does not verify');
  }
  if (!crypto.equal(crypto.x25519Base(c.newSecretKey), c.newPublicKey)) {
    throw new MalformedRekey('new group secret key does not match its public key');
  }
  const parentEpoch = c.newEpoch - 1;
  for (const m of c.joined) {
    checkCertificate(crypto, g.groupId, parentEpoch, m);
    if (isSelfSigned(m.certificate) || m.certificate.epoch !== parentEpoch) {
      throw new BadCertificate('a joined member must hold a certificate of the parent epoch');
    }
  }
  const { start } = epochMembership(g, parent.removedSince, parentEpoch);
  const members = applyMembership(start, c.joined, c.removed);
  if (!crypto.equal(memberDigest(crypto, members), c.memberDigest)) {
    throw new MalformedRekey(`member list after the rekey to epoch ${c.newEpoch} differs from the actor's`);
  }
  const self = crypto.ed25519PublicKey(identitySeed);
  if (!findMember(members, self)) throw new NotAMember('the rekey does not keep us as a member');
  checkAdmins(c.admins, parent.admins, members, c.actor, g.creator, c.reason, (m) => new MalformedRekey(m));
  for (const r of c.revocations) {
    if (!bytesEqual(r.actor, c.actor) || r.epoch !== c.newEpoch || !c.removed.some((k) => bytesEqual(k, r.memberKey))) {
      throw new MalformedRekey('a revocation does not belong to this rekey');
    }
  }
  const newKeys = new Set(members.map((m) => hexKey(m.identityKey)));
  const removedMembers = applyMembership(start, c.joined, []).filter((m) => !newKeys.has(hexKey(m.identityKey)));
  const chains = chainsFromSeed(crypto, c.chainSeed, g.groupId, c.newEpoch, members, self);
  c.chainSeed.fill(0);
  const readmitted = c.joined
    .filter((m) => newKeys.has(hexKey(m.identityKey)) && isAdmin(parent.admins, m.certificate.inviterKey))
    .map((m) => m.identityKey);
  const untilMs = nowMs + (options.graceMs ?? DEFAULT_REKEY_GRACE_MS);
  const previous = fit.kind === 'switch' ? parent.previous : parent.previous ? { ...parent.previous, untilMs } : null;
  const newState: GroupState = {
    ...g,
    epoch: c.newEpoch,
    epochActor: c.actor,
    publicKey: c.newPublicKey,
    secretKey: c.newSecretKey,
    admins: c.admins,
    members,
    departed: [],
    revoked: mergeRevocations(parent.revoked, c.revocations, readmitted),
    sendChain: chains.sendChain,
    chains: chains.chains,
    previous,
    lineage: [
      {
        epoch: parentEpoch,
        actor: c.parentActor,
        admins: parent.admins,
        revoked: parent.revoked,
        removed: removedMembers,
      },
      ...parent.lineage,
    ].slice(0, MAX_LINEAGE),
    removed: null,
  };
  const removed = g.members.filter((m) => !newKeys.has(hexKey(m.identityKey))).map((m) => m.identityKey);
  return { index, group: newState, reason: c.reason, actor: c.actor, removed, switched: fit.kind === 'switch' };
}

export type LeaveResult =
  /** A plain member (or one admin of several): multicast this `leave` message; an admin then rekeys without us. */
  | { kind: 'message'; c0: Uint8Array; group: GroupState }
  /** The last admin: deliver these rekey blobs; the successor becomes admin. */
  | { kind: 'handover'; rekey: RekeyResult }
  /** The last member: nothing to send, just delete the group. */
  | { kind: 'last' };

/**
 * Leaving. A member (or an admin while other admins remain) sends a `leave`
 * message and an admin rekeys without it. The last admin leaves by rekeying
 * the group without itself, handing the admin role to `successor` (default:
 * the longest-standing other member, by certificate issue time then key).
 */
export function leaveGroup(
  crypto: CryptoBackend,
  group: GroupState,
  self: LocalIdentity,
  rng: Rng,
  nowMs: number,
  options: RekeyOptions & { successor?: Uint8Array } = {},
): LeaveResult {
  assertNotRemoved(group);
  if (!findMember(group.members, self.identityKey)) throw new NotAMember('we are not a member of this group');
  const others = group.members.filter((m) => !bytesEqual(m.identityKey, self.identityKey));
  if (others.length === 0) return { kind: 'last' };
  const lastAdmin = group.admins.length === 1 && isAdmin(group.admins, self.identityKey);
  if (!lastAdmin) {
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
  if (!successor) throw new RangeError('no successor');
  const rekey = createRekey(
    crypto,
    group,
    self,
    others.map((m) => m.identityKey),
    rng,
    nowMs,
    { ...options, admins: [successor], reason: 'leave' },
  );
  return { kind: 'handover', rekey };
}
