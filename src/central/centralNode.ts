import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TimerHandle } from '../node/clock.js';
import { countDrop, type NodeContext } from '../node/context.js';
import { decodeControlOrCount } from '../node/controlInbox.js';
import { type Delivery, sealDelivery } from '../node/deliveryFrame.js';
import {
  type Directory,
  decodeDescriptor,
  encodeDirectory,
  type NetworkParams,
  type NodeDescriptor,
  signDocument,
} from '../node/directory.js';
import { hex, mailboxIdOf } from '../node/ids.js';
import { MailboxQuotaExceeded } from '../node/mailboxStore.js';
import { epochAt, MixKeyRing } from '../node/mixKeys.js';
import { randomIndex } from '../node/routes.js';
import { unwrapOrCount } from '../node/sphinxInbox.js';
import type { AccountStore, MailboxStorage } from '../node/stores.js';
import { type Peer, peerKey } from '../node/transport.js';
import {
  type ControlMessage,
  type DeliveryKind,
  encodeControl,
  FRAME_CONTROL,
  FRAME_PADDED,
  FRAME_SPHINX,
  padControl,
  signedBytes,
  sourceLinkFrameBytes,
} from '../node/wire.js';
import { type PacketGeometry, packetGeometry } from '../scramble/geometry.js';
import type { ReplayCache } from '../scramble/replayCache.js';
import { systemRng } from '../scramble/rng.js';
import { type DeliveryHooks, decodeStoredEntry, encodeStoredEntry } from './storedEntry.js';

export interface CentralOptions {
  params: NetworkParams;
  advertise: string;
  /** A source is online while its last keepalive is younger than this. */
  sessionTimeoutMs: number;
  /** An unacknowledged delivery is sent again after this. */
  redeliverMs: number;
}

/** What CS keeps across restarts (LMDB in a daemon, memory in virtual time: src/node/stores.ts). */
export interface CentralStores {
  mailboxes: MailboxStorage;
  accounts: AccountStore;
  replay: ReplayCache;
}

interface Session {
  identityKey: Uint8Array;
  /** The source's X25519 key (from its identity key): deliveries are sealed to it. */
  x25519: Uint8Array;
  mailbox: Uint8Array;
  peer: Peer;
  lastSeenMs: number;
  lastTimeMs: number;
  inFlight: Map<number, number>;
  /** Steady mode: when this source's next delivery slot opens. */
  nextSlotMs: number;
}

/** Clock skew accepted on signed keepalives, descriptors and acks. */
const FRESHNESS_MS = 5 * 60_000;
const CHALLENGE_TTL_MS = 30_000;
const MAX_CHALLENGES = 10_000;
const DELIVERY_BATCH = 32;
const STEADY_TICK_MS = 5;
const SESSION_FORGET_FACTOR = 20;

/**
 * CS: directory authority, final mix hop and mailbox server. It learns single
 * recipients (mailbox ids) but never a sender; tokens of one group message are
 * sealed with independent ephemeral keys, so it cannot group them either.
 */
export class CentralNode {
  readonly geometry: PacketGeometry;
  private readonly ring: MixKeyRing;
  private readonly mailboxes: MailboxStorage;
  private readonly accounts: AccountStore;
  private readonly replay: ReplayCache;
  private readonly proxies = new Map<string, NodeDescriptor>();
  private readonly challenges = new Map<string, { nonce: Uint8Array; expires: number }>();
  private readonly sessions = new Map<string, Session>();
  private signedDirectory: { document: Uint8Array; signature: Uint8Array; epoch: number; version: number } | null =
    null;
  private directoryVersion = 0;
  private builtVersion = -1;
  private timers: TimerHandle[] = [];
  /** X25519 form of the identity key: authenticates deliveries to sources (crypto_box). */
  private readonly boxSecret: Uint8Array;
  /** Every datagram CS sends a source has this size (src/node/wire.ts, padded frames). */
  private readonly linkFrameBytes: number;
  constructor(
    private readonly ctx: NodeContext,
    stores: CentralStores,
    private readonly opts: CentralOptions,
    /** From the group layer: opens P2's delivery tokens. */
    private readonly hooks: DeliveryHooks = {},
  ) {
    this.mailboxes = stores.mailboxes;
    this.accounts = stores.accounts;
    this.replay = stores.replay;
    this.geometry = packetGeometry(opts.params.packetSize, opts.params.maxHops);
    this.boxSecret = ctx.crypto.ed25519SeedToX25519(ctx.identity.seed);
    this.linkFrameBytes = sourceLinkFrameBytes(this.geometry.payloadBytes);
    mkdirSync(join(ctx.dataDir, 'keys'), { recursive: true, mode: 0o700 });
    this.ring = new MixKeyRing(ctx.crypto, join(ctx.dataDir, 'keys'), {
      epochMs: opts.params.epochSeconds * 1000,
      graceMs: opts.params.graceSeconds * 1000,
    });
  }

  get keyRing(): MixKeyRing {
    return this.ring;
  }

  start(): void {
    this.tick();
    const clock = this.ctx.clock;
    this.timers.push(clock.setInterval(() => this.tick(), 1000));
    if (this.steady) this.timers.push(clock.setInterval(() => this.steadySlots(), STEADY_TICK_MS));
    this.timers.push(
      clock.setInterval(() => {
        this.mailboxes.expire(this.ctx.now()).catch((err) => this.ctx.log.error({ err }, 'mailbox expiry failed'));
      }, 60_000),
    );
  }

  stop(): void {
    for (const t of this.timers) this.ctx.clock.clearInterval(t);
    this.timers = [];
  }

  private tick(): void {
    const now = this.ctx.now();
    const erased = this.ring.refresh(now);
    if (erased.length) {
      const oldest = Math.min(...this.ring.candidates(now).map((k) => k.epoch));
      this.replay.dropBefore(oldest);
      this.ctx.log.info({ erased }, 'erased expired mix keys');
    }
    const staleBefore = now - Math.max(3 * this.opts.params.epochSeconds * 1000, 60_000);
    for (const [id, p] of this.proxies) {
      if (p.timestampMs < staleBefore) {
        this.proxies.delete(id);
        this.directoryVersion++;
      }
    }
    for (const [k, c] of this.challenges) if (c.expires < now) this.challenges.delete(k);
    this.ctx.metrics.mailboxEntries.set(this.mailboxes.durableCount());
    for (const [k, s] of this.sessions) {
      // Forget sessions long offline: the table must not grow with every identity that ever registered.
      // Only after the keepalive freshness window, so a forgotten session's old keepalive is stale.
      const forgetAfter = Math.max(SESSION_FORGET_FACTOR * this.opts.sessionTimeoutMs, 2 * FRESHNESS_MS);
      if (now - s.lastSeenMs > forgetAfter) this.sessions.delete(k);
      else this.flush(s);
    }
  }

  directory(): Directory {
    const now = this.ctx.now();
    return {
      issuedAtMs: now,
      epoch: epochAt({ epochMs: this.opts.params.epochSeconds * 1000, graceMs: 0 }, now),
      params: this.opts.params,
      central: {
        identityKey: this.ctx.identity.publicKey,
        address: this.opts.advertise,
        mixKeys: this.ring.published(now),
        timestampMs: now,
      },
      proxies: [...this.proxies.values()].sort((a, b) => hex(a.identityKey).localeCompare(hex(b.identityKey))),
    };
  }

  private currentDirectory(): { document: Uint8Array; signature: Uint8Array } {
    const epoch = epochAt({ epochMs: this.opts.params.epochSeconds * 1000, graceMs: 0 }, this.ctx.now());
    if (!this.signedDirectory || this.signedDirectory.epoch !== epoch || this.builtVersion !== this.directoryVersion) {
      const document = encodeDirectory(this.directory());
      const signature = signDocument(this.ctx.crypto, 'directory', this.ctx.identity.seed, document);
      this.signedDirectory = { document, signature, epoch, version: this.directoryVersion };
      this.builtVersion = this.directoryVersion;
    }
    return this.signedDirectory;
  }

  status(): Record<string, unknown> {
    return {
      role: 'central',
      identityKey: hex(this.ctx.identity.publicKey),
      proxies: this.proxies.size,
      onlineSources: [...this.sessions.values()].filter((s) => this.online(s)).length,
      mailboxEntries: this.mailboxes.durableCount(),
      epoch: epochAt({ epochMs: this.opts.params.epochSeconds * 1000, graceMs: 0 }, this.ctx.now()),
      params: this.opts.params,
    };
  }

  onDatagram(bytes: Uint8Array, from: Peer): void {
    const frame = bytes[0];
    if (frame === FRAME_SPHINX) this.onSphinx(bytes);
    else if (frame === FRAME_CONTROL || frame === FRAME_PADDED) {
      const msg = decodeControlOrCount(this.ctx, bytes);
      if (msg) this.onControl(msg, from);
    } else countDrop(this.ctx, 'bad_frame');
  }

  private send(to: Peer, msg: ControlMessage): void {
    this.ctx.metrics.packetsOut.inc({ kind: msg.type });
    this.ctx.transport.send(to, encodeControl(msg));
  }

  /** To a source: padded to the link size, like everything on that link. */
  private sendToSource(to: Peer, msg: ControlMessage): void {
    this.ctx.metrics.packetsOut.inc({ kind: msg.type });
    this.ctx.transport.send(to, padControl(encodeControl(msg), this.linkFrameBytes));
  }

  private onSphinx(bytes: Uint8Array): void {
    this.ctx.metrics.packetsIn.inc({ kind: 'sphinx' });
    const unwrapped = unwrapOrCount(this.ctx, this.geometry, this.ring, this.replay, bytes);
    if (!unwrapped) return;
    const r = unwrapped.result;
    switch (r.kind) {
      case 'deliver':
        this.store(r.mailbox, 'message', new Uint8Array(16), r.body);
        break;
      case 'surbReply':
        this.store(r.mailbox, 'surbReply', r.surbId, r.payload);
        break;
      case 'deliverToken': {
        const opened = this.hooks.openToken?.(r.body, this.ring.candidates(this.ctx.now()));
        if (!opened) return countDrop(this.ctx, 'bad_token');
        this.store(opened.mailbox, 'message', new Uint8Array(16), opened.payload);
        break;
      }
      case 'drop':
        this.ctx.metrics.packetsIn.inc({ kind: 'cover_drop' });
        break;
      default:
        // CS is only ever a final hop: a relay or fan-out addressed to it is misrouted.
        countDrop(this.ctx, 'bad_role', r.kind);
    }
  }

  private store(mailbox: Uint8Array, kind: DeliveryKind, surbId: Uint8Array, payload: Uint8Array): void {
    const key = hex(mailbox);
    if (!this.accounts.has(mailbox)) return countDrop(this.ctx, 'unknown_mailbox');
    const entry = encodeStoredEntry(kind, surbId, payload, this.geometry);
    let stored: { id: number; durable: Promise<number> };
    try {
      stored = this.mailboxes.store(mailbox, entry, this.ctx.now());
    } catch (err) {
      if (err instanceof MailboxQuotaExceeded) return countDrop(this.ctx, 'mailbox_full');
      throw err;
    }
    // An online recipient is served now, not after the fsync: the entry stays
    // stored until it acknowledges, so a lost delivery is simply sent again.
    const s = this.sessions.get(key);
    if (s && this.online(s) && !this.steady) {
      s.inFlight.set(stored.id, this.ctx.now());
      this.sendDelivery(s, stored.id, entry);
    }
    stored.durable.then(
      () => this.ctx.metrics.mailboxEntries.set(this.mailboxes.durableCount()),
      (err) => this.ctx.log.error({ err }, 'mailbox write failed'),
    );
  }

  private sendDelivery(s: Session, id: number, entry: Uint8Array): void {
    const stored = decodeStoredEntry(entry);
    if (!stored) return;
    this.sendSealed(s, { entryId: id, kind: stored.kind, surbId: stored.surbId, payload: stored.payload });
  }

  private sendSealed(s: Session, d: Delivery): void {
    const sealed = sealDelivery(
      this.ctx.crypto,
      { peerPublicKey: s.x25519, secretKey: this.boxSecret },
      d,
      systemRng(this.ctx.crypto),
    );
    this.ctx.metrics.packetsOut.inc({ kind: d.kind === 'dummy' ? 'delivery_dummy' : 'delivery_real' });
    this.ctx.transport.send(s.peer, padControl(encodeControl({ type: 'delivery', sealed }), this.linkFrameBytes));
  }

  /**
   * Steady mode: every online source gets one delivery per slot (1/rate), a
   * dummy when nothing is due. Each source has its own random slot phase, so
   * copies of one message to different members do not leave CS in lockstep.
   */
  private steadySlots(): void {
    const now = this.ctx.now();
    const period = 1000 / this.opts.params.deliveryPerSecond;
    for (const s of this.sessions.values()) {
      if (!this.online(s)) continue;
      if (s.nextSlotMs === 0) s.nextSlotMs = now + (randomIndex(this.ctx.crypto, 1 << 30) / (1 << 30)) * period;
      if (now < s.nextSlotMs) continue;
      // Never burst to catch up after a stall: that would be a visible pattern.
      s.nextSlotMs = Math.max(s.nextSlotMs + period, now);
      this.deliverSlot(s, now);
    }
  }

  private deliverSlot(s: Session, now: number): void {
    const due = this.mailboxes.pending(s.mailbox, DELIVERY_BATCH).find((e) => {
      const sentAt = s.inFlight.get(e.id);
      // Acks come on the source's keepalive clock in steady mode: do not resend before one could arrive.
      return sentAt === undefined || now - sentAt >= Math.max(this.opts.redeliverMs, this.opts.sessionTimeoutMs);
    });
    if (due) {
      s.inFlight.set(due.id, now);
      this.sendDelivery(s, due.id, due.body);
      return;
    }
    this.sendSealed(s, {
      entryId: 0,
      kind: 'dummy',
      surbId: new Uint8Array(16),
      payload: this.ctx.crypto.randomBytes(this.geometry.payloadBytes),
    });
  }

  private get steady(): boolean {
    return this.opts.params.deliveryPerSecond > 0;
  }

  private online(s: Session): boolean {
    return this.ctx.now() - s.lastSeenMs < this.opts.sessionTimeoutMs;
  }

  /** Sends pending entries to an online source; unacknowledged ones again after redeliverMs. */
  private flush(s: Session): void {
    // In steady mode deliveries leave only in slots: a burst would mark real traffic.
    if (!this.online(s) || this.steady) return;
    const now = this.ctx.now();
    for (const e of this.mailboxes.pending(s.mailbox, DELIVERY_BATCH * 4)) {
      const sentAt = s.inFlight.get(e.id);
      if (sentAt !== undefined && now - sentAt < this.opts.redeliverMs) continue;
      s.inFlight.set(e.id, now);
      this.sendDelivery(s, e.id, e.body);
    }
  }

  /** A source's Ed25519 signature over a labelled message that also names this CS (useless at any other). */
  private signedBySource(
    identityKey: Uint8Array,
    signature: Uint8Array,
    label: string,
    ...parts: Array<Uint8Array | number>
  ): boolean {
    return this.ctx.crypto.ed25519Verify(
      identityKey,
      signedBytes(label, this.ctx.identity.publicKey, ...parts),
      signature,
    );
  }

  private fresh(timeMs: number): boolean {
    return Math.abs(this.ctx.now() - timeMs) < FRESHNESS_MS;
  }

  private onControl(msg: ControlMessage, from: Peer): void {
    const crypto = this.ctx.crypto;
    switch (msg.type) {
      case 'dirRequest': {
        const d = this.currentDirectory();
        this.send(from, { type: 'dirResponse', document: d.document, signature: d.signature });
        return;
      }
      case 'descriptor': {
        let desc: NodeDescriptor;
        try {
          desc = decodeDescriptor(msg.descriptor);
        } catch {
          return countDrop(this.ctx, 'bad_descriptor');
        }
        if (!crypto.ed25519Verify(desc.identityKey, signedBytes('descriptor', msg.descriptor), msg.signature)) {
          return countDrop(this.ctx, 'bad_signature', 'descriptor');
        }
        if (!this.fresh(desc.timestampMs)) return countDrop(this.ctx, 'stale', 'descriptor');
        const id = hex(desc.identityKey);
        const prev = this.proxies.get(id);
        if (prev && prev.timestampMs >= desc.timestampMs) return countDrop(this.ctx, 'stale', 'descriptor');
        const changed = !prev || prev.address !== desc.address || encodeKeys(prev) !== encodeKeys(desc);
        this.proxies.set(id, desc);
        if (changed) this.directoryVersion++;
        this.send(from, { type: 'descriptorAck', ok: true });
        return;
      }
      case 'hello': {
        if (this.challenges.size >= MAX_CHALLENGES) return countDrop(this.ctx, 'challenge_flood');
        const nonce = crypto.randomBytes(32);
        this.challenges.set(hex(msg.identityKey), { nonce, expires: this.ctx.now() + CHALLENGE_TTL_MS });
        this.sendToSource(from, { type: 'challenge', nonce });
        return;
      }
      case 'register': {
        const id = hex(msg.identityKey);
        const c = this.challenges.get(id);
        if (!c || !crypto.equal(c.nonce, msg.nonce)) return countDrop(this.ctx, 'bad_challenge');
        if (!this.signedBySource(msg.identityKey, msg.signature, 'register', msg.nonce, msg.identityKey)) {
          return countDrop(this.ctx, 'bad_signature', 'register');
        }
        this.challenges.delete(id);
        const mailbox = mailboxIdOf(crypto, msg.identityKey);
        this.accounts.add(mailbox, msg.identityKey).then(
          () => this.sendToSource(from, { type: 'registered', mailbox }),
          (err) => this.ctx.log.error({ err }, 'account write failed'),
        );
        this.touch(msg.identityKey, mailbox, from, 0);
        return;
      }
      case 'keepalive': {
        if (!this.fresh(msg.timeMs)) return countDrop(this.ctx, 'stale', 'keepalive');
        if (!this.signedBySource(msg.identityKey, msg.signature, 'keepalive', msg.identityKey, msg.timeMs)) {
          return countDrop(this.ctx, 'bad_signature', 'keepalive');
        }
        const mailbox = mailboxIdOf(crypto, msg.identityKey);
        if (!this.accounts.has(mailbox)) {
          this.sendToSource(from, { type: 'error', code: 'not_registered', text: 'register first' });
          return;
        }
        const s = this.sessions.get(hex(mailbox));
        if (s && msg.timeMs <= s.lastTimeMs) return countDrop(this.ctx, 'stale', 'keepalive replay');
        this.touch(msg.identityKey, mailbox, from, msg.timeMs);
        return;
      }
      case 'ack': {
        if (!this.fresh(msg.timeMs)) return countDrop(this.ctx, 'stale', 'ack');
        if (!this.signedBySource(msg.identityKey, msg.signature, 'ack', msg.identityKey, msg.timeMs, ...msg.ids)) {
          return countDrop(this.ctx, 'bad_signature', 'ack');
        }
        const mailbox = mailboxIdOf(crypto, msg.identityKey);
        const s = this.sessions.get(hex(mailbox));
        for (const id of msg.ids) s?.inFlight.delete(id);
        this.mailboxes.ack(mailbox, msg.ids).then(
          () => this.ctx.metrics.mailboxEntries.set(this.mailboxes.durableCount()),
          (err) => this.ctx.log.error({ err }, 'mailbox ack failed'),
        );
        return;
      }
      default:
        countDrop(this.ctx, 'unexpected_control', msg.type);
    }
  }

  /** A verified keepalive or registration: the source is online at the address it came from (NAT binding). */
  private touch(identityKey: Uint8Array, mailbox: Uint8Array, peer: Peer, timeMs: number): void {
    const key = hex(mailbox);
    let s = this.sessions.get(key);
    if (!s) {
      s = {
        identityKey,
        x25519: this.ctx.crypto.ed25519PublicToX25519(identityKey),
        mailbox,
        peer,
        lastSeenMs: 0,
        lastTimeMs: 0,
        inFlight: new Map(),
        nextSlotMs: 0,
      };
      this.sessions.set(key, s);
    }
    if (peerKey(s.peer) !== peerKey(peer)) s.inFlight.clear();
    s.peer = peer;
    s.lastSeenMs = this.ctx.now();
    s.lastTimeMs = Math.max(s.lastTimeMs, timeMs);
    this.flush(s);
  }
}

function encodeKeys(d: NodeDescriptor): string {
  return d.mixKeys.map((k) => `${k.epoch}:${hex(k.publicKey)}`).join(',');
}
