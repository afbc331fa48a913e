import type { Clock, TimerHandle } from '../node/clock.js';
import { poissonGapMs } from '../node/routes.js';
import type { Peer } from '../node/transport.js';
import type { CryptoBackend } from '../scramble/crypto/backend.js';

/**
 * Loopix-style sending: packets leave as a Poisson process of rate λ. At each
 * event the oldest queued real packet goes out, or, if none waits, a drop
 * (cover) packet; loop packets that come back to us leave as an independent
 * Poisson process. An observer of S→P1 sees the same stream of fixed-size
 * packets whether or not the user is sending.
 */
export interface CoverOptions {
  lambdaPerSecond: number;
  loopPerSecond: number;
  queueCapacity: number;
  makeDrop: () => { packet: Uint8Array; to: Peer } | null;
  makeLoop: () => { packet: Uint8Array; to: Peer } | null;
  send: (packet: Uint8Array, to: Peer) => void;
  onQueueFull: () => void;
  /** A cover event threw (a bug: expected failures return null): report it; the schedule goes on. */
  onError?: (err: unknown) => void;
}

export class CoverTraffic {
  private readonly queue: Array<{ packet: Uint8Array; to: Peer }> = [];
  private timers: TimerHandle[] = [];
  private running = false;
  readonly stats = { real: 0, drop: 0, loop: 0, queueFull: 0 };

  constructor(
    private readonly crypto: CryptoBackend,
    private readonly clock: Clock,
    private readonly opts: CoverOptions,
  ) {}

  get active(): boolean {
    return this.opts.lambdaPerSecond > 0;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.opts.lambdaPerSecond > 0) this.schedule(this.opts.lambdaPerSecond, () => this.tick());
    if (this.opts.loopPerSecond > 0) this.schedule(this.opts.loopPerSecond, () => this.loop());
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers = [];
  }

  /** A real packet: sent at the next Poisson event (or at once when cover is off). */
  enqueue(packet: Uint8Array, to: Peer): boolean {
    if (!this.active) {
      this.stats.real++;
      this.opts.send(packet, to);
      return true;
    }
    if (this.queue.length >= this.opts.queueCapacity) {
      this.stats.queueFull++;
      this.opts.onQueueFull();
      return false;
    }
    this.queue.push({ packet, to });
    return true;
  }

  queued(): number {
    return this.queue.length;
  }

  private schedule(rate: number, fn: () => void): void {
    const t = this.clock.setTimeout(
      () => {
        this.timers = this.timers.filter((x) => x !== t);
        if (!this.running) return;
        // Schedule first: whatever one event does, the Poisson process must not stop (F1).
        this.schedule(rate, fn);
        try {
          fn();
        } catch (err) {
          if (!this.opts.onError) throw err;
          this.opts.onError(err);
        }
      },
      poissonGapMs(this.crypto, rate),
    );
    this.timers.push(t);
  }

  private tick(): void {
    const real = this.queue.shift();
    if (real) {
      this.stats.real++;
      this.opts.send(real.packet, real.to);
      return;
    }
    const drop = this.opts.makeDrop();
    if (drop) {
      this.stats.drop++;
      this.opts.send(drop.packet, drop.to);
    }
  }

  private loop(): void {
    const loop = this.opts.makeLoop();
    if (loop) {
      this.stats.loop++;
      this.opts.send(loop.packet, loop.to);
    }
  }
}
