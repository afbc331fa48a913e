import { LONG_DELAY_FACTOR, LONG_DELAY_QUEUE_SHARE, QUEUE_SHARE_PER_PREVIOUS_HOP } from '../node/limits.js';
import { InvalidArgument } from '../scramble/errors.js';

export type AdmissionRefusal = 'hop_queue_share' | 'long_delay_share';

/**
 * Who may hold how much of a proxy's delay queue (issue 10, F9). Without it a
 * stranger sending ~2,000 valid packets per second that ask for 5 s delays
 * keeps a 10,000-slot queue full and every honest packet is dropped. So:
 *
 * - one previous hop (IP:PORT) may hold at most QUEUE_SHARE_PER_PREVIOUS_HOP of
 *   the queue;
 * - packets asking for more than LONG_DELAY_FACTOR × the mean delay (rare for
 *   honest senders, whose delays are exponential) may hold at most
 *   LONG_DELAY_QUEUE_SHARE of it together: the rest stays free for short ones.
 *
 * Packets the proxy makes itself (fan-out copies, mix loops) have no previous
 * hop and only count against the queue's own capacity.
 */
export class QueueAdmission {
  private readonly heldByHop = new Map<string, number>();
  private longHeld = 0;
  readonly perHopCap: number;
  readonly longCap: number;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new InvalidArgument(`queue capacity must be a positive integer, got ${capacity}`);
    }
    this.perHopCap = Math.max(1, Math.floor(capacity * QUEUE_SHARE_PER_PREVIOUS_HOP));
    this.longCap = Math.max(1, Math.floor(capacity * LONG_DELAY_QUEUE_SHARE));
  }

  /** Whether `delayMs` counts as long under a directory mean of `meanDelayMs`. */
  static isLong(delayMs: number, meanDelayMs: number): boolean {
    return delayMs > Math.max(1, LONG_DELAY_FACTOR * meanDelayMs);
  }

  /** Admits (and records) a packet from `hop`, or says why not. Call `release` when it leaves. */
  admit(hop: string, long: boolean): AdmissionRefusal | null {
    const held = this.heldByHop.get(hop) ?? 0;
    if (held >= this.perHopCap) return 'hop_queue_share';
    if (long && this.longHeld >= this.longCap) return 'long_delay_share';
    this.heldByHop.set(hop, held + 1);
    if (long) this.longHeld++;
    return null;
  }

  /** A packet admitted from `hop` left the queue (sent, or dropped after admission). */
  release(hop: string, long: boolean): void {
    const held = this.heldByHop.get(hop) ?? 0;
    if (held <= 1) this.heldByHop.delete(hop);
    else this.heldByHop.set(hop, held - 1);
    if (long && this.longHeld > 0) this.longHeld--;
  }

  /** Previous hops with packets held now (at most the queue's capacity). */
  hops(): number {
    return this.heldByHop.size;
  }

  heldFrom(hop: string): number {
    return this.heldByHop.get(hop) ?? 0;
  }
}
