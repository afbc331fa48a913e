import { MalformedMessage } from '../node/codec.js';
import { countDrop, type NodeContext } from '../node/context.js';
import type { IndexedDirectory } from '../node/directory.js';
import { hex, mailboxIdOf, nodeIdOf } from '../node/ids.js';
import { buildRoute, currentEpoch, pickProxies, routedPacket } from '../node/routes.js';
import type { Peer } from '../node/transport.js';
import { parsePeer } from '../node/transport.js';
import { MalformedPacket } from '../scramble/errors.js';
import type { PacketGeometry } from '../scramble/geometry.js';
import { systemRng } from '../scramble/rng.js';
import { SEAL_OVERHEAD, seal } from '../scramble/sealedBox.js';
import {
  createSurb,
  decodeSurb,
  encodeSurb,
  openSurbReply,
  type SurbSecret,
  surbBytes,
  useSurb,
} from '../scramble/surb.js';
import {
  decodeAck,
  decodeFragment,
  encodeAck,
  encodeFragment,
  FRAGMENT_HEADER_BYTES,
  type Fragment,
  MAX_FRAGMENTS,
  MSG_ID_BYTES,
} from './envelope.js';
import { frameSealed } from './frames.js';

export interface DirectChannelDeps {
  ctx: NodeContext;
  geometry: () => PacketGeometry;
  directory: () => IndexedDirectory;
  selfMailbox: Uint8Array;
  send: (packet: Uint8Array, to: Peer) => void;
  /** Mixes on the way to CS (P1..Pk). */
  mixHops: number;
  /** A complete direct message (a sealed blob: invite, rekey or datagram). */
  onMessage: (blob: Uint8Array) => void;
  /** A reliable message was acknowledged in full, or given up on. */
  onOutcome?: (msgId: string, outcome: 'acked' | 'failed') => void;
}

interface Outstanding {
  msgId: string;
  target: Uint8Array;
  fragment: Omit<Fragment, 'surb'>;
  attempts: number;
  nextAtMs: number;
  rtoMs: number;
}

interface Reassembly {
  count: number;
  chunks: Map<number, Uint8Array>;
  firstAtMs: number;
}

const MAX_ATTEMPTS = 6;
const MAX_REASSEMBLIES = 256;
const REASSEMBLY_TTL_MS = 10 * 60_000;
const MAX_SURB_SECRETS = 4096;
const DONE_MEMORY = 4096;

/**
 * Direct (unicast) messages to one member's mailbox: split into fragments that
 * each fit one packet, each sealed to the recipient. Reliable messages carry
 * a SURB per fragment; the recipient answers through it, so the sender learns
 * of delivery while the recipient still does not learn who sent it. Fragments
 * not acknowledged in time are sent again (fresh packet, fresh SURB) with
 * exponential backoff.
 */
export class DirectChannel {
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly surbSecrets = new Map<string, { secret: SurbSecret; key: string; expiresMs: number }>();
  private readonly reassembly = new Map<string, Reassembly>();
  private readonly done = new Set<string>();
  private readonly doneOrder: string[] = [];
  private readonly remaining = new Map<string, number>();
  readonly stats = { fragmentsSent: 0, retransmissions: 0, acksSent: 0, acksReceived: 0, failed: 0 };

  constructor(private readonly deps: DirectChannelDeps) {}

  /** Largest chunk one fragment can carry. */
  chunkBytes(reliable: boolean): number {
    const g = this.deps.geometry();
    return g.bodyBytes - 2 - SEAL_OVERHEAD - FRAGMENT_HEADER_BYTES - (reliable ? surbBytes(g) : 0);
  }

  maxMessageBytes(reliable: boolean): number {
    return this.chunkBytes(reliable) * MAX_FRAGMENTS;
  }

  /** Sends `blob` to the mailbox of `target` (an identity key). Returns the message id (hex). */
  send(
    target: Uint8Array,
    blob: Uint8Array,
    reliable: boolean,
  ): { msgId: string; fragments: number; delays: number[] } {
    const per = this.chunkBytes(reliable);
    const count = Math.max(1, Math.ceil(blob.length / per));
    if (count > MAX_FRAGMENTS) {
      throw new RangeError(`message is ${blob.length} bytes; at most ${this.maxMessageBytes(reliable)} fit`);
    }
    const idBytes = this.deps.ctx.crypto.randomBytes(MSG_ID_BYTES);
    const msgId = hex(idBytes);
    const delays: number[] = [];
    if (reliable) this.remaining.set(msgId, count);
    for (let index = 0; index < count; index++) {
      const fragment = { msgId: idBytes, index, count, chunk: blob.subarray(index * per, (index + 1) * per) };
      delays.push(...this.sendFragment(target, fragment, reliable));
      if (reliable) {
        const rtoMs = this.initialRto();
        this.outstanding.set(`${msgId}:${index}`, {
          msgId,
          target,
          fragment,
          attempts: 1,
          nextAtMs: this.deps.ctx.now() + rtoMs,
          rtoMs,
        });
      }
    }
    return { msgId, fragments: count, delays };
  }

  /** Round trip: out over mixHops+1 links, back over 3, each with a mean delay; generous. */
  private initialRto(): number {
    const mean = this.deps.directory().params.meanDelayMs;
    return Math.max(1500, 4 * mean * (this.deps.mixHops + 4));
  }

  private sendFragment(target: Uint8Array, f: Omit<Fragment, 'surb'>, reliable: boolean): number[] {
    const { ctx } = this.deps;
    const dir = this.deps.directory();
    const geometry = this.deps.geometry();
    const rng = systemRng(ctx.crypto);
    const epoch = currentEpoch(dir, ctx.now());
    let surb: Uint8Array | null = null;
    if (reliable) {
      const surbId = ctx.crypto.randomBytes(16);
      const back = pickProxies(ctx.crypto, dir, 2, epoch);
      const { route, firstHop } = buildRoute(
        ctx.crypto,
        dir,
        back,
        dir.central,
        { kind: 'surbReply', mailbox: this.deps.selfMailbox, surbId },
        epoch,
      );
      const made = createSurb(ctx.crypto, geometry, nodeIdOf(ctx.crypto, firstHop.identityKey), route, rng);
      surb = encodeSurb(made.surb);
      this.rememberSurb(hex(surbId), made.secret, `${hex(f.msgId)}:${f.index}`);
    }
    const envelope = encodeFragment({ ...f, surb });
    const targetX = ctx.crypto.ed25519PublicToX25519(target);
    const body = frameSealed(seal(ctx.crypto, targetX, envelope, rng));
    const mixes = pickProxies(ctx.crypto, dir, this.deps.mixHops, epoch);
    const { packet, to, delays } = routedPacket(
      ctx.crypto,
      geometry,
      dir,
      mixes,
      dir.central,
      { kind: 'deliver', mailbox: mailboxIdOf(ctx.crypto, target) },
      body,
      epoch,
      rng,
    );
    this.stats.fragmentsSent++;
    this.deps.send(packet, to);
    return delays;
  }

  private rememberSurb(surbIdHex: string, secret: SurbSecret, key: string): void {
    if (this.surbSecrets.size >= MAX_SURB_SECRETS) {
      const oldest = this.surbSecrets.keys().next().value as string;
      this.surbSecrets.delete(oldest);
    }
    this.surbSecrets.set(surbIdHex, { secret, key, expiresMs: this.deps.ctx.now() + 30 * 60_000 });
  }

  /** Retransmits what is overdue; gives up after MAX_ATTEMPTS. */
  tick(): void {
    const now = this.deps.ctx.now();
    for (const [key, o] of this.outstanding) {
      if (o.nextAtMs > now) continue;
      if (o.attempts >= MAX_ATTEMPTS) {
        this.outstanding.delete(key);
        if (this.remaining.delete(o.msgId)) {
          this.stats.failed++;
          this.deps.ctx.log.warn({ msgId: o.msgId }, 'direct message not acknowledged; giving up');
          this.deps.onOutcome?.(o.msgId, 'failed');
        }
        continue;
      }
      o.attempts++;
      o.rtoMs *= 2;
      o.nextAtMs = now + o.rtoMs;
      this.stats.retransmissions++;
      try {
        this.sendFragment(o.target, o.fragment, true);
      } catch (err) {
        this.deps.ctx.log.warn({ err }, 'retransmission failed');
      }
    }
    for (const [id, r] of this.reassembly) if (now - r.firstAtMs > REASSEMBLY_TTL_MS) this.reassembly.delete(id);
    for (const [id, s] of this.surbSecrets) if (s.expiresMs < now) this.surbSecrets.delete(id);
  }

  /** A delivery for our mailbox opened with our key: a fragment. */
  onEnvelope(plain: Uint8Array): void {
    let f: Fragment;
    try {
      f = decodeFragment(plain);
    } catch (err) {
      if (err instanceof MalformedMessage) return countDrop(this.deps.ctx, 'bad_envelope', err.message);
      throw err;
    }
    // Acknowledge every copy: an earlier ack may have been lost, and each copy has a fresh SURB.
    if (f.surb) this.ack(f);
    const id = hex(f.msgId);
    if (this.done.has(id)) return;
    let r = this.reassembly.get(id);
    if (!r) {
      if (this.reassembly.size >= MAX_REASSEMBLIES) {
        // Evict the oldest unfinished message rather than refuse new ones: anyone who knows our
        // address can send first fragments that never complete, and must not block our mail.
        const oldest = this.reassembly.keys().next().value as string;
        this.reassembly.delete(oldest);
        countDrop(this.deps.ctx, 'reassembly_evicted');
      }
      r = { count: f.count, chunks: new Map(), firstAtMs: this.deps.ctx.now() };
      this.reassembly.set(id, r);
    }
    if (r.count !== f.count) return countDrop(this.deps.ctx, 'bad_envelope', 'fragment count changed');
    r.chunks.set(f.index, f.chunk);
    if (r.chunks.size < r.count) return;
    this.reassembly.delete(id);
    this.done.add(id);
    this.doneOrder.push(id);
    if (this.doneOrder.length > DONE_MEMORY) this.done.delete(this.doneOrder.shift() as string);
    const total = [...r.chunks.values()].reduce((n, c) => n + c.length, 0);
    const blob = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < r.count; i++) {
      const c = r.chunks.get(i) as Uint8Array;
      blob.set(c, off);
      off += c.length;
    }
    this.deps.onMessage(blob);
  }

  private ack(f: Fragment): void {
    const { ctx } = this.deps;
    try {
      const surb = decodeSurb(this.deps.geometry(), f.surb as Uint8Array);
      const packet = useSurb(ctx.crypto, this.deps.geometry(), surb, encodeAck({ msgId: f.msgId, index: f.index }));
      const first = this.deps.directory().byId.get(hex(surb.firstHop));
      const to = first ? parsePeer(first.address) : null;
      if (!to) return countDrop(ctx, 'surb_unknown_first_hop');
      this.stats.acksSent++;
      this.deps.send(packet, to);
    } catch (err) {
      if (err instanceof MalformedPacket || err instanceof MalformedMessage) return countDrop(ctx, 'bad_surb');
      throw err;
    }
  }

  /** A SURB reply reached our mailbox: an acknowledgement of one fragment. Returns false if not ours. */
  onSurbReply(surbId: Uint8Array, payload: Uint8Array): boolean {
    const entry = this.surbSecrets.get(hex(surbId));
    if (!entry) return false;
    this.surbSecrets.delete(hex(surbId));
    let ack: { msgId: Uint8Array; index: number };
    try {
      ack = decodeAck(openSurbReply(this.deps.ctx.crypto, this.deps.geometry(), entry.secret, payload));
    } catch (err) {
      if (err instanceof MalformedPacket || err instanceof MalformedMessage) {
        countDrop(this.deps.ctx, 'bad_surb_reply');
        return true;
      }
      throw err;
    }
    const key = `${hex(ack.msgId)}:${ack.index}`;
    if (key !== entry.key) {
      countDrop(this.deps.ctx, 'bad_surb_reply', 'ack does not match its SURB');
      return true;
    }
    this.stats.acksReceived++;
    const o = this.outstanding.get(key);
    if (o) {
      this.outstanding.delete(key);
      // A message already reported (failed) stays reported: a late ack changes nothing.
      const left = this.remaining.get(o.msgId);
      if (left !== undefined && left <= 1) {
        this.remaining.delete(o.msgId);
        this.deps.onOutcome?.(o.msgId, 'acked');
      } else if (left !== undefined) this.remaining.set(o.msgId, left - 1);
    }
    return true;
  }

  pendingCount(): number {
    return this.outstanding.size;
  }
}
