import type { CryptoBackend } from '../scramble/crypto/backend.js';
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
  NotAuthorized,
  Rollback,
  WrongPassphrase,
} from './errors.js';
import {
  assertNotRemoved,
  findMember,
  type GroupState,
  groupNameProblem,
  isAdmin,
  type LocalIdentity,
  type Member,
} from './groupState.js';
import { hexKey } from './keys.js';
import {
  isRevoked,
  mergeRevocations,
  type Revocation,
  readRevocation,
  verifyRevocation,
  writeRevocation,
} from './revocation.js';
import { CHAIN_KEY_BYTES, type ReceiveChain, receiveChainFrom } from './senderChain.js';

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
  maxOps: 4,
  minMemBytes: 8 * 1024,
  maxMemBytes: 256 * 1024 * 1024,
} as const;

/** Pending (still locked) invites kept per source; a new one beyond this evicts the oldest (issue 10, F10). */
export const MAX_PENDING_INVITES = 16;

/** Invites older than this are refused: the group has probably rekeyed since, so the state inside is stale. */
export const INVITE_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

/** Argon2id v1.3 (one lane) + XSalsa20-Poly1305 secretbox. */
export const INVITE_ALG_ARGON2ID_SECRETBOX = 1;
export const INVITE_INNER_VERSION = 2;
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

/**
 * The decrypted content of an invite: the whole state a newcomer needs,
 * including every member's sender chain at the inviter's current position
 * (the newcomer can read what is sent from now on, not before) and the
 * admin-signed revocations.
 */
export interface InviteContent {
  groupId: Uint8Array;
  epoch: number;
  epochActor: Uint8Array;
  name: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  creator: Uint8Array;
  inviterKey: Uint8Array;
  issuedAtMs: number;
  admins: Uint8Array[];
  newMember: Certificate;
  members: Member[];
  /** Chain of members[i] at the inviter's position, or null (the newcomer's own entry). */
  chains: Array<{ chainKey: Uint8Array; index: number } | null>;
  departed: Member[];
  revoked: Revocation[];
  signature: Uint8Array;
}

/** chainIndex value meaning "no chain" (the newcomer's own entry). */
const NO_CHAIN = 0xffffffff;

function writeInviteUnsigned(c: Omit<InviteContent, 'signature'>): Uint8Array {
  const w = new ByteWriter()
    .u8(INVITE_INNER_VERSION)
    .bytes(c.groupId)
    .u32(c.epoch)
    .bytes(c.epochActor)
    .bytes16(new TextEncoder().encode(c.name))
    .bytes(c.publicKey)
    .bytes(c.secretKey)
    .bytes(c.creator)
    .bytes(c.inviterKey)
    .u64(c.issuedAtMs)
    .u8(c.admins.length);
  for (const a of c.admins) w.bytes(a);
  w.bytes(encodeCertificate(c.newMember)).u16(c.members.length);
  c.members.forEach((m, i) => {
    const chain = c.chains[i] ?? null;
    w.bytes(encodeCertificate(m.certificate))
      .bytes(chain ? chain.chainKey : new Uint8Array(CHAIN_KEY_BYTES))
      .u32(chain ? chain.index : NO_CHAIN);
  });
  w.u16(c.departed.length);
  for (const m of c.departed) w.bytes(encodeCertificate(m.certificate));
  w.u16(c.revoked.length);
  for (const r of c.revoked) writeRevocation(w, c.groupId, r);
  return w.finish();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a decrypted invite body. Throws only MalformedInvite / MalformedCertificate. */
export function decodeInviteContent(bytes: Uint8Array): InviteContent {
  const fail = (m: string) => new MalformedInvite(m);
  const r = new ByteReader(bytes, fail);
  const version = r.u8('invite version');
  if (version !== INVITE_INNER_VERSION) throw new MalformedInvite(`unknown invite content version ${version}`);
  const groupId = r.bytes(GROUP_ID_BYTES, 'groupId');
  const epoch = r.u32('epoch');
  const epochActor = r.bytes(IDENTITY_KEY_BYTES, 'epochActor');
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
  const creator = r.bytes(IDENTITY_KEY_BYTES, 'creator');
  const inviterKey = r.bytes(IDENTITY_KEY_BYTES, 'inviterKey');
  const issuedAtMs = r.u64('issuedAtMs');
  const admins: Uint8Array[] = [];
  for (let n = r.u8('admin count'); n > 0; n--) admins.push(r.bytes(IDENTITY_KEY_BYTES, 'admin'));
  const newMember = readCertificate(r);
  const members: Member[] = [];
  const chains: InviteContent['chains'] = [];
  for (let n = r.u16('member count'); n > 0; n--) {
    members.push(memberFromCertificate(readCertificate(r)));
    const chainKey = r.bytes(CHAIN_KEY_BYTES, 'chain key');
    const index = r.u32('chain index');
    chains.push(index === NO_CHAIN ? null : { chainKey, index });
  }
  const departed: Member[] = [];
  for (let n = r.u16('departed count'); n > 0; n--) departed.push(memberFromCertificate(readCertificate(r)));
  const revoked: Revocation[] = [];
  for (let n = r.u16('revocation count'); n > 0; n--) revoked.push(readRevocation(r, groupId, fail));
  const signature = r.bytes(64, 'signature');
  r.end('invite content');
  return {
    groupId,
    epoch,
    epochActor,
    name,
    publicKey,
    secretKey,
    creator,
    inviterKey,
    issuedAtMs,
    admins,
    newMember,
    members,
    chains,
    departed,
    revoked,
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
 * inviter signs the newcomer's certificate (for the current epoch only) and
 * the whole content. The caller's state is unchanged: the newcomer becomes a
 * member everywhere (inviter included) when its announce arrives. Returns
 * the sealed direct message and the invite's id, the one `inviteId` gives
 * the invitee for the same invite (the CLI prints it on both sides).
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
): { sealed: Uint8Array; id: string } {
  const address = typeof target === 'string' ? parseAddress(target) : target;
  assertNotRemoved(group);
  if (!findMember(group.members, inviter.identityKey)) throw new NotAMember('only a member can invite');
  if (findMember(group.members, address.identityKey)) throw new RangeError('already a member of this group');
  if (isRevoked(group.revoked, address.identityKey) && !isAdmin(group.admins, inviter.identityKey)) {
    throw new NotAuthorized('this address was removed by an admin: only an admin can invite it back');
  }
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
  const members = [...group.members, memberFromCertificate(newMember)];
  const chains = members.map((m) => {
    if (bytesEqual(m.identityKey, inviter.identityKey)) return group.sendChain;
    const c = group.chains.get(hexKey(m.identityKey));
    return c ? { chainKey: c.chainKey, index: c.index } : null;
  });
  const content = encodeInviteContent(
    crypto,
    {
      groupId: group.groupId,
      epoch: group.epoch,
      epochActor: group.epochActor,
      name: group.name,
      publicKey: group.publicKey,
      secretKey: group.secretKey,
      creator: group.creator,
      inviterKey: inviter.identityKey,
      issuedAtMs: nowMs,
      admins: [...group.admins],
      newMember,
      members,
      chains,
      departed: group.departed.filter((m) => !bytesEqual(m.identityKey, address.identityKey)),
      revoked: [...group.revoked],
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
  return { sealed: sealDirect(crypto, address.identityKey, DIRECT_KIND.invite, locked, rng), id: hexKey(salt) };
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

export interface UnlockOptions {
  /**
   * The epoch of this group we already hold, if any (`removed`: we hold it as
   * a removed member; `left`: we left it at that epoch). An invite not newer
   * is refused (Rollback): a replayed old invite cannot roll us back.
   */
  held?: (groupId: Uint8Array) => { epoch: number; status: 'member' | 'removed' | 'left' } | undefined;
}

/**
 * Unlocks a pending invite with a passphrase and returns the joined group's
 * state, with a fresh random sender chain of our own (announced pairwise by
 * `announceSelf`). A wrong passphrase throws WrongPassphrase and leaves
 * `pending` untouched (it is never mutated), so the user can try again. Every
 * certificate inside is verified and the joiner must find itself in the
 * member list, certified by the inviter for the invite's epoch.
 */
export function unlockInvite(
  crypto: CryptoBackend,
  pending: PendingInvite,
  passphrase: Uint8Array,
  nowMs: number,
  rng: Rng,
  options: UnlockOptions = {},
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
  const held = options.held?.(c.groupId);
  if (held && (held.status === 'removed' ? c.epoch < held.epoch : c.epoch <= held.epoch)) {
    throw new Rollback(
      `invite is for epoch ${c.epoch} of "${c.name}", and we already hold epoch ${held.epoch}${held.status === 'member' ? '' : ` (${held.status})`}: an old invite cannot roll the group back`,
    );
  }
  if (!crypto.equal(crypto.x25519Base(c.secretKey), c.publicKey)) {
    throw new MalformedInvite('group secret key does not match the group public key');
  }
  verifyMemberList(crypto, c.groupId, c.epoch, c.creator, c.members);

  const me = findMember(c.members, pending.recipientKey);
  if (!me) throw new NotAMember('the invite does not list us as a member');
  if (!bytesEqual(encodeCertificate(me.certificate), encodeCertificate(c.newMember))) {
    throw new BadCertificate('our member entry is not the certificate the invite issued');
  }
  if (!bytesEqual(c.newMember.inviterKey, c.inviterKey))
    throw new BadCertificate('our certificate is not from the inviter');
  if (c.newMember.epoch !== c.epoch) throw new BadCertificate("our certificate is not for the invite's epoch");
  if (!findMember(c.members, c.inviterKey)) throw new NotAMember('the inviter is not a member');
  if (c.admins.length === 0 || !c.admins.every((a) => findMember(c.members, a))) {
    throw new MalformedInvite('every admin must be a member, and there must be one');
  }
  // Only entries an admin (or the creator) signed count: a plain member cannot forge a removal.
  const revoked = c.revoked.filter(
    (r) => (isAdmin(c.admins, r.actor) || bytesEqual(r.actor, c.creator)) && verifyRevocation(crypto, c.groupId, r),
  );
  if (isRevoked(revoked, pending.recipientKey) && !isAdmin(c.admins, c.inviterKey)) {
    throw new NotAuthorized('an admin removed us from this group: only an admin can invite us back');
  }
  const chains = new Map<string, ReceiveChain>();
  c.members.forEach((m, i) => {
    const chain = c.chains[i];
    if (chain && !bytesEqual(m.identityKey, pending.recipientKey)) {
      chains.set(hexKey(m.identityKey), receiveChainFrom(chain.chainKey, chain.index));
    }
  });
  return {
    groupId: c.groupId,
    name: c.name,
    creator: c.creator,
    epoch: c.epoch,
    epochActor: c.epochActor,
    publicKey: c.publicKey,
    secretKey: c.secretKey,
    admins: c.admins,
    members: c.members,
    departed: c.departed,
    revoked: mergeRevocations(revoked, [], isAdmin(c.admins, c.inviterKey) ? [pending.recipientKey] : []),
    sendChain: { chainKey: rng(32), index: 0 },
    chains,
    previous: null,
    lineage: [],
    removed: null,
  };
}
