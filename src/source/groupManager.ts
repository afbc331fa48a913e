import {
  acceptAnnounce,
  acceptRekey,
  acceptRemovalNotice,
  announceSelf,
  buildFanoutBodies,
  createGroup,
  createInvite,
  createRekey,
  DEFAULT_INVITE_KDF,
  DIRECT_KIND,
  type DirectMessage,
  encodeAddress,
  expireKeys,
  GroupError,
  type GroupState,
  GroupStore,
  type InviteKdf,
  inviteId,
  isAdmin,
  type LocalIdentity,
  leaveGroup,
  lockedInvite,
  MAX_PENDING_INVITES,
  type Member,
  maxDatagramBytes,
  openDeliveredPayload,
  openGroupMessage,
  type PendingInvite,
  parseAddress,
  promoteAdmin,
  RekeyOutOfOrder,
  type RekeyResult,
  reannounce,
  rotateGroupKey,
  sealDirect,
  sealGroupMessage,
  sortedAdmins,
  unlockInvite,
  WrongPassphrase,
} from '../group/index.js';
import { countDrop, type NodeContext } from '../node/context.js';
import { ControlError } from '../node/controlSocket.js';
import type { IndexedDirectory, NodeDescriptor } from '../node/directory.js';
import { mixKeyFor } from '../node/directory.js';
import { groupDropReason } from '../node/dropReasons.js';
import type { ErrorCode } from '../node/errors.js';
import { hex, mailboxIdOf } from '../node/ids.js';
import { currentEpoch, NoRoute, pickProxies, routedPacket } from '../node/routes.js';
import type { GroupStorage } from '../node/stores.js';
import type { Peer } from '../node/transport.js';
import type { PacketGeometry } from '../scramble/geometry.js';
import { systemRng } from '../scramble/rng.js';
import type { DirectChannel } from './directChannel.js';

export interface GroupManagerDeps {
  ctx: NodeContext;
  self: LocalIdentity;
  dataDir: string;
  geometry: () => PacketGeometry;
  directory: () => IndexedDirectory;
  channel: () => DirectChannel;
  send: (packet: Uint8Array, to: Peer) => void;
  emit: (d: { kind: 'group'; group: string; from: string; data: Uint8Array }) => void;
  event: (name: string, data: unknown) => void;
  inviteKdf?: InviteKdf;
  /** Scheduled rotation of the group key by its admin; 0 disables. */
  rotationMs?: number;
  /** Where groups are kept (default: the file DATA/groups.json; memory in virtual time). */
  store?: GroupStorage;
}

export interface GroupSummary {
  name: string;
  id: string;
  epoch: number;
  members: number;
  admin: boolean;
  /** We were removed by an admin: the group stays listed (so the user sees why), nothing can be sent to it. */
  removed: boolean;
}

/** How long the primary admin keeps re-announcing a joiner to later joiners. */
const RECENT_JOIN_MS = 10 * 60_000;
/** Rekeys and removal notices that arrived before an earlier rekey, kept to retry (per source). */
const MAX_HELD_TRANSITIONS = 32;
/** Held transitions older than this are dropped (the rekey they wait for is not coming). */
const HELD_TRANSITION_MS = 60 * 60_000;
/**
 * Group copies no key of ours opens yet: a member that rotated or rekeyed may seal under the new key
 * before our copy of the rekey arrives. They are kept (bounded, briefly) and retried after the next
 * transition applies; CS has already deleted them, so this is the only copy.
 */
const MAX_HELD_PAYLOADS = 64;
const HELD_PAYLOAD_MS = 2 * 60_000;

/**
 * A source's groups: membership operations, multicast through a P2, and the
 * receiving side (trial decryption, sender chains, signature and membership
 * checks). Persisted in DATA/groups.json after every change (writes are
 * coalesced: at most one in flight and one queued, so a burst of messages to
 * a large group costs two writes, not one per message).
 */
/** The control-socket code of a group-layer refusal, so the CLI and library can branch on it. */
function userErrorCode(err: GroupError): ErrorCode {
  if (err.reason === 'too_large') return 'DATAGRAM_TOO_LARGE';
  if (err.reason === 'removed') return 'REMOVED';
  if (err.reason === 'wrong_passphrase') return 'WRONG_PASSPHRASE';
  return 'GROUP';
}

export class GroupManager {
  private groups: GroupState[] = [];
  private pending: PendingInvite[] = [];
  private readonly store: GroupStorage;
  private readonly rotatedAt = new Map<string, number>();
  private left: Record<string, number> = {};
  private readonly recentJoins = new Map<string, Array<{ member: Member; at: number }>>();
  private held: Array<{ kind: number; body: Uint8Array; at: number }> = [];
  private heldPayloads: Array<{ payload: Uint8Array; at: number }> = [];
  private saving = false;
  private dirty = false;

  constructor(private readonly deps: GroupManagerDeps) {
    this.store = deps.store ?? new GroupStore(deps.dataDir);
  }

  async load(): Promise<void> {
    const data = await this.store.load();
    this.groups = [...data.groups];
    this.pending = [...data.pendingInvites];
    this.left = { ...(data.left ?? {}) };
    for (const [k, v] of Object.entries(data.rotatedAt ?? {})) this.rotatedAt.set(k, v);
  }

  private save(): void {
    this.dirty = true;
    if (this.saving) return;
    this.saving = true;
    this.dirty = false;
    this.store
      .save({
        groups: this.groups,
        pendingInvites: this.pending,
        rotatedAt: Object.fromEntries(this.rotatedAt),
        left: this.left,
      })
      .catch((err) => this.deps.ctx.log.error({ err }, 'saving groups failed'))
      .finally(() => {
        this.saving = false;
        if (this.dirty) this.save();
      });
  }

  private isSelf(key: Uint8Array): boolean {
    return this.deps.ctx.crypto.equal(key, this.deps.self.identityKey);
  }

  private summary(g: GroupState): GroupSummary {
    return {
      name: g.name,
      id: hex(g.groupId),
      epoch: g.epoch,
      members: g.members.length,
      admin: isAdmin(g.admins, this.deps.self.identityKey),
      removed: g.removed !== null,
    };
  }

  private addressOf(identityKey: Uint8Array, centralId: Uint8Array): string {
    return encodeAddress({ identityKey, centralId });
  }

  /** A group by name or by (a prefix of) its hex id; errors say what to type instead. */
  private find(ref: string): number {
    const byName = this.groups.map((g, i) => [g, i] as const).filter(([g]) => g.name === ref);
    if (byName.length === 1) return (byName[0] as readonly [GroupState, number])[1];
    if (byName.length > 1) {
      throw new ControlError(
        `several groups are called "${ref}": use an id (${byName.map(([g]) => hex(g.groupId).slice(0, 8)).join(', ')})`,
      );
    }
    const byId = this.groups
      .map((g, i) => [g, i] as const)
      .filter(([g]) => hex(g.groupId).startsWith(ref.toLowerCase()));
    if (ref.length >= 4 && byId.length === 1) return (byId[0] as readonly [GroupState, number])[1];
    throw new ControlError(`no group "${ref}": see \`mixd group list\``);
  }

  /** Runs a group-layer operation; its typed errors become one clear control-socket error line. */
  private userFacing<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof GroupError) throw new ControlError(err.message, userErrorCode(err));
      throw err;
    }
  }

  list(): GroupSummary[] {
    return this.groups.map((g) => this.summary(g));
  }

  members(ref: string): Array<{ address: string; admin: boolean; self: boolean }> {
    const g = this.groups[this.find(ref)] as GroupState;
    return g.members.map((m) => ({
      address: this.addressOf(m.identityKey, m.centralId),
      admin: isAdmin(g.admins, m.identityKey),
      self: this.isSelf(m.identityKey),
    }));
  }

  invites(): Array<{ id: string; opsLimit: number; memLimitBytes: number }> {
    return this.pending.map((p) => ({ id: inviteId(p), opsLimit: p.opsLimit, memLimitBytes: p.memLimitBytes }));
  }

  maxDatagramBytes(): number {
    return maxDatagramBytes(this.deps.geometry());
  }

  create(name: string): GroupSummary {
    const g = createGroup(
      this.deps.ctx.crypto,
      name,
      this.deps.self,
      systemRng(this.deps.ctx.crypto),
      this.deps.ctx.now(),
    );
    this.groups.push(g);
    this.rotatedAt.set(hex(g.groupId), this.deps.ctx.now());
    this.save();
    return this.summary(g);
  }

  /** Returns the invite's id: the one `group invites` shows the invitee and `group join ID` accepts. */
  invite(ref: string, address: string, passphrase: Uint8Array): { id: string; msgId: string; fragments: number } {
    const g = this.groups[this.find(ref)] as GroupState;
    const target = parseAddress(address);
    const invite = this.userFacing(() =>
      createInvite(
        this.deps.ctx.crypto,
        g,
        this.deps.self,
        target,
        passphrase,
        this.deps.inviteKdf ?? DEFAULT_INVITE_KDF,
        systemRng(this.deps.ctx.crypto),
        this.deps.ctx.now(),
      ),
    );
    const r = this.deps.channel().send(target.identityKey, invite.sealed, true);
    return { id: invite.id, msgId: r.msgId, fragments: r.fragments };
  }

  /** Which pending invite `id` names; with no id, the only one (several need an id: the error lists them). */
  private pendingIndex(id: string | undefined): number {
    if (this.pending.length === 0) {
      throw new ControlError('no pending invite: wait until one arrives (`mixd group invites` lists them)');
    }
    const ids = this.pending.map(inviteId);
    if (id === undefined || id === '') {
      if (this.pending.length === 1) return 0;
      throw new ControlError(
        `${this.pending.length} invites are pending: name one (mixd group join ID): ${ids.join(', ')}`,
      );
    }
    const matches = ids.map((x, i) => [x, i] as const).filter(([x]) => x.startsWith(id.toLowerCase()));
    if (matches.length === 1) return (matches[0] as readonly [string, number])[1];
    if (matches.length === 0) throw new ControlError(`no pending invite "${id}": pending are ${ids.join(', ')}`);
    throw new ControlError(`"${id}" matches several invites: ${matches.map(([x]) => x).join(', ')}`);
  }

  join(id: string | undefined, passphrase: Uint8Array): GroupSummary {
    const { ctx } = this.deps;
    const idx = this.pendingIndex(id);
    let g: GroupState;
    try {
      g = unlockInvite(ctx.crypto, this.pending[idx] as PendingInvite, passphrase, ctx.now(), systemRng(ctx.crypto), {
        held: (groupId) => {
          const have = this.groups.find((x) => ctx.crypto.equal(x.groupId, groupId));
          if (have) return { epoch: have.epoch, status: have.removed ? 'removed' : 'member' };
          const left = this.left[hex(groupId)];
          return left === undefined ? undefined : { epoch: left, status: 'left' };
        },
      });
    } catch (err) {
      if (err instanceof WrongPassphrase) throw new ControlError(err.message, 'WRONG_PASSPHRASE');
      if (err instanceof GroupError) throw new ControlError(`invite rejected: ${err.message}`);
      throw err;
    }
    this.pending.splice(idx, 1);
    const existing = this.groups.findIndex((x) => ctx.crypto.equal(x.groupId, g.groupId));
    if (existing >= 0) this.groups.splice(existing, 1);
    delete this.left[hex(g.groupId)];
    this.groups.push(g);
    this.save();
    // Our chain goes to each member sealed to it alone (announce.ts says why not under the group key).
    const body = announceSelf(ctx.crypto, g, this.deps.self);
    for (const m of g.members)
      if (!this.isSelf(m.identityKey)) this.sendDirect(m.identityKey, DIRECT_KIND.announce, body);
    return this.summary(g);
  }

  send(ref: string, data: Uint8Array): { packets: number; recipients: number } {
    const i = this.find(ref);
    const g = this.groups[i] as GroupState;
    const sealed = this.userFacing(() =>
      sealGroupMessage(this.deps.ctx.crypto, g, this.deps.self, 'data', data, systemRng(this.deps.ctx.crypto), {
        geometry: this.deps.geometry(),
      }),
    );
    this.groups[i] = sealed.group;
    this.save();
    return this.multicast(sealed.group, sealed.c0);
  }

  remove(ref: string, address: string): { epoch: number } {
    const i = this.find(ref);
    const g = this.groups[i] as GroupState;
    const target = parseAddress(address);
    if (!g.members.some((m) => this.deps.ctx.crypto.equal(m.identityKey, target.identityKey))) {
      throw new ControlError(`${address} is not a member of ${g.name}`);
    }
    if (!isAdmin(g.admins, this.deps.self.identityKey)) {
      throw new ControlError(`only an admin of ${g.name} can remove members (see \`mixd group members\`)`);
    }
    const keep = g.members
      .filter((m) => !this.deps.ctx.crypto.equal(m.identityKey, target.identityKey))
      .map((m) => m.identityKey);
    return this.rekey(i, keep);
  }

  /** The creator makes a member an admin (a rekey with one more admin). */
  promote(ref: string, address: string): { epoch: number; admins: number } {
    const i = this.find(ref);
    const g = this.groups[i] as GroupState;
    const target = parseAddress(address);
    const r = this.userFacing(() =>
      promoteAdmin(
        this.deps.ctx.crypto,
        g,
        this.deps.self,
        target.identityKey,
        systemRng(this.deps.ctx.crypto),
        this.deps.ctx.now(),
        { geometry: this.deps.geometry() },
      ),
    );
    this.applyOwnRekey(i, r);
    return { epoch: r.newState.epoch, admins: r.newState.admins.length };
  }

  leave(ref: string): { left: string } {
    const i = this.find(ref);
    const g = this.groups[i] as GroupState;
    if (g.removed) {
      // Nothing to tell anyone: just forget it (the epoch is remembered, so an old invite cannot bring it back).
    } else {
      const r = this.userFacing(() =>
        leaveGroup(this.deps.ctx.crypto, g, this.deps.self, systemRng(this.deps.ctx.crypto), this.deps.ctx.now(), {
          geometry: this.deps.geometry(),
        }),
      );
      if (r.kind === 'message') this.sendControl(g, r.c0);
      else if (r.kind === 'handover') this.distribute(r.rekey);
    }
    this.left[hex(g.groupId)] = g.epoch;
    this.groups.splice(i, 1);
    this.save();
    return { left: g.name };
  }

  private rekey(i: number, keep: Uint8Array[], reason?: 'remove' | 'leave'): { epoch: number } {
    const g = this.groups[i] as GroupState;
    const r = this.userFacing(() =>
      createRekey(this.deps.ctx.crypto, g, this.deps.self, keep, systemRng(this.deps.ctx.crypto), this.deps.ctx.now(), {
        geometry: this.deps.geometry(),
        ...(reason ? { reason } : {}),
      }),
    );
    this.applyOwnRekey(i, r);
    return { epoch: r.newState.epoch };
  }

  private applyOwnRekey(i: number, r: RekeyResult): void {
    this.groups[i] = r.newState;
    this.rotatedAt.set(hex(r.newState.groupId), this.deps.ctx.now());
    this.save();
    this.distribute(r);
  }

  /**
   * Each remaining member gets its rekey blob, each removed member its
   * removal notice (no key material), every one as an acknowledged,
   * retransmitted direct message: O(n) messages of one packet each.
   */
  private distribute(r: RekeyResult): void {
    for (const m of [...r.perMember, ...r.removals]) this.deps.channel().send(m.identityKey, m.sealed, true);
  }

  private sendDirect(to: Uint8Array, kind: number, body: Uint8Array): void {
    const { ctx } = this.deps;
    try {
      this.deps.channel().send(to, sealDirect(ctx.crypto, to, kind, body, systemRng(ctx.crypto)), true);
    } catch (err) {
      ctx.log.warn({ err }, 'group control message not sent');
    }
  }

  /**
   * One fan-out packet per `tokensPerPacket` recipients: S → P1 → P2, where P2
   * re-seals the body per member and sends each copy on through P3 to CS.
   */
  private multicast(g: GroupState, c0: Uint8Array): { packets: number; recipients: number } {
    const { ctx } = this.deps;
    const dir = this.deps.directory();
    const geometry = this.deps.geometry();
    const epoch = currentEpoch(dir, ctx.now());
    const others = g.members.filter((m) => !ctx.crypto.equal(m.identityKey, this.deps.self.identityKey));
    if (others.length === 0) return { packets: 0, recipients: 0 };
    const foreign = others.find((m) => !ctx.crypto.equal(m.centralId, this.deps.self.centralId));
    if (foreign) throw new ControlError('members on another central server are not supported yet');
    const csKey = mixKeyFor(dir.central, epoch);
    if (!csKey) throw new NoRoute('the central server has no key for this epoch');
    const rng = systemRng(ctx.crypto);
    const bodies = buildFanoutBodies(
      ctx.crypto,
      geometry,
      g.publicKey,
      c0,
      others.map((m) => mailboxIdOf(ctx.crypto, m.identityKey)),
      csKey,
      rng,
    );
    for (const body of bodies) {
      // A fresh random P1 and P2 for every bundle: no single P2 sees every bundle of a large group.
      const [p1, p2] = pickProxies(ctx.crypto, dir, 2, epoch) as [NodeDescriptor, NodeDescriptor];
      const { packet, to } = routedPacket(ctx.crypto, geometry, dir, [p1], p2, { kind: 'fanout' }, body, epoch, rng);
      this.deps.send(packet, to);
    }
    return { packets: bodies.length, recipients: others.length };
  }

  /**
   * `leave` messages must not be lost: each member gets its own copy of C0
   * as a direct message, acknowledged through a SURB and retransmitted until
   * it is (O(n) per message; data goes through P2's fan-out). Retransmitted
   * copies are the same C0, and its message key is gone at the receiver
   * after the first, so duplicates are refused.
   */
  private sendControl(g: GroupState, c0: Uint8Array): void {
    for (const m of g.members)
      if (!this.isSelf(m.identityKey)) this.sendDirect(m.identityKey, DIRECT_KIND.groupControl, c0);
  }

  /** A delivered payload that was not sealed to our own key: try our groups. */
  onGroupPayload(payload: Uint8Array): boolean {
    const { ctx } = this.deps;
    let c0: Uint8Array;
    try {
      const opened = openDeliveredPayload(
        ctx.crypto,
        this.groups.filter((g) => !g.removed),
        payload,
        ctx.now(),
      );
      if (!opened) return false;
      c0 = opened.c0;
    } catch (err) {
      if (err instanceof GroupError) return false;
      throw err;
    }
    return this.onGroupMessage(c0);
  }

  /** C0 of a group message, from a fan-out copy or from an acknowledged direct control message. */
  private onGroupMessage(c0: Uint8Array): boolean {
    const { ctx } = this.deps;
    let msg: ReturnType<typeof openGroupMessage>;
    try {
      msg = openGroupMessage(ctx.crypto, this.groups, c0, ctx.now());
    } catch (err) {
      if (err instanceof GroupError) {
        countDrop(ctx, groupDropReason(err.reason), err.message);
        return true;
      }
      throw err;
    }
    if (!msg) return false;
    this.groups[msg.index] = msg.group;
    this.save();
    const from = this.addressOf(msg.sender.identityKey, msg.sender.centralId);
    if (msg.type === 'data') {
      this.deps.emit({ kind: 'group', group: msg.group.name, from, data: msg.body });
    } else {
      this.deps.event('member', { group: msg.group.name, left: from });
      // The primary admin (lowest key) rekeys without the leaver; one rekeyer avoids needless conflicts.
      if (this.isSelf(sortedAdmins(msg.group.admins)[0] ?? new Uint8Array(0))) {
        try {
          this.rekey(
            msg.index,
            msg.group.members.map((m) => m.identityKey),
            'leave',
          );
        } catch (err) {
          ctx.log.warn({ err }, 'rekey after a leave failed');
        }
      }
    }
    return true;
  }

  /**
   * Concurrent joins: a newcomer's member list is the inviter's list when the
   * invite was made, so two people joining at about the same time do not know
   * each other. The primary admin re-announces the newcomer (with its chain
   * where the admin has read it) to everyone, and every member it saw join
   * recently to the newcomer. Already-known members are a no-op at the receivers.
   */
  private onNewcomer(index: number, newcomer: Member): void {
    const { ctx } = this.deps;
    const g = this.groups[index] as GroupState;
    const key = hex(g.groupId);
    const now = ctx.now();
    const recent = (this.recentJoins.get(key) ?? []).filter((j) => now - j.at < RECENT_JOIN_MS);
    recent.push({ member: newcomer, at: now });
    this.recentJoins.set(key, recent);
    if (!this.isSelf(sortedAdmins(g.admins)[0] ?? new Uint8Array(0))) return;
    const toAll = reannounce(ctx.crypto, g, this.deps.self, newcomer);
    if (toAll) {
      for (const m of g.members) {
        if (this.isSelf(m.identityKey) || ctx.crypto.equal(m.identityKey, newcomer.identityKey)) continue;
        this.sendDirect(m.identityKey, DIRECT_KIND.announce, toAll);
      }
    }
    for (const j of recent) {
      if (ctx.crypto.equal(j.member.identityKey, newcomer.identityKey)) continue;
      const body = reannounce(ctx.crypto, g, this.deps.self, j.member);
      if (body) this.sendDirect(newcomer.identityKey, DIRECT_KIND.announce, body);
    }
  }

  /** A direct message (already opened) that is not a datagram: group control, rekey, removal, announce or invite. */
  onDirect(direct: DirectMessage): boolean {
    const { ctx } = this.deps;
    try {
      switch (direct.kind) {
        case DIRECT_KIND.groupControl:
          if (!this.onGroupMessage(direct.body)) countDrop(ctx, 'group_control_unopened');
          return true;
        case DIRECT_KIND.rekey:
        case DIRECT_KIND.removal:
          if (this.applyTransition(direct.kind, direct.body)) {
            this.retryHeld();
            this.retryHeldPayloads();
          }
          return true;
        case DIRECT_KIND.announce: {
          const a = acceptAnnounce(ctx.crypto, this.deps.self.identityKey, this.groups, direct.body);
          this.groups[a.index] = a.group;
          this.save();
          if (a.added) {
            this.deps.event('member', {
              group: a.group.name,
              joined: this.addressOf(a.member.identityKey, a.member.centralId),
            });
            this.onNewcomer(a.index, a.member);
          }
          return true;
        }
        case DIRECT_KIND.invite: {
          const invite = lockedInvite(ctx.crypto, this.deps.self.identitySeed, direct.body);
          const id = inviteId(invite);
          if (!this.pending.some((p) => inviteId(p) === id)) {
            // Bounded: anyone can seal an invite to us. The oldest goes first (its inviter can send it again).
            if (this.pending.length >= MAX_PENDING_INVITES) {
              this.pending.shift();
              countDrop(ctx, 'group_invite_evicted');
            }
            this.pending.push(invite);
            this.save();
            this.deps.event('invite', { id });
          }
          return true;
        }
        default:
          return false;
      }
    } catch (err) {
      if (err instanceof GroupError) {
        countDrop(ctx, groupDropReason(err.reason), err.message);
        return true;
      }
      throw err;
    }
  }

  /**
   * Applies a rekey or removal notice; one that builds on an epoch we do not
   * hold yet is kept (bounded) and retried after the next one that applies.
   * Returns true when the state changed.
   */
  private applyTransition(kind: number, body: Uint8Array): boolean {
    const { ctx } = this.deps;
    try {
      if (kind === DIRECT_KIND.rekey) {
        const r = acceptRekey(ctx.crypto, this.deps.self.identitySeed, this.groups, body, ctx.now());
        this.groups[r.index] = r.group;
        this.rotatedAt.set(hex(r.group.groupId), ctx.now());
        this.save();
        this.deps.event('rekey', { group: r.group.name, epoch: r.group.epoch, switched: r.switched });
      } else {
        const r = acceptRemovalNotice(ctx.crypto, this.deps.self.identityKey, this.groups, body);
        this.groups[r.index] = r.group;
        this.save();
        this.deps.event('removed', { group: r.group.name, epoch: r.group.epoch });
      }
      return true;
    } catch (err) {
      if (err instanceof RekeyOutOfOrder) {
        const now = ctx.now();
        this.held = this.held.filter((h) => now - h.at < HELD_TRANSITION_MS);
        if (!this.held.some((h) => ctx.crypto.equal(h.body, body))) {
          if (this.held.length >= MAX_HELD_TRANSITIONS) this.held.shift();
          this.held.push({ kind, body, at: now });
        }
        countDrop(ctx, 'group_out_of_order_held', err.message);
        return false;
      }
      throw err;
    }
  }

  /** A delivered copy none of our group keys opens: kept until a transition may make it readable. */
  holdUnopenedPayload(payload: Uint8Array): void {
    const now = this.deps.ctx.now();
    this.heldPayloads = this.heldPayloads.filter((h) => now - h.at < HELD_PAYLOAD_MS);
    if (this.heldPayloads.length >= MAX_HELD_PAYLOADS) {
      this.heldPayloads.shift();
      countDrop(this.deps.ctx, 'undecryptable_delivery', 'held group copies overflowed');
    }
    this.heldPayloads.push({ payload, at: now });
  }

  private retryHeldPayloads(): void {
    const pending = this.heldPayloads;
    this.heldPayloads = [];
    for (const h of pending) if (!this.onGroupPayload(h.payload)) this.heldPayloads.push(h);
  }

  private retryHeld(): void {
    const { ctx } = this.deps;
    let progress = true;
    while (progress && this.held.length > 0) {
      progress = false;
      for (const h of [...this.held]) {
        this.held = this.held.filter((x) => x !== h);
        try {
          if (this.applyTransition(h.kind, h.body)) progress = true;
        } catch (err) {
          if (!(err instanceof GroupError)) throw err;
          countDrop(ctx, `group_${err.reason}`, err.message);
        }
      }
    }
  }

  /**
   * Expires old group keys; rotates the keys of groups we administer on
   * schedule. With several admins, the k-th (by key) waits (k+1) periods
   * since the last rekey it saw, so normally only the first one rotates and
   * the others step in when it is away.
   */
  tick(): void {
    const now = this.deps.ctx.now();
    this.groups = this.groups.map((g) => expireKeys(g, now));
    const every = this.deps.rotationMs ?? 0;
    if (every <= 0) return;
    this.groups.forEach((g, i) => {
      if (g.removed || g.members.length < 2) return;
      const rank = sortedAdmins(g.admins).findIndex((a) => this.isSelf(a));
      if (rank < 0) return;
      const last = this.rotatedAt.get(hex(g.groupId)) ?? now;
      if (!this.rotatedAt.has(hex(g.groupId))) this.rotatedAt.set(hex(g.groupId), now);
      if (now - last < every * (rank + 1)) return;
      try {
        const r = rotateGroupKey(this.deps.ctx.crypto, g, this.deps.self, systemRng(this.deps.ctx.crypto), now, {
          geometry: this.deps.geometry(),
        });
        this.applyOwnRekey(i, r);
      } catch (err) {
        this.deps.ctx.log.warn({ err }, 'scheduled group key rotation failed');
      }
    });
  }

  /** Groups and their current epoch (for the status command). */
  names(): string[] {
    return this.groups.map((g) => g.name);
  }
}
