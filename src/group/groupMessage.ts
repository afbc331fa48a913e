import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { DEFAULT_GEOMETRY, type PacketGeometry } from '../scramble/geometry.js';
import type { Rng } from '../scramble/rng.js';
import { openSeal, seal } from '../scramble/sealedBox.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import {
  decodeCertificate,
  encodeCertificate,
  GROUP_ID_BYTES,
  memberFromCertificate,
  verifyNewcomer,
} from './certificate.js';
import {
  BadSignature,
  DatagramTooLarge,
  DuplicateMessage,
  MalformedGroupMessage,
  NotAMember,
  NotAuthorized,
  WrongEpoch,
} from './errors.js';
import { findMember, type GroupState, type Member, pruneFormerMembers } from './groupState.js';
import { hexKey } from './keys.js';
import { decodeRekeyNotice } from './rekeyNotice.js';
import { advanceWindow, checkWindow } from './sequenceWindow.js';
import { INNER_HEADER_BYTES, maxDatagramBytes, maxInnerBytes, paddedInnerLength, SIGNATURE_BYTES } from './sizes.js';

/**
 * Signed group messages. C0 = seal(pub_G, inner) with
 *
 *   inner = version(1) | type(1) | groupId(16) | epoch(u32) | sender(32)
 *         | seq(u64) | bodyLength(u16) | body | zero padding | signature(64)
 *
 * signature = Ed25519(sender, "mixd/v1/group/msg\0" || every byte before it).
 *
 * pub_G is known to P2 (it re-seals copies), so the seal alone proves
 * nothing about the author: the signature by a current member's identity key
 * is what authenticates a message. The padding (to a size class, see
 * sizes.ts) is signed too, so nobody can re-pad a message into a new one.
 */
export const GROUP_MESSAGE_VERSION = 1;
export const MESSAGE_TYPE = { data: 1, announce: 2, rekey: 3, leave: 4 } as const;
export type GroupMessageType = keyof typeof MESSAGE_TYPE;
const TYPE_BY_CODE = new Map<number, GroupMessageType>(
  Object.entries(MESSAGE_TYPE).map(([k, v]) => [v, k as GroupMessageType]),
);
const MSG_LABEL = label('msg');

export interface Signer {
  readonly identitySeed: Uint8Array;
  readonly identityKey: Uint8Array;
}

export interface SealOptions {
  /** Packet geometry the message must fit (default: DEFAULT_GEOMETRY). */
  geometry?: PacketGeometry;
  /** Pad the inner message to a size class (default true; see sizes.ts for why). */
  pad?: boolean;
}

export interface SealedGroupMessage {
  readonly c0: Uint8Array;
  readonly seq: number;
  /** The sender's group state with sendSeq advanced; the input state is not modified. */
  readonly group: GroupState;
}

/** A decoded (not yet verified) inner message. */
export interface GroupMessageInner {
  readonly type: GroupMessageType;
  readonly groupId: Uint8Array;
  readonly epoch: number;
  readonly sender: Uint8Array;
  readonly seq: number;
  readonly body: Uint8Array;
  /** Every byte the signature covers. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/** Parses an inner message. Throws only MalformedGroupMessage. */
export function decodeGroupMessageInner(inner: Uint8Array): GroupMessageInner {
  const r = new ByteReader(inner, (m) => new MalformedGroupMessage(m));
  if (inner.length < INNER_HEADER_BYTES + SIGNATURE_BYTES) throw new MalformedGroupMessage('inner message too short');
  const version = r.u8('version');
  if (version !== GROUP_MESSAGE_VERSION) throw new MalformedGroupMessage(`unknown group message version ${version}`);
  const code = r.u8('type');
  const type = TYPE_BY_CODE.get(code);
  if (!type) throw new MalformedGroupMessage(`unknown group message type ${code}`);
  const groupId = r.bytes(GROUP_ID_BYTES, 'groupId');
  const epoch = r.u32('epoch');
  const sender = r.bytes(IDENTITY_KEY_BYTES, 'sender');
  const seq = r.u64('seq');
  const bodyLength = r.u16('body length');
  if (bodyLength > inner.length - INNER_HEADER_BYTES - SIGNATURE_BYTES)
    throw new MalformedGroupMessage('body overruns');
  const body = r.bytes(bodyLength, 'body');
  const signedEnd = inner.length - SIGNATURE_BYTES;
  for (let i = r.offset; i < signedEnd; i++) {
    if (inner[i] !== 0) throw new MalformedGroupMessage('non-zero padding');
  }
  return {
    type,
    groupId,
    epoch,
    sender,
    seq,
    body,
    signed: inner.slice(0, signedEnd),
    signature: inner.slice(signedEnd),
  };
}

/**
 * Signs and seals a message to the group's current key. Throws NotAMember if
 * `sender` is not in the member list and DatagramTooLarge if the body does
 * not fit one delivered copy.
 */
export function sealGroupMessage(
  crypto: CryptoBackend,
  group: GroupState,
  sender: Signer,
  type: GroupMessageType,
  body: Uint8Array,
  rng: Rng,
  options: SealOptions = {},
): SealedGroupMessage {
  const geometry = options.geometry ?? DEFAULT_GEOMETRY;
  if (!findMember(group.members, sender.identityKey)) throw new NotAMember('only a member can send to the group');
  const max = maxDatagramBytes(geometry);
  if (body.length > max) throw new DatagramTooLarge(`datagram is ${body.length} bytes; at most ${max} fit`);
  if (type === 'leave' && body.length !== 0) throw new RangeError('a leave message carries no body');
  if (type === 'leave' && bytesEqual(sender.identityKey, group.admin)) {
    throw new NotAuthorized('the admin leaves by handing over in a rekey (leaveGroup)');
  }
  if (type === 'rekey' && !bytesEqual(sender.identityKey, group.admin)) {
    throw new NotAuthorized('only the admin announces rekeys');
  }
  const seq = group.sendSeq;
  const header = new ByteWriter()
    .u8(GROUP_MESSAGE_VERSION)
    .u8(MESSAGE_TYPE[type])
    .bytes(group.groupId)
    .u32(group.epoch)
    .bytes(sender.identityKey)
    .u64(seq)
    .bytes16(body)
    .finish();
  const natural = header.length + SIGNATURE_BYTES;
  const total = options.pad === false ? natural : paddedInnerLength(geometry, natural);
  const signed = new Uint8Array(total - SIGNATURE_BYTES);
  signed.set(header, 0);
  const signature = crypto.ed25519Sign(sender.identitySeed, concatBytes(MSG_LABEL, signed));
  const c0 = seal(crypto, group.publicKey, concatBytes(signed, signature), rng);
  return { c0, seq, group: { ...group, sendSeq: seq + 1 } };
}

export interface OpenedGroupMessage {
  /** Index of the group (in the `groups` argument) the message belongs to. */
  readonly index: number;
  /**
   * That group's new state: replay window advanced, and for `announce` the
   * newcomer added, for `leave` the leaver moved to former members. Replace
   * the stored state with it; the input is not modified.
   */
  readonly group: GroupState;
  readonly sender: Member;
  readonly type: GroupMessageType;
  readonly body: Uint8Array;
  readonly seq: number;
  readonly epoch: number;
}

/**
 * Trial-decrypts C0 with every group's current key, and with its previous
 * key while the rekey grace period lasts. Returns null when no key opens it
 * (not ours: maybe an invite or a rekey blob). Once a key opens it, every
 * failure is a typed GroupError: malformed, wrong epoch, sender not a
 * member, bad signature, duplicate/replayed sequence number.
 */
export function openGroupMessage(
  crypto: CryptoBackend,
  groups: readonly GroupState[],
  c0: Uint8Array,
  nowMs: number,
): OpenedGroupMessage | null {
  for (let index = 0; index < groups.length; index++) {
    const group = groups[index] as GroupState;
    const keys = [{ epoch: group.epoch, publicKey: group.publicKey, secretKey: group.secretKey }];
    if (group.previous && nowMs <= group.previous.untilMs) keys.push(group.previous);
    for (const key of keys) {
      const inner = openSeal(crypto, key.publicKey, key.secretKey, c0);
      if (inner !== null) return acceptInner(crypto, index, group, key.epoch, inner);
    }
  }
  return null;
}

function acceptInner(
  crypto: CryptoBackend,
  index: number,
  group: GroupState,
  keyEpoch: number,
  inner: Uint8Array,
): OpenedGroupMessage {
  const m = decodeGroupMessageInner(inner);
  if (!bytesEqual(m.groupId, group.groupId)) throw new MalformedGroupMessage('group id does not match the group key');
  if (m.epoch !== keyEpoch) throw new WrongEpoch(`message says epoch ${m.epoch} but was sealed to epoch ${keyEpoch}`);

  // Who is speaking: a current member, or a newcomer announcing itself with a certificate.
  let sender = findMember(group.members, m.sender);
  let newcomer: Member | undefined;
  if (m.type === 'announce') {
    newcomer = memberFromCertificate(decodeAnnounceBody(m.body));
    if (findMember(group.members, newcomer.identityKey))
      newcomer = undefined; // already known: no-op
    else verifyNewcomer(crypto, group.groupId, group.epoch, group.members, group.formerMembers, newcomer);
    if (!sender && newcomer && bytesEqual(newcomer.identityKey, m.sender)) sender = newcomer;
  }
  if (!sender) throw new NotAMember('sender is not a member of the group');
  if (!crypto.ed25519Verify(m.sender, concatBytes(MSG_LABEL, m.signed), m.signature)) {
    throw new BadSignature('group message signature does not verify');
  }

  if (m.type === 'leave') {
    if (m.body.length !== 0) throw new MalformedGroupMessage('leave carries no body');
    // The admin leaves by handing over in a rekey (rekey.ts); a bare leave would leave the group without one.
    if (bytesEqual(m.sender, group.admin)) throw new NotAuthorized('the admin leaves through a rekey, not a leave');
  }
  if (m.type === 'rekey') {
    if (!bytesEqual(m.sender, group.admin)) throw new NotAuthorized('only the admin announces rekeys');
    decodeRekeyNotice(m.body);
  }

  // A (re-)joining member starts a fresh window: its earlier numbers, if any, belonged to an earlier
  // membership whose messages carry an older epoch and are rejected by the epoch check anyway.
  const senderHex = hexKey(m.sender);
  const window = sender === newcomer ? undefined : group.windows.get(senderHex);
  const verdict = checkWindow(window, m.seq);
  if (verdict !== 'fresh') throw new DuplicateMessage(`sequence number ${m.seq} from this sender is ${verdict}`);
  const windows = new Map(group.windows);
  windows.set(senderHex, advanceWindow(window, m.seq));

  let members = group.members;
  let formerMembers = group.formerMembers;
  if (newcomer) {
    const key = newcomer.identityKey;
    members = [...members, newcomer];
    formerMembers = formerMembers.filter((f) => !bytesEqual(f.identityKey, key));
  }
  if (m.type === 'leave') {
    members = members.filter((x) => !bytesEqual(x.identityKey, m.sender));
    formerMembers = pruneFormerMembers(members, [...formerMembers, sender]);
    windows.delete(senderHex);
  }
  return {
    index,
    group: { ...group, members, formerMembers, windows },
    sender,
    type: m.type,
    body: m.body,
    seq: m.seq,
    epoch: m.epoch,
  };
}

/** Body of an `announce`: the newcomer's certificate (167 bytes). */
export function encodeAnnounceBody(member: Member): Uint8Array {
  return encodeCertificate(member.certificate);
}

export function decodeAnnounceBody(body: Uint8Array) {
  return decodeCertificate(body);
}

/** What a joiner sends right after unlocking an invite (seed 004: "send the new user's public key"). */
export function announceSelf(
  crypto: CryptoBackend,
  group: GroupState,
  self: Signer,
  rng: Rng,
  options?: SealOptions,
): SealedGroupMessage {
  const me = findMember(group.members, self.identityKey);
  if (!me) throw new NotAMember('cannot announce: we are not in the member list');
  return sealGroupMessage(crypto, group, self, 'announce', encodeAnnounceBody(me), rng, options);
}

export { maxDatagramBytes, maxInnerBytes };
