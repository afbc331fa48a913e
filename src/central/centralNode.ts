import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { boxControl, type SourceControl } from '../node/boxedControl.js';
import type { TimerHandle } from '../node/clock.js';
import { countDrop, type NodeContext } from '../node/context.js';
import { decodeControlOrCount } from '../node/controlInbox.js';
import { type Delivery, sealDelivery } from '../node/deliveryFrame.js';
import type { Directory, NetworkParams } from '../node/directory.js';
import { HopLimits } from '../node/hopLimits.js';
import { hex, mailboxIdOf } from '../node/ids.js';
import { DIRECTORY_FRAME_BYTES, FRESHNESS_MS } from '../node/limits.js';
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
import { DirectoryPublisher } from './directoryPublisher.js';
import { type AdmissionPolicy, OPEN_POLICY, ProxyAdmission } from './proxyAdmission.js';
import { Registration, validIdentityKey } from './registration.js';
import { type DeliveryHooks, decodeStoredEntry, encodeStoredEntry } from './storedEntry.js';

export interface CentralOptions {
  params: NetworkParams;
  advertise: string;
  /** A source is online while its last keepalive is younger than this. */
  sessionTimeoutMs: number;
  /** An unacknowledged delivery is sent again after this. */
  redeliverMs: number;
  /** Which proxies may be listed (default: any, with the default caps). */
  admission?: AdmissionPolicy;
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
  private readonly sessions = new Map<string, Session>();
  /** "IP:PORT" of every session's source: peers CS serves get their own control budget. */
  private readonly sessionPeers = new Set<string>();
  private readonly admission: ProxyAdmission;
  private readonly publisher: DirectoryPublisher;
  private readonly registration: Registration;
  private readonly limits: HopLimits;
  private publishedVersion = 0;
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
    this.geometry = packetGeometry(opts.params.packetSize, opts.params.maxHops);
    this.boxSecret = ctx.crypto.ed25519SeedToX25519(ctx.identity.seed);
    this.linkFrameBytes = sourceLinkFrameBytes(this.geometry.payloadBytes);
    mkdirSync(join(ctx.dataDir, 'keys'), { recursive: true, mode: 0o700 });
    this.ring = new MixKeyRing(ctx.crypto, join(ctx.dataDir, 'keys'), {
      epochMs: opts.params.epochSeconds * 1000,
      graceMs: opts.params.graceSeconds * 1000,
    });
    this.mailboxes = stores.mailboxes;
    this.accounts = stores.accounts;
    this.replay = stores.replay;
    const now = ctx.now();
    const staleAfterMs = Math.max(3 * opts.params.epochSeconds * 1000, 60_000);
    this.admission = new ProxyAdmission(ctx.crypto, opts.admission ?? OPEN_POLICY, staleAfterMs, now);
    this.publisher = new DirectoryPublisher(
      ctx.crypto,
      ctx.identity.seed,
      (issuedAtMs) => this.directory(issuedAtMs),
      (t) => this.epochAt(t),
    );
    this.registration = new Registration(ctx.crypto);
    this.limits = new HopLimits(
      (peer) => this.admission.isListedAddress(peer),
      now,
      (peer) => this.sessionPeers.has(peer),
    );
  }

  private epochAt(nowMs: number): number {
    return epochAt({ epochMs: this.opts.params.epochSeconds * 1000, graceMs: 0 }, nowMs);
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
    this.admission.expire(now);
    this.republishIfChanged();
    this.ctx.metrics.mailboxEntries.set(this.mailboxes.durableCount());
    for (const [k, s] of this.sessions) {
      // Forget sessions long offline: the table must not grow with every identity that ever registered.
      // Only after the keepalive freshness window, so a forgotten session's old keepalive is stale.
      const forgetAfter = Math.max(SESSION_FORGET_FACTOR * this.opts.sessionTimeoutMs, 2 * FRESHNESS_MS);
      if (now - s.lastSeenMs > forgetAfter) {
        this.sessions.delete(k);
        this.sessionPeers.delete(peerKey(s.peer));
      } else this.flush(s);
    }
  }

  /** The directory as CS would sign it at `issuedAtMs` (default now). */
  directory(issuedAtMs = this.ctx.now()): Directory {
    return {
      issuedAtMs,
      epoch: this.epochAt(issuedAtMs),
      params: this.opts.params,
      central: {
        identityKey: this.ctx.identity.publicKey,
        address: this.opts.advertise,
        mixKeys: this.ring.published(issuedAtMs),
        timestampMs: issuedAtMs,
      },
      proxies: this.admission.listed(),
    };
  }

  private republishIfChanged(): void {
    if (this.admission.version === this.publishedVersion) return;
    this.publishedVersion = this.admission.version;
    this.publisher.invalidate();
  }

  status(): Record<string, unknown> {
    return {
      role: 'central',
      identityKey: hex(this.ctx.identity.publicKey),
      proxies: this.admission.size,
      directoryPages: this.publisher.pageCount(this.ctx.now()),
      onlineSources: [...this.sessions.values()].filter((s) => this.online(s)).length,
      mailboxEntries: this.mailboxes.durableCount(),
      epoch: epochAt({ epochMs: this.opts.params.epochSeconds * 1000, graceMs: 0 }, this.ctx.now()),
      params: this.opts.params,
    };
  }

  onDatagram(bytes: Uint8Array, from: Peer): void {
    const frame = bytes[0];
    if (!this.limits.allow(frame, peerKey(from), this.ctx.now())) return countDrop(this.ctx, 'rate_limited');
    if (frame === FRAME_SPHINX) this.onSphinx(bytes);
    else if (frame === FRAME_CONTROL || frame === FRAME_PADDED) {
      const msg = decodeControlOrCount(this.ctx, bytes);
      if (msg) this.onControl(msg, from, bytes.length);
    } else countDrop(this.ctx, 'bad_frame');
  }

  private send(to: Peer, msg: ControlMessage): void {
    this.ctx.metrics.packetsOut.inc({ kind: msg.type });
    this.ctx.transport.send(to, encodeControl(msg));
  }

  /**
   * To a source: boxed by CS's key (F13: nobody who merely spoofs CS's address
   * can forge it) and padded to the link size, like everything on that link.
   */
  private sendToSource(to: Peer, sourceX25519: Uint8Array, msg: SourceControl, replyTo: number): void {
    this.ctx.metrics.packetsOut.inc({ kind: msg.type });
    const boxed = boxControl(
      this.ctx.crypto,
      { peerPublicKey: sourceX25519, secretKey: this.boxSecret },
      msg,
      replyTo,
      systemRng(this.ctx.crypto),
    );
    this.ctx.transport.send(to, padControl(encodeControl(boxed), this.linkFrameBytes));
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

  /**
   * Control messages. Nothing unauthenticated gets more bytes back than it
   * sent (issue 10): whatever CS answers on the source link is link-sized, so
   * those requests must be link-sized too, and a directory page is never larger
   * than the padded request for it. Everything else is answered smaller.
   */
  private onControl(msg: ControlMessage, from: Peer, size: number): void {
    const crypto = this.ctx.crypto;
    const now = this.ctx.now();
    const peer = peerKey(from);
    switch (msg.type) {
      case 'dirRequest': {
        if (size < DIRECTORY_FRAME_BYTES) return countDrop(this.ctx, 'short_request', msg.type);
        const page = this.publisher.page(msg.page, msg.issuedAtMs, now);
        if (!page) return countDrop(this.ctx, 'control_bad_field', `no directory page ${msg.page}`);
        this.send(from, { type: 'dirResponse', document: page.document, signature: page.signature });
        return;
      }
      case 'descriptor': {
        const out = this.admission.onDescriptor(msg.descriptor, msg.signature, now);
        if ('drop' in out) return countDrop(this.ctx, out.drop, out.detail);
        if ('probe' in out) {
          this.send(out.probe.to, { type: 'probe', nonce: out.probe.nonce });
          return;
        }
        this.republishIfChanged();
        this.send(from, { type: 'descriptorAck', ok: true });
        return;
      }
      case 'probeReply': {
        const refused = this.admission.onProbeReply(msg.nonce, from, now);
        if (refused) return countDrop(this.ctx, refused);
        this.republishIfChanged();
        return;
      }
      case 'hello': {
        if (size < this.linkFrameBytes) return countDrop(this.ctx, 'short_request', msg.type);
        if (!validIdentityKey(crypto, msg.identityKey)) return countDrop(this.ctx, 'bad_identity_key', msg.type);
        // Stateless (F6): the challenge is a MAC over key, address and time; nothing is stored.
        const nonce = this.registration.challenge(msg.identityKey, peer, now);
        this.sendToSource(from, crypto.ed25519PublicToX25519(msg.identityKey), { type: 'challenge', nonce }, 0);
        return;
      }
      case 'register': {
        if (size < this.linkFrameBytes) return countDrop(this.ctx, 'short_request', msg.type);
        if (!validIdentityKey(crypto, msg.identityKey)) return countDrop(this.ctx, 'bad_identity_key', msg.type);
        if (!this.registration.checkChallenge(msg.identityKey, peer, msg.nonce, now)) {
          return countDrop(this.ctx, 'bad_challenge');
        }
        if (!this.signedBySource(msg.identityKey, msg.signature, 'register', msg.nonce, msg.identityKey)) {
          return countDrop(this.ctx, 'bad_signature', 'register');
        }
        const mailbox = mailboxIdOf(crypto, msg.identityKey);
        const x25519 = crypto.ed25519PublicToX25519(msg.identityKey);
        const cookie = this.registration.cookie(msg.identityKey, peer);
        this.accounts.add(mailbox, msg.identityKey).then(
          () => this.sendToSource(from, x25519, { type: 'registered', mailbox, cookie }, 0),
          (err) => this.ctx.log.error({ err }, 'account write failed'),
        );
        this.touch(msg.identityKey, mailbox, from, 0);
        return;
      }
      case 'keepalive': {
        if (size < this.linkFrameBytes) return countDrop(this.ctx, 'short_request', msg.type);
        if (!this.fresh(msg.timeMs)) return countDrop(this.ctx, 'stale', 'keepalive');
        const mailbox = mailboxIdOf(crypto, msg.identityKey);
        const s = this.sessions.get(hex(mailbox));
        // A session's key was checked when it began; a new one's is checked before anything is derived from it (F7).
        if (!s && !validIdentityKey(crypto, msg.identityKey)) return countDrop(this.ctx, 'bad_identity_key', msg.type);
        if (
          !this.signedBySource(msg.identityKey, msg.signature, 'keepalive', msg.identityKey, msg.timeMs, msg.cookie)
        ) {
          return countDrop(this.ctx, 'bad_signature', 'keepalive');
        }
        if (s && msg.timeMs <= s.lastTimeMs) return countDrop(this.ctx, 'stale', 'keepalive replay');
        const x25519 = s?.x25519 ?? crypto.ed25519PublicToX25519(msg.identityKey);
        if (!this.accounts.has(mailbox)) {
          this.sendToSource(
            from,
            x25519,
            { type: 'error', code: 'not_registered', text: 'register first' },
            msg.timeMs,
          );
          return;
        }
        // F13: a session moves only to an address whose cookie the source signed. A keepalive
        // forwarded from elsewhere carries the cookie of the source's own address and moves nothing;
        // a source whose NAT binding changed gets the cookie of its new address and signs it next.
        if (!this.registration.checkCookie(msg.identityKey, peer, msg.cookie)) {
          countDrop(this.ctx, 'bad_cookie');
          const cookie = this.registration.cookie(msg.identityKey, peer);
          this.sendToSource(from, x25519, { type: 'cookie', cookie }, msg.timeMs);
          return;
        }
        this.touch(msg.identityKey, mailbox, from, msg.timeMs);
        return;
      }
      case 'ack': {
        if (size < this.linkFrameBytes) return countDrop(this.ctx, 'short_request', msg.type);
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
    this.sessionPeers.delete(peerKey(s.peer));
    this.sessionPeers.add(peerKey(peer));
    s.peer = peer;
    s.lastSeenMs = this.ctx.now();
    s.lastTimeMs = Math.max(s.lastTimeMs, timeMs);
    this.flush(s);
  }
}
