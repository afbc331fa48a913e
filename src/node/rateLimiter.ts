import { InvalidArgument } from '../scramble/errors.js';
import { MAX_TRACKED_ADDRESSES, type RateLimit } from './limits.js';

/**
 * Token buckets per previous hop (issue 10): a stranger who sends faster than
 * any honest peer could has the excess dropped before it costs an X25519, a
 * signature check or a table entry. Pure: the caller passes the time.
 *
 * A bucket holds at most `burst` tokens and refills at `perSecond`; each
 * datagram takes one. Buckets are kept for the MAX_TRACKED_ADDRESSES most
 * recently seen addresses; an optional aggregate bucket over all addresses
 * bounds what a crowd (or a spoofer cycling through addresses) gets in total.
 */
export class TokenBucket {
  private tokens: number;
  private atMs: number;

  constructor(
    private readonly limit: RateLimit,
    nowMs: number,
  ) {
    checkLimit(limit);
    this.tokens = limit.burst;
    this.atMs = nowMs;
  }

  /** Tokens available now (refilled up to the burst). */
  available(nowMs: number): number {
    if (nowMs > this.atMs) {
      this.tokens = Math.min(this.limit.burst, this.tokens + ((nowMs - this.atMs) * this.limit.perSecond) / 1000);
      this.atMs = nowMs;
    }
    return this.tokens;
  }

  /** Takes `cost` tokens if there are that many; false (and nothing taken) otherwise. */
  take(nowMs: number, cost = 1): boolean {
    if (this.available(nowMs) < cost) return false;
    this.tokens -= cost;
    return true;
  }
}

export class PeerRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly total: TokenBucket | null;
  /** Datagrams refused, for status pages and tests. */
  refused = 0;

  constructor(
    private readonly perPeer: RateLimit,
    total: RateLimit | null,
    nowMs: number,
    private readonly maxTracked = MAX_TRACKED_ADDRESSES,
  ) {
    checkLimit(perPeer);
    if (!Number.isSafeInteger(maxTracked) || maxTracked < 1) {
      throw new InvalidArgument(`maxTracked must be a positive integer, got ${maxTracked}`);
    }
    this.total = total ? new TokenBucket(total, nowMs) : null;
  }

  /** Whether one more datagram from `peer` (an "IP:PORT" string) fits its budget; takes the tokens if so. */
  allow(peer: string, nowMs: number, cost = 1): boolean {
    let bucket = this.buckets.get(peer);
    if (bucket) {
      // Most recently seen last: the Map's first key is the one to forget when full.
      this.buckets.delete(peer);
    } else {
      if (this.buckets.size >= this.maxTracked) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
      }
      bucket = new TokenBucket(this.perPeer, nowMs);
    }
    this.buckets.set(peer, bucket);
    if (bucket.available(nowMs) < cost || (this.total && this.total.available(nowMs) < cost)) {
      this.refused++;
      return false;
    }
    bucket.take(nowMs, cost);
    this.total?.take(nowMs, cost);
    return true;
  }

  /** Addresses currently tracked (bounded by maxTracked). */
  tracked(): number {
    return this.buckets.size;
  }
}

function checkLimit(limit: RateLimit): void {
  if (!(limit.perSecond > 0) || !(limit.burst >= 1) || !Number.isFinite(limit.perSecond + limit.burst)) {
    throw new InvalidArgument(`rate limit needs perSecond > 0 and burst >= 1, got ${JSON.stringify(limit)}`);
  }
}
