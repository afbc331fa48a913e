import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import { GROUP_ID_BYTES } from './certificate.js';
import { fitTransition, type ParentView, parentView, type TransitionFit } from './epochOrder.js';
import { BadSignature, MalformedRekey, NotAMember, NotAuthorized, RekeyOutOfOrder } from './errors.js';
import { type GroupState, isAdmin, type LocalIdentity, MAX_LINEAGE, removedState } from './groupState.js';

/**
 * Removal notice (direct message kind 5), sent by the rekeying admin to each
 * member it removes, sealed to that member alone. It carries no key material
 * (not even the new group public key): it only lets the removed member's
 * client know, so its sends fail with a clear error instead of going nowhere.
 *
 *   version(1)=1 | groupId(16) | newEpoch u32 | actor(32) | parentActor(32) | removed(32)
 *   | issuedAtMs u64 | signature(64)     signature = Ed25519(actor, "mixd/v1/group/removal\0" || all before it)
 *
 * Accepted like a rekey (epochOrder.ts): by an admin of the epoch it builds
 * on, not older than what we hold; as a removal needs none of the parent's
 * content, a notice that skips epochs is also accepted from an admin we know.
 */
export const REMOVAL_VERSION = 1;
const REMOVAL_LABEL = label('removal');

export interface RemovalNotice {
  readonly groupId: Uint8Array;
  readonly newEpoch: number;
  readonly actor: Uint8Array;
  readonly parentActor: Uint8Array;
  readonly removed: Uint8Array;
  readonly issuedAtMs: number;
  readonly signature: Uint8Array;
}

function unsigned(n: Omit<RemovalNotice, 'signature'>): Uint8Array {
  return new ByteWriter()
    .u8(REMOVAL_VERSION)
    .bytes(n.groupId)
    .u32(n.newEpoch)
    .bytes(n.actor)
    .bytes(n.parentActor)
    .bytes(n.removed)
    .u64(n.issuedAtMs)
    .finish();
}

export function createRemovalNotice(
  crypto: CryptoBackend,
  fields: Omit<RemovalNotice, 'signature' | 'actor'>,
  actor: LocalIdentity,
): Uint8Array {
  const u = unsigned({ ...fields, actor: actor.identityKey });
  return concatBytes(u, crypto.ed25519Sign(actor.identitySeed, concatBytes(REMOVAL_LABEL, u)));
}

/** Throws only MalformedRekey. */
export function decodeRemovalNotice(bytes: Uint8Array): RemovalNotice {
  const r = new ByteReader(bytes, (m) => new MalformedRekey(`removal notice: ${m}`));
  const version = r.u8('version');
  if (version !== REMOVAL_VERSION) throw new MalformedRekey(`unknown removal notice version ${version}`);
  const n = {
    groupId: r.bytes(GROUP_ID_BYTES, 'groupId'),
    newEpoch: r.u32('newEpoch'),
    actor: r.bytes(IDENTITY_KEY_BYTES, 'actor'),
    parentActor: r.bytes(IDENTITY_KEY_BYTES, 'parentActor'),
    removed: r.bytes(IDENTITY_KEY_BYTES, 'removed'),
    issuedAtMs: r.u64('issuedAtMs'),
    signature: r.bytes(64, 'signature'),
  };
  r.end('removal notice');
  return n;
}

export interface AcceptedRemoval {
  readonly index: number;
  /** Our state of that group, now marked removed: no keys left, sends fail with RemovedFromGroup. */
  readonly group: GroupState;
}

export function acceptRemovalNotice(
  crypto: CryptoBackend,
  self: Uint8Array,
  groups: readonly GroupState[],
  body: Uint8Array,
): AcceptedRemoval {
  const n = decodeRemovalNotice(body);
  const index = groups.findIndex((g) => bytesEqual(g.groupId, n.groupId));
  if (index < 0) throw new NotAMember('removal notice for a group we are not in');
  const g = groups[index] as GroupState;
  if (!bytesEqual(n.removed, self)) throw new MalformedRekey('removal notice names someone else');
  let fit: TransitionFit | null;
  try {
    fit = fitTransition(g, n.newEpoch, n.actor, n.parentActor, 'removal notice');
  } catch (err) {
    // A removal needs nothing from the epochs in between: from an admin we know, a later one is enough.
    if (err instanceof RekeyOutOfOrder && n.newEpoch > g.epoch + 1 && isAdmin(g.admins, n.actor)) fit = null;
    else throw err;
  }
  const parent = parentView(g, fit ?? { kind: 'advance' });
  if (!isAdmin(parent.admins, n.actor)) throw new NotAuthorized('removal notice is not from an admin');
  const u = body.subarray(0, body.length - 64);
  if (!crypto.ed25519Verify(n.actor, concatBytes(REMOVAL_LABEL, u), n.signature)) {
    throw new BadSignature('removal notice signature does not verify');
  }
  return { index, group: markRemoved(g, parent, n.newEpoch, n.actor) };
}

/**
 * Our state once removed at (epoch, actor): the epoch moves on (so neither an
 * old invite nor an old rekey can roll us back), the parent stays in the
 * lineage (a concurrent rekey that wins and keeps us can still switch us
 * back in), every key is erased.
 */
export function markRemoved(g: GroupState, parent: ParentView, epoch: number, actor: Uint8Array): GroupState {
  const removed = removedState(g, epoch, actor);
  return {
    ...removed,
    epoch,
    epochActor: actor.slice(),
    admins: parent.admins,
    revoked: parent.revoked,
    lineage: [
      {
        epoch: parent.epoch,
        actor: parent.actor,
        admins: parent.admins,
        revoked: parent.revoked,
        removed: parent.removedSince,
      },
      ...parent.lineage,
    ].slice(0, MAX_LINEAGE),
  };
}
