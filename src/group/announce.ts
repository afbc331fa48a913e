import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import {
  checkCertificate,
  encodeCertificate,
  GROUP_ID_BYTES,
  isSelfSigned,
  memberFromCertificate,
  readCertificate,
} from './certificate.js';
import {
  BadCertificate,
  BadSignature,
  MalformedGroupMessage,
  NotAMember,
  NotAuthorized,
  WrongEpoch,
} from './errors.js';
import type { Signer } from './groupMessage.js';
import { assertNotRemoved, findMember, type GroupState, isAdmin, type Member } from './groupState.js';
import { hexKey } from './keys.js';
import { isRevoked, mergeRevocations } from './revocation.js';
import { CHAIN_KEY_BYTES, type ReceiveChain, receiveChainFrom } from './senderChain.js';

/**
 * Announce (direct message kind 6): a newcomer, with the position of its
 * sender chain, sent to each member separately (sealed to that member's
 * identity key), never under the group key: a chain key sealed to pub_G
 * would be readable by anyone who later captures the group secret, which
 * the sender ratchet exists to prevent.
 *
 *   version(1)=1 | groupId(16) | epoch u32 | announcer(32) | certificate(167)
 *   | chainKey(32) | chainIndex u32 | signature(64)
 *   signature = Ed25519(announcer, "mixd/v1/group/announce\0" || all bytes before it)
 *
 * The announcer is the newcomer itself (its own fresh chain at 0), or an
 * admin (and no other member) re-announcing a recent joiner to members who may have missed it (the
 * joiner's chain where the admin has read it).
 *
 * Admission, checked by every member (issue 11, "removal that stays done"):
 *   - the certificate is for the group's *current* epoch: a certificate of an
 *     older epoch (a removed member's, say) admits no one;
 *   - its inviter is a current member (not a former one) and it is not self-signed;
 *   - a revoked key is admitted only on a certificate from an admin;
 *   - a member who left during this epoch cannot be announced back into it.
 */
export const ANNOUNCE_VERSION = 1;
const ANNOUNCE_LABEL = label('announce');

export interface Announce {
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly announcer: Uint8Array;
  readonly member: Member;
  readonly chainKey: Uint8Array;
  readonly chainIndex: number;
  readonly signature: Uint8Array;
}

function unsigned(a: Omit<Announce, 'signature'>): Uint8Array {
  return new ByteWriter()
    .u8(ANNOUNCE_VERSION)
    .bytes(a.groupId)
    .u32(a.epoch)
    .bytes(a.announcer)
    .bytes(encodeCertificate(a.member.certificate))
    .bytes(a.chainKey)
    .u32(a.chainIndex)
    .finish();
}

/** The announce body for `member` with its chain at (chainKey, index), signed by `announcer`. */
export function createAnnounce(
  crypto: CryptoBackend,
  group: GroupState,
  announcer: Signer,
  member: Member,
  chain: { chainKey: Uint8Array; index: number },
): Uint8Array {
  const u = unsigned({
    groupId: group.groupId,
    epoch: group.epoch,
    announcer: announcer.identityKey,
    member,
    chainKey: chain.chainKey,
    chainIndex: chain.index,
  });
  return concatBytes(u, crypto.ed25519Sign(announcer.identitySeed, concatBytes(ANNOUNCE_LABEL, u)));
}

/** What a joiner sends (to each member, sealed pairwise) right after unlocking an invite. */
export function announceSelf(crypto: CryptoBackend, group: GroupState, self: Signer): Uint8Array {
  assertNotRemoved(group);
  const me = findMember(group.members, self.identityKey);
  if (!me) throw new NotAMember('cannot announce: we are not in the member list');
  return createAnnounce(crypto, group, self, me, group.sendChain);
}

/** An admin re-announcing `member` (a recent joiner) with its chain where we have read it; null if we have none. */
export function reannounce(crypto: CryptoBackend, group: GroupState, admin: Signer, member: Member): Uint8Array | null {
  const chain = group.chains.get(hexKey(member.identityKey));
  if (!chain) return null;
  return createAnnounce(crypto, group, admin, member, chain);
}

/** Throws only MalformedGroupMessage / MalformedCertificate. */
export function decodeAnnounce(bytes: Uint8Array): Announce {
  const r = new ByteReader(bytes, (m) => new MalformedGroupMessage(`announce: ${m}`));
  const version = r.u8('version');
  if (version !== ANNOUNCE_VERSION) throw new MalformedGroupMessage(`unknown announce version ${version}`);
  const a = {
    groupId: r.bytes(GROUP_ID_BYTES, 'groupId'),
    epoch: r.u32('epoch'),
    announcer: r.bytes(IDENTITY_KEY_BYTES, 'announcer'),
    member: memberFromCertificate(readCertificate(r)),
    chainKey: r.bytes(CHAIN_KEY_BYTES, 'chain key'),
    chainIndex: r.u32('chain index'),
    signature: r.bytes(64, 'signature'),
  };
  r.end('announce');
  return a;
}

export interface AcceptedAnnounce {
  readonly index: number;
  /** The new state (the input is not modified); equal content when nothing changed. */
  readonly group: GroupState;
  readonly member: Member;
  /** True when the member was not known before. */
  readonly added: boolean;
}

/**
 * Checks an announce against the admission rules above and returns the new
 * state: the member added with its chain, or, for a member we know but whose
 * chain we lack, the chain. Throws a typed GroupError otherwise.
 */
export function acceptAnnounce(
  crypto: CryptoBackend,
  self: Uint8Array,
  groups: readonly GroupState[],
  body: Uint8Array,
): AcceptedAnnounce {
  const a = decodeAnnounce(body);
  const index = groups.findIndex((g) => bytesEqual(g.groupId, a.groupId));
  if (index < 0) throw new NotAMember('announce for a group we are not in');
  const g = groups[index] as GroupState;
  assertNotRemoved(g);
  if (a.epoch !== g.epoch) throw new WrongEpoch(`announce for epoch ${a.epoch}; the group is at ${g.epoch}`);
  const m = a.member;
  const cert = m.certificate;
  checkCertificate(crypto, g.groupId, g.epoch, m);
  if (cert.epoch !== g.epoch) {
    throw new BadCertificate(
      `certificate of epoch ${cert.epoch} admits no one at epoch ${g.epoch}: a new invite is needed`,
    );
  }
  if (isSelfSigned(cert)) throw new BadCertificate('a newcomer cannot certify itself');
  if (!findMember(g.members, cert.inviterKey)) throw new BadCertificate('the inviter is not a current member');
  const byAdmin = isAdmin(g.admins, cert.inviterKey);
  if (isRevoked(g.revoked, m.identityKey) && !byAdmin) {
    throw new NotAuthorized('this member was removed by an admin; only an admin can invite it back');
  }
  // Only the newcomer or an admin may announce: a plain member handing out a bogus chain for a
  // newcomer would make everyone who believes it unable to read that newcomer.
  if (
    !bytesEqual(a.announcer, m.identityKey) &&
    !(isAdmin(g.admins, a.announcer) && findMember(g.members, a.announcer))
  ) {
    throw new NotAuthorized('announcer is neither the newcomer nor an admin');
  }
  if (
    !crypto.ed25519Verify(a.announcer, concatBytes(ANNOUNCE_LABEL, body.subarray(0, body.length - 64)), a.signature)
  ) {
    throw new BadSignature('announce signature does not verify');
  }
  if (bytesEqual(m.identityKey, self)) return { index, group: g, member: m, added: false };
  if (g.departed.some((d) => bytesEqual(d.identityKey, m.identityKey))) {
    throw new NotAuthorized('this member left during the current epoch; it can rejoin after the next rekey');
  }
  const k = hexKey(m.identityKey);
  const known = findMember(g.members, m.identityKey);
  if (known) {
    // Never reset a chain we hold: that would let a replayed announce make us accept old messages again.
    if (g.chains.has(k)) return { index, group: g, member: known, added: false };
    const chains = new Map<string, ReceiveChain>(g.chains);
    chains.set(k, receiveChainFrom(a.chainKey, a.chainIndex));
    return { index, group: { ...g, chains }, member: known, added: false };
  }
  const chains = new Map<string, ReceiveChain>(g.chains);
  chains.set(k, receiveChainFrom(a.chainKey, a.chainIndex));
  const revoked = byAdmin ? mergeRevocations(g.revoked, [], [m.identityKey]) : g.revoked;
  return { index, group: { ...g, members: [...g.members, m], chains, revoked }, member: m, added: true };
}
