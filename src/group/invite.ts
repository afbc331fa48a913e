import type { CryptoBackend } from '../scramble/crypto/backend.js';
import { fromHex } from '../scramble/hex.js';
import type { Rng } from '../scramble/rng.js';
import { IDENTITY_KEY_BYTES, type MemberAddress, parseAddress } from './address.js';
import { ByteReader, ByteWriter, bytesEqual, concatBytes, label } from './bytes.js';
import {
  type Certificate,
  createCertificate,
  encodeCertificate,
  GROUP_ID_BYTES,
  memberFromCertificate,
  readCertificate,
  verifyMemberList,
} from './certificate.js';
import { DIRECT_KIND, DIRECT_VERSION, openDirect, sealDirect } from './direct.js';
import {
  BadCertificate,
  BadSignature,
  InviteExpired,
  InviteParamsRejected,
  MalformedInvite,
  NotAMember,
  WrongPassphrase,
} from './errors.js';
import { findMember, type GroupState, groupNameProblem, type LocalIdentity, type Member } from './groupState.js';
import { hexKey } from './keys.js';
import { floorWindow, type SequenceWindow } from './sequenceWindow.js';

/**
 * Invites (seed 004, "Adding a user"). Two locks, both needed:
 *
 * 1. the group secret and member list are encrypted under a key derived from
 *    a passphrase shared out of band (Argon2id, memory-hard), which proves to
 *    the target that the invite comes from whoever holds the passphrase, and
 *    proves to the group that the target is who the inviter talked to;
 * 2. the whole invite is sealed to the target's identity key, so nobody but
 *    the target can even start guessing passphrases offline: a short
 *    passphrase is then only exposed to its intended recipient.
 */
export interface InviteKdf {
  readonly opsLimit: number;
  readonly memLimitBytes: number;
}

/** libsodium's crypto_pwhash "moderate"-like cost: ~0.1-0.3 s on a laptop. */
export const DEFAULT_INVITE_KDF: InviteKdf = { opsLimit: 3, memLimitBytes: 64 * 1024 * 1024 };

/**
 * Accepted KDF parameters of a received invite. The upper caps are a DoS
 * guard (a hostile invite must not make us allocate gigabytes or burn
 * minutes); the lower ones refuse invites whose passphrase protection is
 * negligible (libsodium's own minimum memory is 8 KiB).
 */
export const INVITE_KDF_LIMITS = {
  minOps: 1,
  maxOps: 20,
  minMemBytes: 8 * 1024,
  maxMemBytes: 1024 * 1024 * 1024,
} as const;

/** Invites older than this are refused: the group has probably rekeyed since, so the state inside is stale. */
export const INVITE_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

/** Argon2id v1.3 (one lane) + XSalsa20-Poly1305 secretbox. */
export const INVITE_ALG_ARGON2ID_SECRETBOX = 1;
export const INVITE_INNER_VERSION = 1;
const INVITE_LABEL = label('invite');
const SALT_BYTES = 16;
const NONCE_BYTES = 24;

/** An invite that opened to our identity key but is still locked by its passphrase. */
export interface PendingInvite {
  /** Our own identity key (the invite must list us). */
  readonly recipientKey: Uint8Array;
  readonly alg: number;
  readonly opsLimit: number;
  readonly memLimitBytes: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Stable local id of a pending invite (its random salt), for a CLI to name it. */
export function inviteId(p: PendingInvite): string {
  return hexKey(p.salt);
}

/** Why KDF parameters are unacceptable, or null. */
export function kdfProblem(opsLimit: number, memLimitBytes: number): string | null {
  const L = INVITE_KDF_LIMITS;
  if (!Number.isInteger(opsLimit) || opsLimit < L.minOps || opsLimit > L.maxOps) {
    return `opsLimit ${opsLimit} is outside ${L.minOps}..${L.maxOps}`;
  }
  if (!Number.isInteger(memLimitBytes) || memLimitBytes < L.minMemBytes || memLimitBytes > L.maxMemBytes) {
    return `memLimitBytes ${memLimitBytes} is outside ${L.minMemBytes}..${L.maxMemBytes}`;
  }
  return null;
}

/** The decrypted content of an invite. */
export interface InviteContent {
  groupId: Uint8Array;
  epoch: number;
  name: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  admin: Uint8Array;
  creator: Uint8Array;
  inviterKey: Uint8Array;
  issuedAtMs: number;
  newMember: Certificate;
  members: Member[];
  formerMembers: Member[];
  /** Highest sequence number the inviter has seen per sender: the joiner accepts only newer ones. */
  seqFloors: Array<{ identityKey: Uint8Array; highest: number }>;
  signature: Uint8Array;
}

function writeInviteUnsigned(c: Omit<InviteContent, 'signature'>): Uint8Array {
  const w = new ByteWriter()
    .u8(INVITE_INNER_VERSION)
    .bytes(c.groupId)
    .u32(c.epoch)
    .bytes16(new TextEncoder().encode(c.name))
    .bytes(c.publicKey)
    .bytes(c.secretKey)
    .bytes(c.admin)
    .bytes(c.creator)
    .bytes(c.inviterKey)
    .u64(c.issuedAtMs)
    .bytes(encodeCertificate(c.newMember))
    .u16(c.members.length);
  for (const m of c.members) w.bytes(encodeCertificate(m.certificate));
  w.u16(c.formerMembers.length);
  for (const m of c.formerMembers) w.bytes(encodeCertificate(m.certificate));
  w.u16(c.seqFloors.length);
  for (const f of c.seqFloors) w.bytes(f.identityKey).u64(f.highest);
  return w.finish();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a decrypted invite body. Throws only MalformedInvite / MalformedCertificate. */
export function decodeInviteContent(bytes: Uint8Array): InviteContent {
  const r = new ByteReader(bytes, (m) => new MalformedInvite(m));
  const version = r.u8('invite version');
  if (version !== INVITE_INNER_VERSION) throw new MalformedInvite(`unknown invite content version ${version}`);
  const groupId = r.bytes(GROUP_ID_BYTES, 'groupId');
  const epoch = r.u32('epoch');
  const nameBytes = r.bytes16('name');
  let name: string;
  try {
    name = strictUtf8.decode(nameBytes);
  } catch {
    throw new MalformedInvite('group name is not valid UTF-8');
  }
  const nameProblem = groupNameProblem(name);
  if (nameProblem) throw new MalformedInvite(nameProblem);
  const publicKey = r.bytes(32, 'publicKey');
  const secretKey = r.bytes(32, 'secretKey');
  const admin = r.bytes(IDENTITY_KEY_BYTES, 'admin');
  const creator = r.bytes(IDENTITY_KEY_BYTES, 'creator');
  const inviterKey = r.bytes(IDENTITY_KEY_BYTES, 'inviterKey');
  const issuedAtMs = r.u64('issuedAtMs');
  const newMember = readCertificate(r);
  const members: Member[] = [];
  for (let n = r.u16('member count'); n > 0; n--) members.push(memberFromCertificate(readCertificate(r)));
  const formerMembers: Member[] = [];
  for (let n = r.u16('former member count'); n > 0; n--) formerMembers.push(memberFromCertificate(readCertificate(r)));
  const seqFloors: InviteContent['seqFloors'] = [];
  for (let n = r.u16('sequence floor count'); n > 0; n--) {
    seqFloors.push({ identityKey: r.bytes(IDENTITY_KEY_BYTES, 'floor key'), highest: r.u64('floor seq') });
  }
  const signature = r.bytes(64, 'signature');
  r.end('invite content');
  return {
    groupId,
    epoch,
    name,
    publicKey,
    secretKey,
    admin,
    creator,
    inviterKey,
    issuedAtMs,
    newMember,
    members,
    formerMembers,
    seqFloors,
    signature,
  };
}

function encodeInviteContent(crypto: CryptoBackend, c: Omit<InviteContent, 'signature'>, inviterSeed: Uint8Array) {
  const unsigned = writeInviteUnsigned(c);
  return concatBytes(unsigned, crypto.ed25519Sign(inviterSeed, concatBytes(INVITE_LABEL, unsigned)));
}

/** The clear part (inside the seal): alg | opsLimit u32 | memLimitBytes u32 | salt 16 | nonce 24 | ciphertext. */
function encodeLocked(p: Omit<PendingInvite, 'recipientKey'>): Uint8Array {
  return new ByteWriter()
    .u8(p.alg)
    .u32(p.opsLimit)
    .u32(p.memLimitBytes)
    .bytes(p.salt)
    .bytes(p.nonce)
    .bytes(p.ciphertext)
    .finish();
}

function decodeLocked(recipientKey: Uint8Array, bytes: Uint8Array): PendingInvite {
  const r = new ByteReader(bytes, (m) => new MalformedInvite(m));
  const alg = r.u8('invite alg');
  if (alg !== INVITE_ALG_ARGON2ID_SECRETBOX) throw new MalformedInvite(`unknown invite algorithm ${alg}`);
  const opsLimit = r.u32('opsLimit');
  const memLimitBytes = r.u32('memLimitBytes');
  const salt = r.bytes(SALT_BYTES, 'salt');
  const nonce = r.bytes(NONCE_BYTES, 'nonce');
  if (r.remaining < 16) throw new MalformedInvite('truncated: ciphertext shorter than its tag');
  const ciphertext = r.bytes(r.remaining, 'ciphertext');
  const problem = kdfProblem(opsLimit, memLimitBytes);
  if (problem) throw new InviteParamsRejected(`invite refused: ${problem}`);
  return { recipientKey: recipientKey.slice(), alg, opsLimit, memLimitBytes, salt, nonce, ciphertext };
}

/**
 * Builds an invite for `target` (address text or parsed) into `group`. The
 * inviter signs the newcomer's certificate and the whole content. The
 * caller's state is unchanged: the newcomer becomes a member everywhere
 * (inviter included) when its announce arrives.
 */
export function createInvite(
  crypto: CryptoBackend,
  group: GroupState,
  inviter: LocalIdentity,
  target: string | MemberAddress,
  passphrase: Uint8Array,
  kdf: InviteKdf,
  rng: Rng,
  nowMs: number,
): Uint8Array {
  const address = typeof target === 'string' ? parseAddress(target) : target;
  if (!findMember(group.members, inviter.identityKey)) throw new NotAMember('only a member can invite');
  if (passphrase.length === 0) throw new RangeError('the invite passphrase is empty');
  const problem = kdfProblem(kdf.opsLimit, kdf.memLimitBytes);
  if (problem) throw new RangeError(`invite KDF parameters: ${problem}`);

  const newMember = createCertificate(
    crypto,
    {
      groupId: group.groupId,
      epoch: group.epoch,
      memberKey: address.identityKey,
      memberCentralId: address.centralId,
      inviterKey: inviter.identityKey,
      issuedAtMs: nowMs,
    },
    inviter.identitySeed,
  );
  // A re-invited (current or former) member replaces its old entry: keys are unique in the lists,
  // and chains to it stay valid because inviters are named by key.
  const others = (ms: readonly Member[]) => ms.filter((m) => !bytesEqual(m.identityKey, address.identityKey));
  const seqFloors = [...group.windows].map(([k, w]) => ({ identityKey: fromHex(k), highest: w.highest }));
  if (group.sendSeq > 0) seqFloors.push({ identityKey: inviter.identityKey, highest: group.sendSeq - 1 });
  const content = encodeInviteContent(
    crypto,
    {
      groupId: group.groupId,
      epoch: group.epoch,
      name: group.name,
      publicKey: group.publicKey,
      secretKey: group.secretKey,
      admin: group.admin,
      creator: group.creator,
      inviterKey: inviter.identityKey,
      issuedAtMs: nowMs,
      newMember,
      members: [...others(group.members), memberFromCertificate(newMember)],
      formerMembers: others(group.formerMembers),
      seqFloors: seqFloors.filter((f) => !bytesEqual(f.identityKey, address.identityKey)),
    },
    inviter.identitySeed,
  );

  const salt = rng(SALT_BYTES);
  const nonce = rng(NONCE_BYTES);
  const key = crypto.argon2id(passphrase, salt, kdf.opsLimit, kdf.memLimitBytes, 32);
  const ciphertext = crypto.secretboxEasy(content, nonce, key);
  key.fill(0);
  content.fill(0);
  const locked = encodeLocked({
    alg: INVITE_ALG_ARGON2ID_SECRETBOX,
    opsLimit: kdf.opsLimit,
    memLimitBytes: kdf.memLimitBytes,
    salt,
    nonce,
    ciphertext,
  });
  return sealDirect(crypto, address.identityKey, DIRECT_KIND.invite, locked, rng);
}

/**
 * Opens the outer seal. Null when the bytes are not sealed to this identity
 * or are another kind of direct message (try openRekey). Throws
 * MalformedInvite / InviteParamsRejected when they are an invite for us
 * but unusable. No passphrase is needed yet: the result is kept (and
 * persisted) until the user types one.
 */
export function openInvite(crypto: CryptoBackend, identitySeed: Uint8Array, sealed: Uint8Array): PendingInvite | null {
  const direct = openDirect(crypto, identitySeed, sealed);
  if (direct === null) return null;
  if (direct.version !== DIRECT_VERSION) throw new MalformedInvite(`unknown direct message version ${direct.version}`);
  if (direct.kind !== DIRECT_KIND.invite) return null;
  return lockedInvite(crypto, identitySeed, direct.body);
}

/** The body of an invite direct message the caller has already opened: still locked by its passphrase. */
export function lockedInvite(crypto: CryptoBackend, identitySeed: Uint8Array, body: Uint8Array): PendingInvite {
  return decodeLocked(crypto.ed25519PublicKey(identitySeed), body);
}

/**
 * Unlocks a pending invite with a passphrase and returns the joined group's
 * state. A wrong passphrase throws WrongPassphrase and leaves `pending`
 * untouched (it is never mutated), so the user can try again. Every
 * certificate inside is verified and the joiner must find itself in the
 * member list, certified by the inviter.
 */
export function unlockInvite(
  crypto: CryptoBackend,
  pending: PendingInvite,
  passphrase: Uint8Array,
  nowMs: number,
): GroupState {
  if (pending.alg !== INVITE_ALG_ARGON2ID_SECRETBOX)
    throw new MalformedInvite(`unknown invite algorithm ${pending.alg}`);
  const problem = kdfProblem(pending.opsLimit, pending.memLimitBytes);
  if (problem) throw new InviteParamsRejected(`invite refused: ${problem}`);
  const key = crypto.argon2id(passphrase, pending.salt, pending.opsLimit, pending.memLimitBytes, 32);
  const plain = crypto.secretboxOpenEasy(pending.ciphertext, pending.nonce, key);
  key.fill(0);
  if (plain === null) throw new WrongPassphrase();

  const c = decodeInviteContent(plain);
  const signedPart = plain.subarray(0, plain.length - 64);
  if (!crypto.ed25519Verify(c.inviterKey, concatBytes(INVITE_LABEL, signedPart), c.signature)) {
    throw new BadSignature('invite content is not signed by its inviter');
  }
  plain.fill(0);
  if (nowMs > c.issuedAtMs + INVITE_MAX_AGE_MS) {
    throw new InviteExpired(
      `invite was issued ${Math.floor((nowMs - c.issuedAtMs) / 86400000)} days ago; ask for a new one`,
    );
  }
  if (!crypto.equal(crypto.x25519Base(c.secretKey), c.publicKey)) {
    throw new MalformedInvite('group secret key does not match the group public key');
  }
  verifyMemberList(crypto, c.groupId, c.epoch, c.creator, c.members, c.formerMembers);

  const me = findMember(c.members, pending.recipientKey);
  if (!me) throw new NotAMember('the invite does not list us as a member');
  if (!bytesEqual(encodeCertificate(me.certificate), encodeCertificate(c.newMember))) {
    throw new BadCertificate('our member entry is not the certificate the invite issued');
  }
  if (!bytesEqual(c.newMember.inviterKey, c.inviterKey))
    throw new BadCertificate('our certificate is not from the inviter');
  if (!findMember(c.members, c.inviterKey)) throw new NotAMember('the inviter is not a member');
  if (!findMember(c.members, c.admin)) throw new MalformedInvite('the admin is not a member');

  const windows = new Map<string, SequenceWindow>();
  for (const f of c.seqFloors) windows.set(hexKey(f.identityKey), floorWindow(f.highest));
  return {
    groupId: c.groupId,
    name: c.name,
    epoch: c.epoch,
    publicKey: c.publicKey,
    secretKey: c.secretKey,
    admin: c.admin,
    creator: c.creator,
    members: c.members,
    formerMembers: c.formerMembers,
    sendSeq: 0,
    windows,
    previous: null,
  };
}
