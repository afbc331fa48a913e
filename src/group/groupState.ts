import type { CryptoBackend } from '../scramble/crypto/backend.js';
import type { Rng } from '../scramble/rng.js';
import { CENTRAL_ID_BYTES, IDENTITY_KEY_BYTES } from './address.js';
import { bytesEqual } from './bytes.js';
import {
  type Certificate,
  createCertificate,
  decodeCertificate,
  encodeCertificate,
  GROUP_ID_BYTES,
  memberFromCertificate,
} from './certificate.js';
import { InvalidGroupState } from './errors.js';
import { hexKey } from './keys.js';
import type { SequenceWindow } from './sequenceWindow.js';

/**
 * The state one source keeps per group. Values are immutable: every
 * operation of the group layer returns a new GroupState and leaves its input
 * untouched, so a failed verification never leaves a half-applied change and
 * the caller decides when to persist.
 */
export interface Member {
  /** Ed25519 public key; its X25519 form is the member's encryption key. */
  readonly identityKey: Uint8Array;
  /** Home central server (10 bytes, `centralIdOf`). */
  readonly centralId: Uint8Array;
  /** Admission signed by the inviter (self-signed for the creator). */
  readonly certificate: Certificate;
}

/** The group keypair of the previous epoch, kept for a grace period so messages in flight are not lost. */
export interface PreviousKey {
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** After this instant the key is ignored and should be erased (forward secrecy). */
  readonly untilMs: number;
}

export interface GroupState {
  /** 16 random bytes; never reused, so signatures of one group are meaningless in another. */
  readonly groupId: Uint8Array;
  readonly name: string;
  /** Key epoch (u32); +1 at every rekey. */
  readonly epoch: number;
  /** Group X25519 keypair G of the current epoch. */
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** Identity key of the admin: the only member allowed to rekey (remove, rotate). */
  readonly admin: Uint8Array;
  /** Identity key of the creator: the only self-signed certificate (root of trust). */
  readonly creator: Uint8Array;
  readonly members: readonly Member[];
  /** Members who left or were removed but issued certificates still in use. */
  readonly formerMembers: readonly Member[];
  /** Next own sequence number to send. */
  readonly sendSeq: number;
  /** Replay windows by sender identity key (hex). */
  readonly windows: ReadonlyMap<string, SequenceWindow>;
  readonly previous: PreviousKey | null;
}

/** A source's own long-term identity. */
export interface LocalIdentity {
  readonly identitySeed: Uint8Array;
  readonly identityKey: Uint8Array;
  readonly centralId: Uint8Array;
}

export const MAX_GROUP_NAME_BYTES = 200;
const utf8 = new TextEncoder();

/**
 * Why a group name is unacceptable, or null. Names travel inside invites
 * from other members and end up on terminals: control characters (escape
 * sequences) are refused so a name cannot rewrite the user's screen.
 */
export function groupNameProblem(name: string): string | null {
  const n = utf8.encode(name).length;
  if (n === 0) return 'group name is empty';
  if (n > MAX_GROUP_NAME_BYTES) return `group name is ${n} bytes; at most ${MAX_GROUP_NAME_BYTES}`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return 'group name contains control characters';
  return null;
}

export function createGroup(
  crypto: CryptoBackend,
  name: string,
  self: LocalIdentity,
  rng: Rng,
  nowMs: number,
): GroupState {
  const problem = groupNameProblem(name);
  if (problem) throw new RangeError(problem);
  const groupId = rng(GROUP_ID_BYTES);
  const secretKey = rng(32);
  const publicKey = crypto.x25519Base(secretKey);
  const certificate = createCertificate(
    crypto,
    {
      groupId,
      epoch: 0,
      memberKey: self.identityKey,
      memberCentralId: self.centralId,
      inviterKey: self.identityKey,
      issuedAtMs: nowMs,
    },
    self.identitySeed,
  );
  return {
    groupId,
    name,
    epoch: 0,
    publicKey,
    secretKey,
    admin: self.identityKey.slice(),
    creator: self.identityKey.slice(),
    members: [memberFromCertificate(certificate)],
    formerMembers: [],
    sendSeq: 0,
    windows: new Map(),
    previous: null,
  };
}

export function findMember(members: readonly Member[], identityKey: Uint8Array): Member | undefined {
  return members.find((m) => bytesEqual(m.identityKey, identityKey));
}

export function isMember(group: GroupState, identityKey: Uint8Array): boolean {
  return findMember(group.members, identityKey) !== undefined;
}

/**
 * Former members still needed as inviters: those some kept entry's
 * certificate names, transitively. Everything else is dropped so the list
 * (sent in every invite and rekey) stays bounded by the live membership.
 */
export function pruneFormerMembers(members: readonly Member[], formers: readonly Member[]): Member[] {
  const needed = new Set<string>();
  const queue = [...members];
  const byKey = new Map(formers.map((f) => [hexKey(f.identityKey), f]));
  while (queue.length > 0) {
    const m = queue.pop() as Member;
    const inviter = hexKey(m.certificate.inviterKey);
    const f = byKey.get(inviter);
    if (f && !needed.has(inviter)) {
      needed.add(inviter);
      queue.push(f);
    }
  }
  return formers.filter((f) => needed.has(hexKey(f.identityKey)));
}

/** Drops the previous epoch's keypair once its grace period is over, erasing the secret. */
export function expireKeys(group: GroupState, nowMs: number): GroupState {
  if (!group.previous || nowMs <= group.previous.untilMs) return group;
  return { ...group, previous: null };
}

// ---- JSON persistence -----------------------------------------------------

export interface GroupJson {
  version: 1;
  groupId: string;
  name: string;
  epoch: number;
  publicKey: string;
  secretKey: string;
  admin: string;
  creator: string;
  members: string[];
  formerMembers: string[];
  sendSeq: number;
  windows: Record<string, { highest: number; bitmap: string }>;
  previous: { epoch: number; publicKey: string; secretKey: string; untilMs: number } | null;
}

const hexOf = (b: Uint8Array): string => hexKey(b);

export function groupToJson(g: GroupState): GroupJson {
  const windows: Record<string, { highest: number; bitmap: string }> = {};
  for (const [k, w] of g.windows) windows[k] = { highest: w.highest, bitmap: w.bitmap.toString(16) };
  return {
    version: 1,
    groupId: hexOf(g.groupId),
    name: g.name,
    epoch: g.epoch,
    publicKey: hexOf(g.publicKey),
    secretKey: hexOf(g.secretKey),
    admin: hexOf(g.admin),
    creator: hexOf(g.creator),
    members: g.members.map((m) => hexOf(encodeCertificate(m.certificate))),
    formerMembers: g.formerMembers.map((m) => hexOf(encodeCertificate(m.certificate))),
    sendSeq: g.sendSeq,
    windows,
    previous: g.previous
      ? {
          epoch: g.previous.epoch,
          publicKey: hexOf(g.previous.publicKey),
          secretKey: hexOf(g.previous.secretKey),
          untilMs: g.previous.untilMs,
        }
      : null,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(what: string): never {
  throw new InvalidGroupState(`stored group state: ${what}`);
}

export function hexField(v: unknown, what: string, len?: number): Uint8Array {
  if (typeof v !== 'string' || v.length % 2 !== 0 || !/^[0-9a-f]*$/.test(v)) bad(`${what} is not lowercase hex`);
  const b = new Uint8Array(Buffer.from(v, 'hex'));
  if (len !== undefined && b.length !== len) bad(`${what} must be ${len} bytes, got ${b.length}`);
  return b;
}

export function intField(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
    bad(`${what} is not an integer in 0..${max}`);
  return v;
}

function memberField(v: unknown, what: string): Member {
  try {
    return memberFromCertificate(decodeCertificate(hexField(v, what)));
  } catch (err) {
    if (err instanceof InvalidGroupState) throw err;
    bad(`${what}: ${(err as Error).message}`);
  }
}

function arrayField(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) bad(`${what} is not an array`);
  return v;
}

/**
 * Rebuilds a state from its JSON form. Structure only: certificates are not
 * re-verified (the file is our own, written 0600 after verification), but
 * nothing malformed gets through, and every failure is InvalidGroupState.
 */
export function groupFromJson(json: unknown): GroupState {
  if (!isRecord(json)) bad('not an object');
  if (json.version !== 1) bad(`unknown version ${String(json.version)}`);
  if (typeof json.name !== 'string') bad('name is not a string');
  const nameProblem = groupNameProblem(json.name);
  if (nameProblem) bad(nameProblem);
  const members = arrayField(json.members, 'members').map((m, i) => memberField(m, `members[${i}]`));
  if (members.length === 0) bad('members is empty');
  const formerMembers = arrayField(json.formerMembers, 'formerMembers').map((m, i) =>
    memberField(m, `formerMembers[${i}]`),
  );
  if (!isRecord(json.windows)) bad('windows is not an object');
  const windows = new Map<string, SequenceWindow>();
  for (const [k, w] of Object.entries(json.windows)) {
    hexField(k, 'window key', IDENTITY_KEY_BYTES);
    if (!isRecord(w)) bad(`window ${k} is not an object`);
    if (typeof w.bitmap !== 'string' || !/^[0-9a-f]{1,32}$/.test(w.bitmap)) bad(`window ${k} bitmap is not hex`);
    windows.set(k, { highest: intField(w.highest, `window ${k} highest`), bitmap: BigInt(`0x${w.bitmap}`) });
  }
  let previous: PreviousKey | null = null;
  if (json.previous !== null) {
    const p = json.previous;
    if (!isRecord(p)) bad('previous is not an object');
    previous = {
      epoch: intField(p.epoch, 'previous.epoch', 0xffffffff),
      publicKey: hexField(p.publicKey, 'previous.publicKey', 32),
      secretKey: hexField(p.secretKey, 'previous.secretKey', 32),
      untilMs: intField(p.untilMs, 'previous.untilMs'),
    };
  }
  const state: GroupState = {
    groupId: hexField(json.groupId, 'groupId', GROUP_ID_BYTES),
    name: json.name,
    epoch: intField(json.epoch, 'epoch', 0xffffffff),
    publicKey: hexField(json.publicKey, 'publicKey', 32),
    secretKey: hexField(json.secretKey, 'secretKey', 32),
    admin: hexField(json.admin, 'admin', IDENTITY_KEY_BYTES),
    creator: hexField(json.creator, 'creator', IDENTITY_KEY_BYTES),
    members,
    formerMembers,
    sendSeq: intField(json.sendSeq, 'sendSeq'),
    windows,
    previous,
  };
  for (const m of [...members, ...formerMembers]) {
    if (!bytesEqual(m.certificate.groupId, state.groupId)) bad('a certificate belongs to another group');
    if (m.centralId.length !== CENTRAL_ID_BYTES) bad('bad central id');
  }
  if (!findMember(members, state.admin)) bad('admin is not a member');
  return state;
}
