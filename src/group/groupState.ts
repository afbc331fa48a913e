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
import { InvalidGroupState, RemovedFromGroup } from './errors.js';
import { compareKeys, hexKey } from './keys.js';
import { decodeRevocation, encodeRevocation, MAX_REVOCATIONS, type Revocation } from './revocation.js';
import {
  decodeReceiveChain,
  encodeReceiveChain,
  initialChainKey,
  type ReceiveChain,
  receiveChainFrom,
  type SendChain,
} from './senderChain.js';

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

/** Receive chains of an epoch, by sender identity key (hex). */
export type Chains = ReadonlyMap<string, ReceiveChain>;

/** The previous epoch's key and chains, kept for a grace period so messages in flight are not lost. */
export interface PreviousKey {
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly chains: Chains;
  /** After this instant the key and chains are dropped (forward secrecy). */
  readonly untilMs: number;
}

/**
 * What we keep of an earlier epoch of our lineage, so that a concurrent
 * rekey that wins the convergence rule (epochOrder.ts) can replace the ones
 * we applied after it: who created that epoch, its admins and revocations,
 * and the members the next epoch's rekey removed.
 */
export interface EpochBase {
  readonly epoch: number;
  readonly actor: Uint8Array;
  readonly admins: readonly Uint8Array[];
  readonly revoked: readonly Revocation[];
  readonly removed: readonly Member[];
}

export interface GroupState {
  /** 16 random bytes; never reused, so signatures of one group are meaningless in another. */
  readonly groupId: Uint8Array;
  readonly name: string;
  /** Identity key of the creator: the only self-signed certificate, the only one who can promote admins. */
  readonly creator: Uint8Array;
  /** Key epoch (u32); only moves forward (+1 per rekey). */
  readonly epoch: number;
  /** Who made this epoch (the rekey's actor; the creator for epoch 0): the convergence rule compares it. */
  readonly epochActor: Uint8Array;
  /** Group X25519 keypair G of the current epoch (outer layer only; content is under the sender chains). */
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  /** Identity keys allowed to rekey (remove, rotate); never empty while we are a member. */
  readonly admins: readonly Uint8Array[];
  readonly members: readonly Member[];
  /** Members who left during this epoch: the next rekey's removals are counted from the epoch's start. */
  readonly departed: readonly Member[];
  /** Admin-signed removals (revocation.ts). */
  readonly revoked: readonly Revocation[];
  /** Our own sender chain in this epoch. */
  readonly sendChain: SendChain;
  /** Every other member's chain as far as we have read it. */
  readonly chains: Chains;
  readonly previous: PreviousKey | null;
  /** Earlier epochs, newest first (lineage[0] is epoch - 1), at most MAX_LINEAGE. */
  readonly lineage: readonly EpochBase[];
  /** Set once a valid removal notice for us arrived: keys are erased and sending fails. */
  readonly removed: { readonly epoch: number; readonly actor: Uint8Array } | null;
}

/** A source's own long-term identity. */
export interface LocalIdentity {
  readonly identitySeed: Uint8Array;
  readonly identityKey: Uint8Array;
  readonly centralId: Uint8Array;
}

export const MAX_GROUP_NAME_BYTES = 200;
/** At most this many admins (u8 on the wire). */
export const MAX_ADMINS = 255;
/** Earlier epochs kept for the convergence rule: a losing branch this many rekeys deep can still switch. */
export const MAX_LINEAGE = 4;
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

/**
 * Sender chains of a new epoch for every member, from the rekey's seed. The
 * caller erases the seed afterwards: keeping it would let anyone who later
 * captures the state re-derive every chain from position 0.
 */
export function chainsFromSeed(
  crypto: CryptoBackend,
  seed: Uint8Array,
  groupId: Uint8Array,
  epoch: number,
  members: readonly Member[],
  self: Uint8Array,
): { sendChain: SendChain; chains: Map<string, ReceiveChain> } {
  const chains = new Map<string, ReceiveChain>();
  let sendChain: SendChain | null = null;
  for (const m of members) {
    const ck = initialChainKey(crypto, seed, groupId, epoch, m.identityKey);
    if (bytesEqual(m.identityKey, self)) sendChain = { chainKey: ck, index: 0 };
    else chains.set(hexKey(m.identityKey), receiveChainFrom(ck, 0));
  }
  if (!sendChain) throw new RangeError('we are not in the member list');
  return { sendChain, chains };
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
    creator: self.identityKey.slice(),
    epoch: 0,
    epochActor: self.identityKey.slice(),
    publicKey,
    secretKey,
    admins: [self.identityKey.slice()],
    members: [memberFromCertificate(certificate)],
    departed: [],
    revoked: [],
    sendChain: { chainKey: rng(32), index: 0 },
    chains: new Map(),
    previous: null,
    lineage: [],
    removed: null,
  };
}

export function findMember(members: readonly Member[], identityKey: Uint8Array): Member | undefined {
  return members.find((m) => bytesEqual(m.identityKey, identityKey));
}

export function isMember(group: GroupState, identityKey: Uint8Array): boolean {
  return findMember(group.members, identityKey) !== undefined;
}

export function isAdmin(admins: readonly Uint8Array[], key: Uint8Array): boolean {
  return admins.some((a) => bytesEqual(a, key));
}

/** Admins in a canonical order (lowest key first): the first is the one that rekeys after a leave. */
export function sortedAdmins(admins: readonly Uint8Array[]): Uint8Array[] {
  return [...admins].sort(compareKeys);
}

/** Throws RemovedFromGroup if we were removed: the error every operation of a removed member ends with. */
export function assertNotRemoved(group: GroupState): void {
  if (group.removed) {
    throw new RemovedFromGroup(
      `you were removed from "${group.name}" (epoch ${group.removed.epoch}); ask an admin for a new invite`,
    );
  }
}

/** Drops the previous epoch's key and chains once the grace period is over. */
export function expireKeys(group: GroupState, nowMs: number): GroupState {
  if (!group.previous || nowMs <= group.previous.untilMs) return group;
  return { ...group, previous: null };
}

/** The state of a member who learned it was removed: no key material is kept, the history stays (no rollback). */
export function removedState(group: GroupState, epoch: number, actor: Uint8Array): GroupState {
  return {
    ...group,
    secretKey: new Uint8Array(32),
    sendChain: { chainKey: new Uint8Array(32), index: 0 },
    chains: new Map(),
    previous: null,
    removed: { epoch, actor: actor.slice() },
  };
}

// ---- JSON persistence -----------------------------------------------------

export interface GroupJson {
  version: 2;
  groupId: string;
  name: string;
  creator: string;
  epoch: number;
  epochActor: string;
  publicKey: string;
  secretKey: string;
  admins: string[];
  members: string[];
  departed: string[];
  revoked: string[];
  sendChain: { chainKey: string; index: number };
  chains: Record<string, string>;
  previous: {
    epoch: number;
    publicKey: string;
    secretKey: string;
    untilMs: number;
    chains: Record<string, string>;
  } | null;
  lineage: Array<{ epoch: number; actor: string; admins: string[]; revoked: string[]; removed: string[] }>;
  removed: { epoch: number; actor: string } | null;
}

const hexOf = (b: Uint8Array): string => hexKey(b);

function chainsToJson(chains: Chains): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, c] of chains) out[k] = hexOf(encodeReceiveChain(c));
  return out;
}

export function groupToJson(g: GroupState): GroupJson {
  const cert = (m: Member) => hexOf(encodeCertificate(m.certificate));
  const rev = (r: Revocation) => hexOf(encodeRevocation(g.groupId, r));
  return {
    version: 2,
    groupId: hexOf(g.groupId),
    name: g.name,
    creator: hexOf(g.creator),
    epoch: g.epoch,
    epochActor: hexOf(g.epochActor),
    publicKey: hexOf(g.publicKey),
    secretKey: hexOf(g.secretKey),
    admins: g.admins.map(hexOf),
    members: g.members.map(cert),
    departed: g.departed.map(cert),
    revoked: g.revoked.map(rev),
    sendChain: { chainKey: hexOf(g.sendChain.chainKey), index: g.sendChain.index },
    chains: chainsToJson(g.chains),
    previous: g.previous
      ? {
          epoch: g.previous.epoch,
          publicKey: hexOf(g.previous.publicKey),
          secretKey: hexOf(g.previous.secretKey),
          untilMs: g.previous.untilMs,
          chains: chainsToJson(g.previous.chains),
        }
      : null,
    lineage: g.lineage.map((b) => ({
      epoch: b.epoch,
      actor: hexOf(b.actor),
      admins: b.admins.map(hexOf),
      revoked: b.revoked.map(rev),
      removed: b.removed.map(cert),
    })),
    removed: g.removed ? { epoch: g.removed.epoch, actor: hexOf(g.removed.actor) } : null,
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

function guarded<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof InvalidGroupState) throw err;
    bad(`${what}: ${(err as Error).message}`);
  }
}

function memberField(v: unknown, what: string): Member {
  return guarded(what, () => memberFromCertificate(decodeCertificate(hexField(v, what))));
}

function arrayField(v: unknown, what: string, max = 100_000): unknown[] {
  if (!Array.isArray(v)) bad(`${what} is not an array`);
  if (v.length > max) bad(`${what} has ${v.length} entries; at most ${max}`);
  return v;
}

function chainsField(v: unknown, what: string): Map<string, ReceiveChain> {
  if (!isRecord(v)) bad(`${what} is not an object`);
  const out = new Map<string, ReceiveChain>();
  for (const [k, c] of Object.entries(v)) {
    hexField(k, `${what} key`, IDENTITY_KEY_BYTES);
    out.set(
      k,
      guarded(`${what} ${k}`, () =>
        decodeReceiveChain(hexField(c, `${what} ${k}`), (m) => new InvalidGroupState(`stored chain: ${m}`)),
      ),
    );
  }
  return out;
}

/**
 * Rebuilds a state from its JSON form. Structure only: certificates are not
 * re-verified (the file is our own, written 0600 after verification), but
 * nothing malformed gets through, and every failure is InvalidGroupState.
 */
export function groupFromJson(json: unknown): GroupState {
  if (!isRecord(json)) bad('not an object');
  if (json.version !== 2)
    bad(`unknown version ${JSON.stringify(json.version)} (groups of an older mixd must be re-joined)`);
  if (typeof json.name !== 'string') bad('name is not a string');
  const nameProblem = groupNameProblem(json.name);
  if (nameProblem) bad(nameProblem);
  const groupId = hexField(json.groupId, 'groupId', GROUP_ID_BYTES);
  const members = arrayField(json.members, 'members').map((m, i) => memberField(m, `members[${i}]`));
  if (members.length === 0) bad('members is empty');
  const departed = arrayField(json.departed, 'departed').map((m, i) => memberField(m, `departed[${i}]`));
  const revField = (v: unknown, what: string) =>
    arrayField(v, what, MAX_REVOCATIONS).map((r, i) =>
      guarded(`${what}[${i}]`, () => decodeRevocation(groupId, hexField(r, `${what}[${i}]`))),
    );
  const keyList = (v: unknown, what: string) =>
    arrayField(v, what, 255).map((k, i) => hexField(k, `${what}[${i}]`, IDENTITY_KEY_BYTES));
  const sc = json.sendChain;
  if (!isRecord(sc)) bad('sendChain is not an object');
  let previous: PreviousKey | null = null;
  if (json.previous !== null) {
    const p = json.previous;
    if (!isRecord(p)) bad('previous is not an object');
    previous = {
      epoch: intField(p.epoch, 'previous.epoch', 0xffffffff),
      publicKey: hexField(p.publicKey, 'previous.publicKey', 32),
      secretKey: hexField(p.secretKey, 'previous.secretKey', 32),
      untilMs: intField(p.untilMs, 'previous.untilMs'),
      chains: chainsField(p.chains, 'previous.chains'),
    };
  }
  const lineage = arrayField(json.lineage, 'lineage', MAX_LINEAGE).map((b, i): EpochBase => {
    if (!isRecord(b)) bad(`lineage[${i}] is not an object`);
    return {
      epoch: intField(b.epoch, `lineage[${i}].epoch`, 0xffffffff),
      actor: hexField(b.actor, `lineage[${i}].actor`, IDENTITY_KEY_BYTES),
      admins: keyList(b.admins, `lineage[${i}].admins`),
      revoked: revField(b.revoked, `lineage[${i}].revoked`),
      removed: arrayField(b.removed, `lineage[${i}].removed`).map((m, j) =>
        memberField(m, `lineage[${i}].removed[${j}]`),
      ),
    };
  });
  let removed: GroupState['removed'] = null;
  if (json.removed !== null) {
    const r = json.removed;
    if (!isRecord(r)) bad('removed is not an object');
    removed = { epoch: intField(r.epoch, 'removed.epoch', 0xffffffff), actor: hexField(r.actor, 'removed.actor', 32) };
  }
  const state: GroupState = {
    groupId,
    name: json.name,
    creator: hexField(json.creator, 'creator', IDENTITY_KEY_BYTES),
    epoch: intField(json.epoch, 'epoch', 0xffffffff),
    epochActor: hexField(json.epochActor, 'epochActor', IDENTITY_KEY_BYTES),
    publicKey: hexField(json.publicKey, 'publicKey', 32),
    secretKey: hexField(json.secretKey, 'secretKey', 32),
    admins: keyList(json.admins, 'admins'),
    members,
    departed,
    revoked: revField(json.revoked, 'revoked'),
    sendChain: {
      chainKey: hexField(sc.chainKey, 'sendChain.chainKey', 32),
      index: intField(sc.index, 'sendChain.index', 0xffffffff),
    },
    chains: chainsField(json.chains, 'chains'),
    previous,
    lineage,
    removed,
  };
  for (const m of [...members, ...departed]) {
    if (!bytesEqual(m.certificate.groupId, state.groupId)) bad('a certificate belongs to another group');
    if (m.centralId.length !== CENTRAL_ID_BYTES) bad('bad central id');
  }
  if (!removed && !state.admins.some((a) => findMember(members, a))) bad('no admin is a member');
  return state;
}
