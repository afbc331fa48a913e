import { encodeAddress, parseAddress } from '../group/address.js';
import { DIRECT_KIND, DIRECT_VERSION, openDirect, sealDirect } from '../group/direct.js';
import type { InviteKdf } from '../group/invite.js';
import { openControl, type SourceControl } from '../node/boxedControl.js';
import type { TimerHandle } from '../node/clock.js';
import { MalformedMessage } from '../node/codec.js';
import { countDrop, type NodeContext } from '../node/context.js';
import { decodeControlOrCount } from '../node/controlInbox.js';
import { type Delivery, openDelivery } from '../node/deliveryFrame.js';
import type { IndexedDirectory } from '../node/directory.js';
import type { DirectoryFetcher } from '../node/directoryFetcher.js';
import { MixdError } from '../node/errors.js';
import { centralIdOf, hex, mailboxIdOf } from '../node/ids.js';
import { currentEpoch, NoRoute, pickProxies, routedPacket } from '../node/routes.js';
import type { GroupStorage } from '../node/stores.js';
import type { Peer } from '../node/transport.js';
import {
  COOKIE_BYTES,
  type ControlMessage,
  type DeliveryKind,
  encodeControl,
  FRAME_CONTROL,
  FRAME_PADDED,
  MAX_ACK_IDS,
  maxAckIdsPerFrame,
  padControl,
  signedBytes,
  sourceLinkFrameBytes,
} from '../node/wire.js';
import { MalformedPacket } from '../scramble/errors.js';
import { type PacketGeometry, packetGeometry } from '../scramble/geometry.js';
import { systemRng } from '../scramble/rng.js';
import { openSeal, seal } from '../scramble/sealedBox.js';
import { CoverTraffic } from './coverTraffic.js';
import { DirectChannel } from './directChannel.js';
import { isLoop, loopMarker } from './envelope.js';
import { frameSealed, unframeSealed } from './frames.js';
import { GroupManager } from './groupManager.js';

export interface SourceOptions {
  central: Peer;
  centralKey: Uint8Array;
  keepaliveMs: number;
  /** Mixes between the sender and CS on a unicast route (P1, P2, P3). */
  mixHops: number;
  inviteKdf?: InviteKdf;
  groupRotationMs?: number;
  /** Where groups and pending invites are kept (default: DATA/groups.json). */
  groupStore?: GroupStorage;
}

export interface ReceivedDatagram {
  kind: 'unicast' | 'group';
  group?: string;
  from?: string;
  data: Uint8Array;
  receivedAtMs?: number;
}

/** What a source does with a packet it built: send now, or hand to the cover-traffic scheduler. */
export type PacketSink = (packet: Uint8Array, firstHop: Peer) => void;

const SEEN_IDS = 4096;
const HELD_DATAGRAMS = 1000;
/**
 * Ids per steady-mode ack frame (each frame padded to exactly this many): enough
 * for every slot of a keepalive period at the directory's delivery rate, with
 * room to spare, within the wire limit.
 */
function steadyAckIds(deliveryPerSecond: number, keepaliveMs: number): number {
  return Math.min(MAX_ACK_IDS, Math.max(32, Math.ceil(deliveryPerSecond * (keepaliveMs / 1000) * 1.5)));
}

/**
 * The user's node. Sends packets along random routes with sender-chosen
 * exponential delays, keeps its NAT binding at CS alive with signed keepalives,
 * and acknowledges deliveries so CS can delete them.
 */
export class SourceNode {
  registered = false;
  geometry: PacketGeometry | null = null;
  private readonly x25519Secret: Uint8Array;
  private readonly x25519Public: Uint8Array;
  private readonly mailbox: Uint8Array;
  /** The pinned CS key in X25519 form: only deliveries boxed by CS are accepted. */
  private readonly centralX25519: Uint8Array;
  private readonly seen = new Set<number>();
  private readonly seenOrder: number[] = [];
  private ackIds: number[] = [];
  private ackTimer: TimerHandle | null = null;
  private timers: TimerHandle[] = [];
  private lastKeepaliveTime = 0;
  /** CS's address cookie for where our keepalives come from (F13); signed into every keepalive. */
  private cookie: Uint8Array = new Uint8Array(COOKIE_BYTES);
  /** Time of the first keepalive of the current registration: an `error` answering an older one is a replay. */
  private registeredSinceKeepalive = Number.POSITIVE_INFINITY;
  private subscribers: Array<{ fn: (d: ReceivedDatagram) => void; wants: (d: ReceivedDatagram) => boolean }> = [];
  /** Datagrams nobody was listening for yet (e.g. mailbox mail that arrived before `mixd recv` started). */
  private readonly held: ReceivedDatagram[] = [];
  private registeredWaiters: Array<() => void> = [];
  sink: PacketSink;
  channel: DirectChannel | null = null;
  readonly groups: GroupManager;
  private eventListeners: Array<(name: string, data: unknown) => void> = [];
  readonly counters = { sent: 0, received: 0, duplicates: 0, dummies: 0, loopsReturned: 0 };
  cover: CoverTraffic | null = null;

  constructor(
    private readonly ctx: NodeContext,
    readonly directory: DirectoryFetcher,
    private readonly opts: SourceOptions,
  ) {
    this.x25519Secret = ctx.crypto.ed25519SeedToX25519(ctx.identity.seed);
    this.x25519Public = ctx.crypto.ed25519PublicToX25519(ctx.identity.publicKey);
    this.mailbox = mailboxIdOf(ctx.crypto, ctx.identity.publicKey);
    this.centralX25519 = ctx.crypto.ed25519PublicToX25519(opts.centralKey);
    this.sink = (packet, to) => {
      this.ctx.metrics.packetsOut.inc({ kind: 'sphinx' });
      this.ctx.transport.send(to, packet);
    };
    this.groups = new GroupManager({
      ctx,
      self: {
        identitySeed: ctx.identity.seed,
        identityKey: ctx.identity.publicKey,
        centralId: centralIdOf(ctx.crypto, opts.centralKey),
      },
      dataDir: ctx.dataDir,
      geometry: () => this.requireGeometry(),
      directory: () => this.requireDirectory(),
      channel: () => this.requireChannel(),
      send: (packet, to) => this.sink(packet, to),
      emit: (d) => this.emit(d),
      event: (name, data) => this.event(name, data),
      inviteKdf: opts.inviteKdf,
      rotationMs: opts.groupRotationMs,
      store: opts.groupStore,
    });
  }

  onEvent(fn: (name: string, data: unknown) => void): () => void {
    this.eventListeners.push(fn);
    return () => {
      this.eventListeners = this.eventListeners.filter((f) => f !== fn);
    };
  }

  private event(name: string, data: unknown): void {
    for (const l of this.eventListeners) l(name, data);
  }

  private requireGeometry(): PacketGeometry {
    if (!this.geometry) throw new NoRoute('no directory yet: is the central server reachable?');
    return this.geometry;
  }

  private requireChannel(): DirectChannel {
    if (!this.channel) throw new NoRoute('no directory yet: is the central server reachable?');
    return this.channel;
  }

  get address(): string {
    return encodeAddress({
      identityKey: this.ctx.identity.publicKey,
      centralId: centralIdOf(this.ctx.crypto, this.opts.centralKey),
    });
  }

  get x25519(): { publicKey: Uint8Array; secretKey: Uint8Array } {
    return { publicKey: this.x25519Public, secretKey: this.x25519Secret };
  }

  async start(): Promise<void> {
    await this.groups.load();
    const dir = await this.directory.ready();
    this.geometry = packetGeometry(dir.params.packetSize, dir.params.maxHops);
    this.channel = new DirectChannel({
      ctx: this.ctx,
      geometry: () => this.requireGeometry(),
      directory: () => this.requireDirectory(),
      selfMailbox: this.mailbox,
      send: (packet, to) => this.sink(packet, to),
      mixHops: this.opts.mixHops,
      onMessage: (blob) => this.onDirectMessage(blob),
      onOutcome: (msgId, outcome) => this.event('delivery', { msgId, outcome }),
    });
    this.cover = new CoverTraffic(this.ctx.crypto, this.ctx.clock, {
      lambdaPerSecond: dir.params.lambdaPerSecond,
      loopPerSecond: dir.params.loopPerSecond,
      queueCapacity: 10_000,
      makeDrop: () => this.coverPacket('drop'),
      makeLoop: () => this.coverPacket('loop'),
      send: (packet, to) => {
        this.ctx.metrics.packetsOut.inc({ kind: 'sphinx' });
        this.ctx.transport.send(to, packet);
      },
      onQueueFull: () => countDrop(this.ctx, 'send_queue_full'),
      onError: (err) => {
        countDrop(this.ctx, 'internal_error', 'cover');
        this.ctx.log.error({ err }, 'cover event failed');
      },
    });
    this.sink = (packet, to) => {
      this.cover?.enqueue(packet, to);
    };
    this.cover.start();
    this.hello();
    this.timers.push(this.ctx.clock.setInterval(() => this.keepalive(), this.opts.keepaliveMs));
    this.timers.push(
      this.ctx.clock.setInterval(() => {
        this.channel?.tick();
        this.groups.tick();
      }, 250),
    );
  }

  /** A complete direct message: a datagram for the application, or an invite / rekey for the group layer. */
  private onDirectMessage(blob: Uint8Array): void {
    // Opened once here; the group layer gets the opened message and dispatches on its kind.
    const direct = openDirect(this.ctx.crypto, this.ctx.identity.seed, blob);
    if (!direct || direct.version !== DIRECT_VERSION) return countDrop(this.ctx, 'undecryptable_direct');
    if (direct.kind === DIRECT_KIND.datagram) {
      this.emit({ kind: 'unicast', data: direct.body });
      return;
    }
    if (!this.groups.onDirect(direct)) countDrop(this.ctx, 'unknown_direct_kind');
  }

  /**
   * Cover: a drop packet S → P1..Pk → CS that CS discards, or a loop packet
   * S → P1..Pk → CS → S that comes back to our own mailbox. Both are built
   * exactly like real packets (same route length, same delays).
   */
  private coverPacket(kind: 'drop' | 'loop'): { packet: Uint8Array; to: Peer } | null {
    const dir = this.directory.current();
    if (!dir || !this.geometry || dir.proxies.length === 0) return null;
    const rng = systemRng(this.ctx.crypto);
    try {
      const epoch = currentEpoch(dir, this.ctx.now());
      const mixes = pickProxies(this.ctx.crypto, dir, this.opts.mixHops, epoch);
      const final =
        kind === 'drop' ? ({ kind: 'drop' } as const) : ({ kind: 'deliver', mailbox: this.mailbox } as const);
      const body =
        kind === 'drop'
          ? new Uint8Array(0)
          : frameSealed(seal(this.ctx.crypto, this.x25519Public, loopMarker(this.ctx.crypto.randomBytes(16)), rng));
      return routedPacket(this.ctx.crypto, this.geometry, dir, mixes, dir.central, final, body, epoch, rng);
    } catch (err) {
      if (err instanceof NoRoute) return null;
      throw err;
    }
  }

  stop(): void {
    this.cover?.stop();
    for (const t of this.timers) this.ctx.clock.clearInterval(t);
    this.timers = [];
    this.ctx.clock.clearTimeout(this.ackTimer);
    this.flushAcks();
  }

  whenRegistered(): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve) => this.registeredWaiters.push(resolve));
  }

  /**
   * Delivers datagrams that `wants` accepts to `fn`, starting with those held
   * while nobody who wanted them was listening.
   */
  subscribe(fn: (d: ReceivedDatagram) => void, wants: (d: ReceivedDatagram) => boolean = () => true): () => void {
    const sub = { fn, wants };
    this.subscribers.push(sub);
    for (let i = 0; i < this.held.length; ) {
      const d = this.held[i] as ReceivedDatagram;
      if (wants(d)) {
        this.held.splice(i, 1);
        fn(d);
      } else i++;
    }
    return () => {
      this.subscribers = this.subscribers.filter((x) => x !== sub);
    };
  }

  emit(d: ReceivedDatagram): void {
    this.counters.received++;
    d.receivedAtMs ??= this.ctx.clock.preciseNow();
    let taken = false;
    for (const s of this.subscribers) {
      if (!s.wants(d)) continue;
      taken = true;
      s.fn(d);
    }
    if (taken) return;
    // Bounded: an unattended daemon keeps the newest HELD_DATAGRAMS and counts what it lets go.
    this.held.push(d);
    if (this.held.length > HELD_DATAGRAMS) {
      this.held.shift();
      countDrop(this.ctx, 'held_datagram_overflow');
    }
  }

  status(): Record<string, unknown> {
    const dir = this.directory.current();
    return {
      role: 'source',
      address: this.address,
      registered: this.registered,
      proxies: dir?.proxies.length ?? 0,
      directoryIssuedAtMs: dir?.issuedAtMs ?? null,
      directoryCheckedAtMs: this.directory.lastAnswerAtMs || null,
      maxDatagramBytes: this.geometry ? this.groups.maxDatagramBytes() : null,
      maxUnicastBytes: this.geometry ? this.maxUnicastBytes() : null,
      groups: this.groups.names(),
      direct: this.channel?.stats ?? null,
      cover: this.cover ? { ...this.cover.stats, queued: this.cover.queued() } : null,
      ...this.counters,
    };
  }

  private hello(): void {
    this.sendControl({ type: 'hello', identityKey: this.ctx.identity.publicKey });
  }

  private keepalive(): void {
    if (!this.registered) {
      this.hello();
      return;
    }
    if (this.steadyAcks) this.flushAcks();
    const timeMs = Math.max(this.ctx.now(), this.lastKeepaliveTime + 1);
    this.lastKeepaliveTime = timeMs;
    if (this.registeredSinceKeepalive === Number.POSITIVE_INFINITY) this.registeredSinceKeepalive = timeMs;
    const cookie = this.cookie;
    const signature = this.ctx.crypto.ed25519Sign(
      this.ctx.identity.seed,
      signedBytes('keepalive', this.opts.centralKey, this.ctx.identity.publicKey, timeMs, cookie),
    );
    this.sendControl({ type: 'keepalive', identityKey: this.ctx.identity.publicKey, timeMs, cookie, signature });
  }

  /** Everything a source sends CS is padded to the link size: keepalives look like acks look like hellos. */
  private sendControl(msg: ControlMessage): void {
    this.ctx.metrics.packetsOut.inc({ kind: msg.type });
    const g = this.requireGeometry();
    this.ctx.transport.send(this.opts.central, padControl(encodeControl(msg), sourceLinkFrameBytes(g.payloadBytes)));
  }

  private maxAckIds(): number {
    return maxAckIdsPerFrame(sourceLinkFrameBytes(this.requireGeometry().payloadBytes));
  }

  onDatagram(bytes: Uint8Array, from: Peer): void {
    if (bytes[0] !== FRAME_CONTROL && bytes[0] !== FRAME_PADDED) return countDrop(this.ctx, 'bad_frame');
    const msg = decodeControlOrCount(this.ctx, bytes);
    if (!msg) return;
    const fromCentral = from.port === this.opts.central.port && from.host === this.opts.central.host;
    if (!fromCentral) return countDrop(this.ctx, 'not_from_central');
    switch (msg.type) {
      case 'dirResponse':
        this.directory.offer(msg, from);
        return;
      case 'boxed': {
        let opened: { replyTo: number; msg: SourceControl };
        try {
          opened = openControl(
            this.ctx.crypto,
            { peerPublicKey: this.centralX25519, secretKey: this.x25519Secret },
            msg.sealed,
          );
        } catch (err) {
          if (err instanceof MalformedMessage) return countDrop(this.ctx, 'bad_delivery', err.message);
          throw err;
        }
        this.onCentralControl(opened.msg, opened.replyTo);
        return;
      }
      case 'challenge':
      case 'registered':
      case 'error':
      case 'cookie':
        // F13: these come boxed by CS's key; a bare one is from someone who can only spoof CS's address.
        return countDrop(this.ctx, 'unauthenticated_control', msg.type);
      case 'delivery': {
        // CS may push mail before our first directory (a restart inside the session timeout):
        // without the geometry we cannot ack it, so leave it to CS's redelivery.
        if (!this.geometry) return countDrop(this.ctx, 'not_ready', 'delivery before the directory');
        let d: Delivery;
        try {
          d = openDelivery(
            this.ctx.crypto,
            { peerPublicKey: this.centralX25519, secretKey: this.x25519Secret },
            msg.sealed,
          );
        } catch (err) {
          if (err instanceof MalformedMessage) return countDrop(this.ctx, 'bad_delivery', err.message);
          throw err;
        }
        this.onDelivery(d.entryId, d.kind, d.surbId, d.payload);
        return;
      }
      default:
        countDrop(this.ctx, 'unexpected_control', msg.type);
    }
  }

  /** A control frame CS boxed for us; `replyTo` is the keepalive time it answers (0: none). */
  private onCentralControl(msg: SourceControl, replyTo: number): void {
    switch (msg.type) {
      case 'challenge': {
        const signature = this.ctx.crypto.ed25519Sign(
          this.ctx.identity.seed,
          signedBytes('register', this.opts.centralKey, msg.nonce, this.ctx.identity.publicKey),
        );
        this.sendControl({ type: 'register', identityKey: this.ctx.identity.publicKey, nonce: msg.nonce, signature });
        return;
      }
      case 'registered':
        if (!this.ctx.crypto.equal(msg.mailbox, this.mailbox)) return countDrop(this.ctx, 'bad_registration');
        if (!this.registered) this.ctx.log.info({ address: this.address }, 'registered at central');
        this.cookie = msg.cookie;
        this.registered = true;
        this.keepalive();
        for (const w of this.registeredWaiters) w();
        this.registeredWaiters = [];
        return;
      case 'cookie':
        // Our keepalives come from an address CS has no cookie of ours for (a new NAT binding,
        // a CS restart): sign the new one in at once rather than at the next interval.
        if (this.registered && !this.ctx.crypto.equal(msg.cookie, this.cookie)) {
          this.cookie = msg.cookie;
          this.keepalive();
        }
        return;
      case 'error':
        // Only an answer to a keepalive of the current registration: a recorded older one is a replay.
        if (msg.code === 'not_registered' && replyTo >= this.registeredSinceKeepalive) {
          this.registered = false;
          this.registeredSinceKeepalive = Number.POSITIVE_INFINITY;
          this.hello();
        }
        return;
    }
  }

  private onDelivery(entryId: number, kind: DeliveryKind, surbId: Uint8Array, payload: Uint8Array): void {
    if (kind === 'dummy') {
      this.counters.dummies++;
      return;
    }
    this.queueAck(entryId);
    // CS re-sends until acknowledged: the same entry can arrive twice.
    if (this.seen.has(entryId)) {
      this.counters.duplicates++;
      return;
    }
    this.seen.add(entryId);
    this.seenOrder.push(entryId);
    if (this.seenOrder.length > SEEN_IDS) this.seen.delete(this.seenOrder.shift() as number);
    if (kind === 'surbReply') {
      if (!this.channel?.onSurbReply(surbId, payload)) countDrop(this.ctx, 'unknown_surb');
      return;
    }
    try {
      const sealed = unframeSealed(payload);
      const envelope = openSeal(this.ctx.crypto, this.x25519Public, this.x25519Secret, sealed);
      if (envelope) {
        if (isLoop(envelope)) this.counters.loopsReturned++;
        else this.channel?.onEnvelope(envelope);
        return;
      }
    } catch (err) {
      if (!(err instanceof MalformedMessage || err instanceof MalformedPacket)) throw err;
    }
    if (this.groups.onGroupPayload(payload)) return;
    // Maybe sealed under a group key whose rekey has not reached us yet: kept briefly, retried after it.
    this.groups.holdUnopenedPayload(payload);
  }

  /** Steady mode (CS delivers at a constant rate): acks leave only on the keepalive clock, padded to one size. */
  private get steadyAcks(): boolean {
    return (this.directory.current()?.params.deliveryPerSecond ?? 0) > 0;
  }

  private queueAck(id: number): void {
    this.ackIds.push(id);
    if (this.steadyAcks) return;
    if (this.ackIds.length >= this.maxAckIds()) this.flushAcks();
    else if (!this.ackTimer) this.ackTimer = this.ctx.clock.setTimeout(() => this.flushAcks(), 20);
  }

  private flushAcks(): void {
    this.ackTimer = null;
    const steady = this.steadyAcks;
    if (this.ackIds.length === 0 && !steady) return;
    const perFrame = steady
      ? steadyAckIds(this.directory.current()?.params.deliveryPerSecond ?? 0, this.opts.keepaliveMs)
      : this.maxAckIds();
    const ids = this.ackIds.splice(0, Math.min(perFrame, this.maxAckIds()));
    // Id 0 is never an entry: padding that CS ignores.
    if (steady) while (ids.length < Math.min(perFrame, this.maxAckIds())) ids.push(0);
    const timeMs = this.ctx.now();
    const signature = this.ctx.crypto.ed25519Sign(
      this.ctx.identity.seed,
      signedBytes('ack', this.opts.centralKey, this.ctx.identity.publicKey, timeMs, ...ids),
    );
    this.sendControl({ type: 'ack', identityKey: this.ctx.identity.publicKey, timeMs, ids, signature });
  }

  maxUnicastBytes(): number {
    // One fragment, no SURB, minus the direct-message header and its seal.
    return this.requireChannel().chunkBytes(false) - 2 - 48;
  }

  private requireDirectory(): IndexedDirectory {
    const dir = this.directory.current();
    if (!dir || !this.geometry) throw new NoRoute('no directory yet: is the central server reachable?');
    return dir;
  }

  /**
   * A datagram to one member's mailbox (S → P1..Pk → CS → T), sealed to the
   * target. The target learns the content, not who sent it. Unacknowledged.
   */
  sendUnicast(target: string, data: Uint8Array): { delays: number[]; sentAtMs: number } {
    const { identityKey } = parseAddress(target);
    if (data.length > this.maxUnicastBytes()) {
      throw MixdError.DATAGRAM_TOO_LARGE(data.length, this.maxUnicastBytes());
    }
    const blob = sealDirect(this.ctx.crypto, identityKey, DIRECT_KIND.datagram, data, systemRng(this.ctx.crypto));
    const { delays } = this.requireChannel().send(identityKey, blob, false);
    this.counters.sent++;
    // Wall-clock with sub-ms precision in real time: comparable across processes on one machine (benchmarks).
    return { delays, sentAtMs: this.ctx.clock.preciseNow() };
  }

  mailboxHex(): string {
    return hex(this.mailbox);
  }
}
