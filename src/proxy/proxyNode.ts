import { join } from 'node:path';
import { DelayQueue } from '../node/boundedQueue.js';
import type { TimerHandle } from '../node/clock.js';
import { countDrop, type NodeContext } from '../node/context.js';
import { decodeControlOrCount } from '../node/controlInbox.js';
import { encodeDescriptor, type IndexedDirectory, signDocument } from '../node/directory.js';
import type { DirectoryFetcher } from '../node/directoryFetcher.js';
import { HopLimits } from '../node/hopLimits.js';
import { hex, nodeIdOf } from '../node/ids.js';
import { keyExpiryMs, MixKeyRing } from '../node/mixKeys.js';
import { currentEpoch, NoRoute, pickProxies, poissonGapMs, routedPacket } from '../node/routes.js';
import { unwrapOrCount } from '../node/sphinxInbox.js';
import { type Peer, parsePeer, peerKey } from '../node/transport.js';
import { encodeControl, FRAME_CONTROL, FRAME_SPHINX } from '../node/wire.js';
import { type PacketGeometry, packetGeometry } from '../scramble/geometry.js';
import type { ReplayCache } from '../scramble/replayCache.js';
import { systemRng } from '../scramble/rng.js';
import type { FanoutHandler, FanoutHost } from './fanoutHandler.js';
import { QueueAdmission } from './queueAdmission.js';

export interface ProxyOptions {
  advertise: string;
  central: Peer;
  queueCapacity: number;
  /** How often the signed descriptor is uploaded to CS. */
  descriptorIntervalMs: number;
}

interface Held {
  packet: Uint8Array;
  to: Peer;
  epoch: number;
  /** The previous hop it came from (null for packets this proxy made) and whether its delay was long. */
  hop: string | null;
  long: boolean;
}

/**
 * A Poisson mix (Loopix): unwrap one layer, check the replay tag for that key
 * epoch, hold the packet for the sender-chosen delay, forward. It learns only
 * its predecessor and successor; the delay decorrelates the two in time.
 */
export class ProxyNode {
  private ring: MixKeyRing | null = null;
  geometry: PacketGeometry | null = null;
  private readonly queue: DelayQueue<Held>;
  private timer: TimerHandle | null = null;
  private timerDue = Number.POSITIVE_INFINITY;
  private immediate: TimerHandle | null = null;
  private timers: TimerHandle[] = [];
  private readonly fanout: FanoutHandler | null;
  private readonly admission: QueueAdmission;
  private readonly limits: HopLimits;
  /** "IP:PORT" of every node in the current directory: they get a mix's rate budget. */
  private directoryNodes = new Set<string>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly replay: ReplayCache,
    private readonly directory: DirectoryFetcher,
    private readonly opts: ProxyOptions,
    /** P2's fan-out (from the group layer), built on this mix's geometry, directory and delay queue. */
    makeFanout?: (host: FanoutHost) => FanoutHandler,
  ) {
    this.queue = new DelayQueue<Held>(opts.queueCapacity);
    this.fanout =
      makeFanout?.({
        geometry: () => this.geometry,
        directory: (): IndexedDirectory | null => this.directory.current(),
        enqueue: (packet, to, due) => this.enqueueOwn(packet, to, due),
      }) ?? null;
    this.admission = new QueueAdmission(opts.queueCapacity);
    this.limits = new HopLimits((peer) => this.directoryNodes.has(peer), ctx.now());
    directory.onUpdate((d) => {
      this.directoryNodes = directoryAddresses(d);
    });
  }

  /** Waits for the first directory (network parameters), then serves. */
  async start(): Promise<void> {
    const dir = await this.directory.ready();
    this.geometry = packetGeometry(dir.params.packetSize, dir.params.maxHops);
    this.ring = new MixKeyRing(this.ctx.crypto, join(this.ctx.dataDir, 'keys'), {
      epochMs: dir.params.epochSeconds * 1000,
      graceMs: dir.params.graceSeconds * 1000,
    });
    this.tick();
    this.timers.push(this.ctx.clock.setInterval(() => this.tick(), 1000));
    this.uploadDescriptor();
    this.timers.push(this.ctx.clock.setInterval(() => this.uploadDescriptor(), this.opts.descriptorIntervalMs));
    this.scheduleMixLoop();
  }

  /**
   * Mix loops (Loopix): this proxy sends itself packets through two other
   * mixes as a Poisson process, so its output never falls silent and an
   * (n−1)-style attack that blocks its inputs shows up as missing loops.
   */
  private scheduleMixLoop(): void {
    const rate = this.directory.current()?.params.mixLoopPerSecond ?? 0;
    const gap = rate > 0 ? poissonGapMs(this.ctx.crypto, rate) : 5000;
    const t = this.ctx.clock.setTimeout(() => {
      this.timers = this.timers.filter((x) => x !== t);
      // A loop that cannot be built must not end the loop schedule (or the process).
      if (rate > 0) this.sendMixLoop();
      if (this.ring) this.scheduleMixLoop();
    }, gap);
    this.timers.push(t);
  }

  private sendMixLoop(): void {
    const dir = this.directory.current();
    if (!dir || !this.geometry) return;
    const self = dir.byId.get(hex(nodeIdOf(this.ctx.crypto, this.ctx.identity.publicKey)));
    if (!self) return;
    try {
      const epoch = currentEpoch(dir, this.ctx.now());
      const mixes = pickProxies(this.ctx.crypto, dir, 2, epoch);
      const rng = systemRng(this.ctx.crypto);
      const { packet, to } = routedPacket(
        this.ctx.crypto,
        this.geometry,
        dir,
        mixes,
        self,
        { kind: 'drop' },
        new Uint8Array(0),
        epoch,
        rng,
      );
      this.ctx.metrics.packetsOut.inc({ kind: 'sphinx' });
      this.ctx.transport.send(to, packet);
    } catch (err) {
      if (!(err instanceof NoRoute)) throw err;
    }
  }

  stop(): void {
    // One-shot and interval handles alike: a clock cancels either with either call.
    for (const t of this.timers) this.ctx.clock.clearTimeout(t);
    this.timers = [];
    this.ctx.clock.clearTimeout(this.timer);
    this.ctx.clock.clearTimeout(this.immediate);
  }

  private tick(): void {
    if (!this.ring) return;
    const now = this.ctx.now();
    const erased = this.ring.refresh(now);
    if (erased.length) {
      const held = this.ring.candidates(now).map((k) => k.epoch);
      this.replay.dropBefore(Math.min(...held));
      this.uploadDescriptor();
      this.ctx.log.info({ erased }, 'erased expired mix keys');
    }
  }

  private uploadDescriptor(): void {
    if (!this.ring) return;
    const descriptor = encodeDescriptor({
      identityKey: this.ctx.identity.publicKey,
      address: this.opts.advertise,
      mixKeys: this.ring.published(this.ctx.now()),
      timestampMs: this.ctx.now(),
    });
    const signature = signDocument(this.ctx.crypto, 'descriptor', this.ctx.identity.seed, descriptor);
    this.ctx.transport.send(this.opts.central, encodeControl({ type: 'descriptor', descriptor, signature }));
  }

  status(): Record<string, unknown> {
    return {
      role: 'proxy',
      identityKey: hex(this.ctx.identity.publicKey),
      queueDepth: this.queue.length,
      replayTags: this.replay.size(),
      ready: this.ring !== null,
    };
  }

  onDatagram(bytes: Uint8Array, from: Peer): void {
    if (!this.limits.allow(bytes[0], peerKey(from), this.ctx.now())) return countDrop(this.ctx, 'rate_limited');
    if (bytes[0] === FRAME_CONTROL) {
      const msg = decodeControlOrCount(this.ctx, bytes);
      if (msg?.type === 'dirResponse') this.directory.offer(msg, from);
      else if (msg?.type === 'probe') this.answerProbe(msg.nonce, from);
      else if (msg && msg.type !== 'descriptorAck') countDrop(this.ctx, 'unexpected_control', msg.type);
      return;
    }
    if (bytes[0] !== FRAME_SPHINX) return countDrop(this.ctx, 'bad_frame');
    this.onSphinx(bytes, from);
  }

  /**
   * CS checks that our advertised address answers before it lists us: the
   * nonce it sent there goes back to CS, from this socket (the same size, so a
   * spoofed probe cannot make us amplify anything towards CS).
   */
  private answerProbe(nonce: Uint8Array, from: Peer): void {
    if (peerKey(from) !== peerKey(this.opts.central)) return countDrop(this.ctx, 'not_from_central', 'probe');
    this.ctx.metrics.packetsOut.inc({ kind: 'probeReply' });
    this.ctx.transport.send(this.opts.central, encodeControl({ type: 'probeReply', nonce }));
  }

  private onSphinx(bytes: Uint8Array, from: Peer): void {
    this.ctx.metrics.packetsIn.inc({ kind: 'sphinx' });
    if (!this.ring || !this.geometry) return countDrop(this.ctx, 'not_ready');
    const now = this.ctx.now();
    const unwrapped = unwrapOrCount(this.ctx, this.geometry, this.ring, this.replay, bytes);
    if (!unwrapped) return;
    const r = unwrapped.result;
    switch (r.kind) {
      case 'forward': {
        const dir = this.directory.current();
        const params = dir?.params;
        if (!dir || !params) return countDrop(this.ctx, 'not_ready');
        if (r.delayMs > params.maxDelayMs) return countDrop(this.ctx, 'over_cap', `${r.delayMs} ms`);
        const due = now + r.delayMs;
        // The whole route was built with keys of one epoch: past that key's
        // grace window the next hop has erased its key and would drop it anyway.
        if (
          due >=
          keyExpiryMs({ epochMs: params.epochSeconds * 1000, graceMs: params.graceSeconds * 1000 }, unwrapped.epoch)
        ) {
          return countDrop(this.ctx, 'late');
        }
        const next = dir.byId.get(hex(r.next));
        const to = next ? parsePeer(next.address) : null;
        if (!to) return countDrop(this.ctx, 'unknown_next_hop');
        const hop = peerKey(from);
        const long = QueueAdmission.isLong(r.delayMs, params.meanDelayMs);
        const refused = this.admission.admit(hop, long);
        if (refused) return countDrop(this.ctx, refused);
        if (!this.queue.push({ packet: r.packet, to, epoch: unwrapped.epoch, hop, long }, due)) {
          this.admission.release(hop, long);
          return countDrop(this.ctx, 'queue_full');
        }
        this.ctx.metrics.delayMs.observe(r.delayMs);
        this.ctx.metrics.queueDepth.set(this.queue.length);
        this.schedule(due);
        return;
      }
      case 'fanout':
        if (!this.fanout) return countDrop(this.ctx, 'fanout_unsupported');
        this.fanout.handle(r.body);
        return;
      case 'drop':
        this.ctx.metrics.packetsIn.inc({ kind: 'loop_return' });
        return;
      default:
        // deliver / deliverToken / surbReply are for CS only.
        countDrop(this.ctx, 'bad_role', r.kind);
    }
  }

  /** Queues a packet this node built itself (fan-out copies, mix loops). */
  enqueueOwn(packet: Uint8Array, to: Peer, dueMs: number): boolean {
    if (!this.queue.push({ packet, to, epoch: -1, hop: null, long: false }, dueMs)) {
      countDrop(this.ctx, 'queue_full');
      return false;
    }
    this.ctx.metrics.queueDepth.set(this.queue.length);
    this.schedule(dueMs);
    return true;
  }

  private schedule(due: number): void {
    // Zero-delay packets still leave in queue order, but within this turn of
    // the event loop rather than after a >= 1 ms timer.
    if (due <= this.ctx.now()) {
      if (!this.immediate) this.immediate = this.ctx.clock.setTimeout(() => this.release(), 0);
      return;
    }
    if (due >= this.timerDue) return;
    this.ctx.clock.clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = this.ctx.clock.setTimeout(() => this.release(), Math.max(0, due - this.ctx.now()));
  }

  private release(): void {
    this.ctx.clock.clearTimeout(this.immediate);
    this.immediate = null;
    this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Number.POSITIVE_INFINITY;
    for (const h of this.queue.popDue(this.ctx.now())) {
      if (h.hop !== null) this.admission.release(h.hop, h.long);
      this.ctx.metrics.packetsOut.inc({ kind: 'sphinx' });
      this.ctx.transport.send(h.to, h.packet);
    }
    this.ctx.metrics.queueDepth.set(this.queue.length);
    const next = this.queue.nextDueMs();
    if (next !== undefined) this.schedule(next);
  }
}

/** The "IP:PORT" of CS and every proxy a directory lists. */
function directoryAddresses(d: IndexedDirectory): Set<string> {
  const out = new Set<string>();
  for (const n of [d.central, ...d.proxies]) {
    const p = parsePeer(n.address);
    if (p) out.add(peerKey(p));
  }
  return out;
}
