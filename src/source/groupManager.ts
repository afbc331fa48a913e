import { DIRECT_KIND, type DirectMessage, sealDirect } from '../group/direct.js';
import {
  acceptRekey,
  announceSelf,
  buildFanoutBodies,
  createGroup,
  createInvite,
  createRekey,
  DEFAULT_INVITE_KDF,
  decodeRekeyNotice,
  encodeAddress,
  encodeAnnounceBody,
  expireKeys,
  GroupError,
  type GroupState,
  GroupStore,
  type InviteKdf,
  inviteId,
  type LocalIdentity,
  leaveGroup,
  lockedInvite,
  type Member,
  maxDatagramBytes,
  openDeliveredPayload,
  openGroupMessage,
  type PendingInvite,
  parseAddress,
  type RekeyResult,
  rotateGroupKey,
  sealGroupMessage,
  unlockInvite,
  WrongPassphrase,
} from '../group/index.js';
import { countDrop, type NodeContext } from '../node/context.js';
import { ControlError } from '../node/controlSocket.js';
import type { IndexedDirectory, NodeDescriptor } from '../node/directory.js';
import { mixKeyFor } from '../node/directory.js';
import { groupDropReason } from '../node/dropReasons.js';
import { hex, mailboxIdOf } from '../node/ids.js';
import { currentEpoch, NoRoute, pickProxies, routedPacket } from '../node/routes.js';
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
}

export interface GroupSummary {
  name: string;
  id: string;
  epoch: number;
  members: number;
  admin: boolean;
}

/** How long the admin keeps re-announcing a joiner to later joiners. */
const RECENT_JOIN_MS = 10 * 60_000;

/**
 * A source's groups: membership operations, multicast through a P2, and the
 * receiving side (trial decryption, signature and membership checks).
 * Persisted in DATA/groups.json after every change.
 */
export class GroupManager {
  private groups: GroupState[] = [];
  private pending: PendingInvite[] = [];
  private readonly store: GroupStore;
  private readonly rotatedAt = new Map<string, number>();
  private readonly recentJoins = new Map<string, Array<{ member: Member; at: number }>>();

  constructor(private readonly deps: GroupManagerDeps) {
    this.store = new GroupStore(deps.dataDir);
  }

  async load(): Promise<void> {
    const data = await this.store.load();
    this.groups = [...data.groups];
    this.pending = [...data.pendingInvites];
    for (const [k, v] of Object.entries(data.rotatedAt ?? {})) this.rotatedAt.set(k, v);
  }

  private save(): void {
    this.store
      .save({ groups: this.groups, pendingInvites: this.pending, rotatedAt: Object.fromEntries(this.rotatedAt) })
      .catch((err) => this.deps.ctx.log.error({ err }, 'saving groups failed'));
  }

  private summary(g: GroupState): GroupSummary {
    return {
      name: g.name,
      id: hex(g.groupId),
      epoch: g.epoch,
      members: g.members.length,
      admin: this.deps.ctx.crypto.equal(g.admin, this.deps.self.identityKey),
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

  list(): GroupSummary[] {
    return this.groups.map((g) => this.summary(g));
  }

  members(ref: string): Array<{ address: string; admin: boolean; self: boolean }> {
    const g = this.groups[this.find(ref)] as GroupState;
    return g.members.map((m) => ({
      address: this.addressOf(m.identityKey, m.centralId),
      admin: this.deps.ctx.crypto.equal(m.identityKey, g.admin),
      self: this.deps.ctx.crypto.equal(m.identityKey, this.deps.self.identityKey),
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

  invite(ref: string, address: string, passphrase: Uint8Array): { msgId: string; fragments: number } {
    const g = this.groups[this.find(ref)] as GroupState;
    const target = parseAddress(address);
    const sealed = createInvite(
      this.deps.ctx.crypto,
      g,
      this.deps.self,
      target,
      passphrase,
      this.deps.inviteKdf ?? DEFAULT_INVITE_KDF,
      systemRng(this.deps.ctx.crypto),
      this.deps.ctx.now(),
    );
    const r = this.deps.channel().send(target.identityKey, sealed, true);
    return { msgId: r.msgId, fragments: r.fragments };
  }

  join(id: string | undefined, passphrase: Uint8Array): GroupSummary {
    if (this.pending.length === 0)
      throw new ControlError('no pending invite: wait until one arrives (`mixd group join` lists them)');
    const idx = id === undefined ? this.pending.length - 1 : this.pending.findIndex((p) => inviteId(p).startsWith(id));
    if (idx < 0) throw new ControlError(`no pending invite "${id}"`);
    let g: GroupState;
    try {
      g = unlockInvite(this.deps.ctx.crypto, this.pending[idx] as PendingInvite, passphrase, this.deps.ctx.now());
    } catch (err) {
      if (err instanceof WrongPassphrase) throw new ControlError(err.message);
      if (err instanceof GroupError) throw new ControlError(`invite rejected: ${err.message}`);
      throw err;
    }
    this.pending.splice(idx, 1);
    const existing = this.groups.findIndex((x) => this.deps.ctx.crypto.equal(x.groupId, g.groupId));
    if (existing >= 0) this.groups.splice(existing, 1);
    const sent = announceSelf(this.deps.ctx.crypto, g, this.deps.self, systemRng(this.deps.ctx.crypto), {
      geometry: this.deps.geometry(),
    });
    this.groups.push(sent.group);
    this.save();
    this.sendControl(sent.group, sent.c0);
    return this.summary(sent.group);
  }

  send(ref: string, data: Uint8Array): { packets: number; recipients: number } {
    const i = this.find(ref);
    const g = this.groups[i] as GroupState;
    let sealed: ReturnType<typeof sealGroupMessage>;
    try {
      sealed = sealGroupMessage(
        this.deps.ctx.crypto,
        g,
        this.deps.self,
        'data',
        data,
        systemRng(this.deps.ctx.crypto),
        { geometry: this.deps.geometry() },
      );
    } catch (err) {
      if (err instanceof GroupError) throw new ControlError(err.message);
      throw err;
    }
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
    const keep = g.members
      .filter((m) => !this.deps.ctx.crypto.equal(m.identityKey, target.identityKey))
      .map((m) => m.identityKey);
    return this.rekey(i, keep);
  }

  leave(ref: string): { left: string } {
    const i = this.find(ref);
    const g = this.groups[i] as GroupState;
    let r: ReturnType<typeof leaveGroup>;
    try {
      r = leaveGroup(this.deps.ctx.crypto, g, this.deps.self, systemRng(this.deps.ctx.crypto), this.deps.ctx.now(), {
        geometry: this.deps.geometry(),
      });
    } catch (err) {
      if (err instanceof GroupError) throw new ControlError(err.message);
      throw err;
    }
    if (r.kind === 'message') this.sendControl(g, r.c0);
    else if (r.kind === 'handover') this.distribute(g, r.rekey);
    this.groups.splice(i, 1);
    this.save();
    return { left: g.name };
  }

  private rekey(i: number, keep: Uint8Array[], reason?: 'remove' | 'leave'): { epoch: number } {
    const g = this.groups[i] as GroupState;
    let r: RekeyResult;
    try {
      r = createRekey(
        this.deps.ctx.crypto,
        g,
        this.deps.self,
        keep,
        systemRng(this.deps.ctx.crypto),
        this.deps.ctx.now(),
        { geometry: this.deps.geometry(), ...(reason ? { reason } : {}) },
      );
    } catch (err) {
      if (err instanceof GroupError) throw new ControlError(err.message);
      throw err;
    }
    this.groups[i] = r.newState;
    this.rotatedAt.set(hex(g.groupId), this.deps.ctx.now());
    this.save();
    this.distribute(g, r);
    return { epoch: r.newState.epoch };
  }

  /** New keys go to each remaining member sealed to it (acked, retransmitted); the notice to everyone under the old key. */
  private distribute(old: GroupState, r: RekeyResult): void {
    for (const m of r.perMember) this.deps.channel().send(m.identityKey, m.sealed, true);
    this.sendControl(old, r.notice);
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
   * Membership control messages (announcements, leaves, rekey notices) must
   * not be lost: each member gets its own copy of C0 as a direct message,
   * acknowledged through a SURB and retransmitted until it is (O(n) per
   * message, which is fine for control traffic; data goes through P2's
   * fan-out). Retransmitted copies are the same C0, so the receivers' sequence
   * window drops the duplicates.
   */
  private sendControl(g: GroupState, c0: Uint8Array): void {
    const { ctx } = this.deps;
    const rng = systemRng(ctx.crypto);
    for (const m of g.members) {
      if (ctx.crypto.equal(m.identityKey, this.deps.self.identityKey)) continue;
      try {
        const blob = sealDirect(ctx.crypto, m.identityKey, DIRECT_KIND.groupControl, c0, rng);
        this.deps.channel().send(m.identityKey, blob, true);
      } catch (err) {
        ctx.log.warn({ err }, 'group control message not sent');
      }
    }
  }

  /** A delivered payload that was not sealed to our own key: try our groups. */
  onGroupPayload(payload: Uint8Array): boolean {
    const { ctx } = this.deps;
    let c0: Uint8Array;
    try {
      const opened = openDeliveredPayload(ctx.crypto, this.groups, payload, ctx.now());
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
    const now = ctx.now();
    let msg: ReturnType<typeof openGroupMessage>;
    try {
      msg = openGroupMessage(ctx.crypto, this.groups, c0, now);
    } catch (err) {
      if (err instanceof GroupError) {
        countDrop(ctx, groupDropReason(err.reason), err.message);
        return true;
      }
      throw err;
    }
    if (!msg) return false;
    const groupsBefore = this.groups[msg.index] as GroupState;
    this.groups[msg.index] = msg.group;
    this.save();
    const from = this.addressOf(msg.sender.identityKey, msg.sender.centralId);
    switch (msg.type) {
      case 'data':
        this.deps.emit({ kind: 'group', group: msg.group.name, from, data: msg.body });
        break;
      case 'announce': {
        const before = groupsBefore.members.length;
        if (msg.group.members.length > before) {
          const joined = msg.group.members[msg.group.members.length - 1] as Member;
          this.deps.event('member', {
            group: msg.group.name,
            joined: this.addressOf(joined.identityKey, joined.centralId),
          });
          this.onNewcomer(msg.index, joined);
        }
        break;
      }
      case 'leave':
        this.deps.event('member', { group: msg.group.name, left: from });
        // The admin is the only rekeyer: it rekeys the group without the leaver.
        if (ctx.crypto.equal(msg.group.admin, this.deps.self.identityKey)) {
          this.rekey(
            msg.index,
            msg.group.members.map((m) => m.identityKey),
            'leave',
          );
        }
        break;
      case 'rekey': {
        const notice = decodeRekeyNotice(msg.body);
        if (notice.removed.some((k) => ctx.crypto.equal(k, this.deps.self.identityKey))) {
          this.deps.event('removed', { group: msg.group.name });
        }
        break;
      }
    }
    return true;
  }

  /**
   * Concurrent joins: a newcomer's member list is the inviter's list when the
   * invite was made, so two people joining at about the same time do not know
   * each other, and their own announcements miss each other. The admin, who
   * hears every announcement, re-announces the newcomer to everyone and every
   * member it saw join recently to the newcomer's view. Already-known members
   * are a no-op at the receivers.
   */
  private onNewcomer(index: number, newcomer: Member): void {
    const { ctx } = this.deps;
    const g = this.groups[index] as GroupState;
    const key = hex(g.groupId);
    const now = ctx.now();
    const recent = (this.recentJoins.get(key) ?? []).filter((j) => now - j.at < RECENT_JOIN_MS);
    recent.push({ member: newcomer, at: now });
    this.recentJoins.set(key, recent);
    if (!ctx.crypto.equal(g.admin, this.deps.self.identityKey)) return;
    for (const j of recent) {
      try {
        const sent = sealGroupMessage(
          ctx.crypto,
          this.groups[index] as GroupState,
          this.deps.self,
          'announce',
          encodeAnnounceBody(j.member),
          systemRng(ctx.crypto),
          {
            geometry: this.deps.geometry(),
          },
        );
        this.groups[index] = sent.group;
        this.sendControl(sent.group, sent.c0);
      } catch (err) {
        ctx.log.warn({ err }, 're-announce failed');
      }
    }
    this.save();
  }

  /** A direct message (already opened) that is not a datagram: group control, rekey or invite. */
  onDirect(direct: DirectMessage): boolean {
    const { ctx } = this.deps;
    try {
      switch (direct.kind) {
        case DIRECT_KIND.groupControl:
          if (!this.onGroupMessage(direct.body)) countDrop(ctx, 'group_control_unopened');
          return true;
        case DIRECT_KIND.rekey: {
          const rekey = acceptRekey(ctx.crypto, this.deps.self.identitySeed, this.groups, direct.body, ctx.now());
          this.groups[rekey.index] = rekey.group;
          this.save();
          this.deps.event('rekey', { group: rekey.group.name, epoch: rekey.group.epoch });
          return true;
        }
        case DIRECT_KIND.invite: {
          const invite = lockedInvite(ctx.crypto, this.deps.self.identitySeed, direct.body);
          const id = inviteId(invite);
          if (!this.pending.some((p) => inviteId(p) === id)) {
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

  /** Expires old group keys; rotates the keys of groups we administer on schedule. */
  tick(): void {
    const now = this.deps.ctx.now();
    this.groups = this.groups.map((g) => expireKeys(g, now));
    const every = this.deps.rotationMs ?? 0;
    if (every <= 0) return;
    this.groups.forEach((g, i) => {
      if (!this.deps.ctx.crypto.equal(g.admin, this.deps.self.identityKey) || g.members.length < 2) return;
      const last = this.rotatedAt.get(hex(g.groupId)) ?? now;
      if (!this.rotatedAt.has(hex(g.groupId))) this.rotatedAt.set(hex(g.groupId), now);
      if (now - last < every) return;
      try {
        const r = rotateGroupKey(this.deps.ctx.crypto, g, this.deps.self, systemRng(this.deps.ctx.crypto), now, {
          geometry: this.deps.geometry(),
        });
        this.groups[i] = r.newState;
        this.rotatedAt.set(hex(g.groupId), now);
        this.save();
        this.distribute(g, r);
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
