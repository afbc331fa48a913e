import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { DEFAULT_GEOMETRY, type PacketGeometry } from '../scramble/geometry.js';
import type { Rng } from '../scramble/rng.js';
import { openSeal, SEAL_OVERHEAD, seal } from '../scramble/sealedBox.js';
import { IDENTITY_KEY_BYTES } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import { BadSignature, DatagramTooLarge, MalformedGroupMessage, NotAMember, NotAuthorized } from './errors.js';
import { assertNotRemoved, type Chains, findMember, type GroupState, isAdmin, type Member } from './groupState.js';
import { hexKey } from './keys.js';
import { nextSendKey, type ReceiveChain, receiveKey } from './senderChain.js';
import {
  C0_OVERHEAD,
  INNER_HEADER_BYTES,
  maxDatagramBytes,
  OUTER_HEADER_BYTES,
  paddedC0Length,
  SECRETBOX_MAC_BYTES,
  SIGNATURE_BYTES,
} from './sizes.js';

/**
 * Group messages, encrypted per message with the sender's ratchet
 * (senderChain.ts) and signed by the sender:
 *
 *   C0    = seal(pub_G, outer)
 *   outer = version(1)=2 | sender(32) | index u32 | secretbox(inner, nonce = 0^24, messageKey(sender, index))
 *   inner = type(1) | bodyLength u16 | body | zero padding | signature(64)
 *   signature = Ed25519(sender, "mixd/v1/group/msg\0" || groupId || epoch u32 || sender || index u32
 *                               || every inner byte before the signature)
 *
 * The content is under the message key, used once and then deleted, so the
 * group secret key (held for the whole epoch) opens only the outer layer: who
 * sent it and its index, not the content. The seal to pub_G is the minimal
 * outer layer today's transport needs: P2 and CS see C0 and must not learn
 * (sender, index); the recipient needs them to pick the chain. Issue 9 will
 * replace it (a single-use box id that tells the recipient the same two
 * things); the ratchet does not depend on it. A fixed zero nonce is safe
 * because every message key encrypts exactly one message.
 *
 * pub_G is known to P2 and every member holds every chain, so neither layer
 * says who wrote the message: the Ed25519 signature by a current member's
 * identity key does. The padding is inside the signature (nobody can re-pad a
 * message into a new one) and makes C0 one of a few size classes (sizes.ts).
 */
export const GROUP_MESSAGE_VERSION = 2;
/** 1 data, 4 leave. (2 and 3 were the announce and rekey notice of version 1; they are now direct messages.) */
export const MESSAGE_TYPE = { data: 1, leave: 4 } as const;
export type GroupMessageType = keyof typeof MESSAGE_TYPE;
const TYPE_BY_CODE = new Map<number, GroupMessageType>(
  Object.entries(MESSAGE_TYPE).map(([k, v]) => [v, k as GroupMessageType]),
);
const MSG_LABEL = label('msg');
const ZERO_NONCE = new Uint8Array(24);

export interface Signer {
  readonly identitySeed: Uint8Array;
  readonly identityKey: Uint8Array;
}

export interface SealOptions {
  /** Packet geometry the message must fit (default: DEFAULT_GEOMETRY). */
  geometry?: PacketGeometry;
  /** Pad C0 to a size class (default true; see sizes.ts for why). */
  pad?: boolean;
}

export interface SealedGroupMessage {
  readonly c0: Uint8Array;
  /** Index of the message in the sender's chain. */
  readonly index: number;
  /** The sender's group state with its chain advanced; the input state is not modified. */
  readonly group: GroupState;
}

function signedBytes(
  group: { groupId: Uint8Array },
  epoch: number,
  sender: Uint8Array,
  index: number,
  inner: Uint8Array,
) {
  return concatBytes(MSG_LABEL, group.groupId, new ByteWriter().u32(epoch).bytes(sender).u32(index).finish(), inner);
}

/**
 * Encrypts, signs and seals a message to the group's current epoch. Throws
 * RemovedFromGroup if we were removed, NotAMember if `sender` is not in the
 * member list, DatagramTooLarge if the body does not fit one delivered copy.
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
  assertNotRemoved(group);
  if (!findMember(group.members, sender.identityKey)) throw new NotAMember('only a member can send to the group');
  const max = maxDatagramBytes(geometry);
  if (body.length > max) throw new DatagramTooLarge(`datagram is ${body.length} bytes; at most ${max} fit`);
  if (type === 'leave' && body.length !== 0) throw new RangeError('a leave message carries no body');
  if (type === 'leave' && isAdmin(group.admins, sender.identityKey) && group.admins.length === 1) {
    throw new NotAuthorized('the last admin leaves by handing over in a rekey (leaveGroup)');
  }
  const natural = C0_OVERHEAD + body.length;
  const c0Length = options.pad === false ? natural : paddedC0Length(geometry, natural);
  const innerLength = c0Length - SEAL_OVERHEAD - OUTER_HEADER_BYTES - SECRETBOX_MAC_BYTES;
  const inner = new Uint8Array(innerLength);
  inner.set(new ByteWriter().u8(MESSAGE_TYPE[type]).bytes16(body).finish(), 0);
  const step = nextSendKey(crypto, group.sendChain);
  const toSign = inner.subarray(0, innerLength - SIGNATURE_BYTES);
  inner.set(
    crypto.ed25519Sign(sender.identitySeed, signedBytes(group, group.epoch, sender.identityKey, step.index, toSign)),
    innerLength - SIGNATURE_BYTES,
  );
  const ciphertext = crypto.secretboxEasy(inner, ZERO_NONCE, step.messageKey);
  step.messageKey.fill(0);
  inner.fill(0);
  const outer = new ByteWriter()
    .u8(GROUP_MESSAGE_VERSION)
    .bytes(sender.identityKey)
    .u32(step.index)
    .bytes(ciphertext)
    .finish();
  const c0 = seal(crypto, group.publicKey, outer, rng);
  return { c0, index: step.index, group: { ...group, sendChain: step.chain } };
}

export interface OpenedGroupMessage {
  /** Index of the group (in the `groups` argument) the message belongs to. */
  readonly index: number;
  /**
   * That group's new state: the sender's chain advanced (the message key is
   * gone), and for `leave` the leaver moved out. Replace the stored state
   * with it; the input is not modified.
   */
  readonly group: GroupState;
  readonly sender: Member;
  readonly type: GroupMessageType;
  readonly body: Uint8Array;
  /** Index of the message in the sender's chain. */
  readonly messageIndex: number;
  readonly epoch: number;
}

/** The outer layer of C0 once the group key opened it. Throws only MalformedGroupMessage. */
export function decodeOuter(outer: Uint8Array): { sender: Uint8Array; index: number; ciphertext: Uint8Array } {
  const r = new ByteReader(outer, (m) => new MalformedGroupMessage(m));
  const version = r.u8('version');
  if (version !== GROUP_MESSAGE_VERSION) throw new MalformedGroupMessage(`unknown group message version ${version}`);
  const sender = r.bytes(IDENTITY_KEY_BYTES, 'sender');
  const index = r.u32('index');
  if (r.remaining < SECRETBOX_MAC_BYTES + INNER_HEADER_BYTES + SIGNATURE_BYTES) {
    throw new MalformedGroupMessage('ciphertext too short');
  }
  return { sender, index, ciphertext: r.bytes(r.remaining, 'ciphertext') };
}

/** Parses a decrypted inner message. Throws only MalformedGroupMessage. */
export function decodeInner(inner: Uint8Array): {
  type: GroupMessageType;
  body: Uint8Array;
  signed: Uint8Array;
  signature: Uint8Array;
} {
  if (inner.length < INNER_HEADER_BYTES + SIGNATURE_BYTES) throw new MalformedGroupMessage('inner message too short');
  const r = new ByteReader(inner, (m) => new MalformedGroupMessage(m));
  const code = r.u8('type');
  const type = TYPE_BY_CODE.get(code);
  if (!type) throw new MalformedGroupMessage(`unknown group message type ${code}`);
  const bodyLength = r.u16('body length');
  if (bodyLength > inner.length - INNER_HEADER_BYTES - SIGNATURE_BYTES)
    throw new MalformedGroupMessage('body overruns');
  const body = r.bytes(bodyLength, 'body');
  const signedEnd = inner.length - SIGNATURE_BYTES;
  for (let i = r.offset; i < signedEnd; i++) {
    if (inner[i] !== 0) throw new MalformedGroupMessage('non-zero padding');
  }
  return { type, body, signed: inner.slice(0, signedEnd), signature: inner.slice(signedEnd) };
}

/**
 * Trial-decrypts C0 with every group's current key, and with its previous
 * key while the rekey grace period lasts. Returns null when no key opens it.
 * Once a key opens it, every failure is a typed GroupError: malformed, sender
 * without a chain (not a member), already read or replayed, too far ahead,
 * not authentic (message key or signature), or not allowed.
 */
export function openGroupMessage(
  crypto: CryptoBackend,
  groups: readonly GroupState[],
  c0: Uint8Array,
  nowMs: number,
): OpenedGroupMessage | null {
  for (let index = 0; index < groups.length; index++) {
    const group = groups[index] as GroupState;
    if (group.removed) continue;
    const keys: Array<{
      epoch: number;
      publicKey: Uint8Array;
      secretKey: Uint8Array;
      chains: Chains;
      current: boolean;
    }> = [
      {
        epoch: group.epoch,
        publicKey: group.publicKey,
        secretKey: group.secretKey,
        chains: group.chains,
        current: true,
      },
    ];
    if (group.previous && nowMs <= group.previous.untilMs) keys.push({ ...group.previous, current: false });
    for (const key of keys) {
      const outer = openSeal(crypto, key.publicKey, key.secretKey, c0);
      if (outer !== null) return acceptOuter(crypto, index, group, key, outer);
    }
  }
  return null;
}

function acceptOuter(
  crypto: CryptoBackend,
  index: number,
  group: GroupState,
  key: { epoch: number; chains: Chains; current: boolean },
  outerBytes: Uint8Array,
): OpenedGroupMessage {
  const outer = decodeOuter(outerBytes);
  const senderHex = hexKey(outer.sender);
  // A removed or departed member has no chain any more, and a stranger never had one.
  const sender = findMember(group.members, outer.sender);
  const chain = key.chains.get(senderHex);
  if (!sender || !chain) throw new NotAMember(`sender has no chain in epoch ${key.epoch}: not a member`);
  const received = receiveKey(crypto, chain, outer.index);
  const inner = crypto.secretboxOpenEasy(outer.ciphertext, ZERO_NONCE, received.messageKey);
  received.messageKey.fill(0);
  if (inner === null) throw new BadSignature('message does not authenticate under the sender chain');
  const m = decodeInner(inner);
  if (
    !crypto.ed25519Verify(outer.sender, signedBytes(group, key.epoch, outer.sender, outer.index, m.signed), m.signature)
  ) {
    throw new BadSignature('group message signature does not verify');
  }
  inner.fill(0);
  const chains = new Map<string, ReceiveChain>(key.chains);
  chains.set(senderHex, received.chain);
  let next: GroupState = key.current
    ? { ...group, chains }
    : { ...group, previous: { ...(group.previous as NonNullable<GroupState['previous']>), chains } };
  if (m.type === 'leave') {
    if (m.body.length !== 0) throw new MalformedGroupMessage('leave carries no body');
    if (isAdmin(group.admins, outer.sender) && group.admins.length === 1) {
      throw new NotAuthorized('the last admin leaves through a hand-over rekey, not a leave');
    }
    next = withoutMember(next, sender);
  }
  return {
    index,
    group: next,
    sender,
    type: m.type,
    body: m.body,
    messageIndex: outer.index,
    epoch: key.epoch,
  };
}

/** A member who left: out of the list, its chains and admin role dropped, remembered as departed until the next rekey. */
export function withoutMember(group: GroupState, member: Member): GroupState {
  const k = hexKey(member.identityKey);
  const drop = <T>(m: ReadonlyMap<string, T>) => new Map([...m].filter(([x]) => x !== k));
  return {
    ...group,
    members: group.members.filter((x) => !bytesEqual(x.identityKey, member.identityKey)),
    admins: group.admins.filter((a) => !bytesEqual(a, member.identityKey)),
    departed: [...group.departed.filter((x) => !bytesEqual(x.identityKey, member.identityKey)), member],
    chains: drop(group.chains),
    previous: group.previous ? { ...group.previous, chains: drop(group.previous.chains) } : null,
  };
}

export { maxDatagramBytes };
