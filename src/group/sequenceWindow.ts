/**
 * Per-sender anti-replay window (as in IPsec/DTLS): the highest sequence
 * number seen plus a bitmap of the WINDOW_BITS numbers below it. A copy that
 * CS or a proxy replays, or a message arriving twice through two fan-out
 * paths, is dropped; reordering within the window is tolerated because mix
 * delays reorder messages by design.
 */
export const WINDOW_BITS = 128;
const MASK = (1n << BigInt(WINDOW_BITS)) - 1n;

export interface SequenceWindow {
  /** Highest sequence number accepted so far. */
  readonly highest: number;
  /** Bit i set = sequence number (highest - i) was accepted; bit 0 is `highest` itself. */
  readonly bitmap: bigint;
}

export type WindowVerdict = 'fresh' | 'duplicate' | 'too_old';

export function checkWindow(w: SequenceWindow | undefined, seq: number): WindowVerdict {
  if (w === undefined || seq > w.highest) return 'fresh';
  const back = w.highest - seq;
  if (back >= WINDOW_BITS) return 'too_old';
  return (w.bitmap >> BigInt(back)) & 1n ? 'duplicate' : 'fresh';
}

/** Records `seq` (the caller checked it is fresh). Returns a new window. */
export function advanceWindow(w: SequenceWindow | undefined, seq: number): SequenceWindow {
  if (w === undefined) return { highest: seq, bitmap: 1n };
  if (seq > w.highest) {
    const shift = seq - w.highest;
    const bitmap = shift >= WINDOW_BITS ? 1n : ((w.bitmap << BigInt(shift)) | 1n) & MASK;
    return { highest: seq, bitmap };
  }
  return { highest: w.highest, bitmap: w.bitmap | (1n << BigInt(w.highest - seq)) };
}

/**
 * A window that accepts only numbers above `highest`: what a new member
 * starts from (from the inviter's view), so messages sent before it joined
 * cannot be replayed to it as new.
 */
export function floorWindow(highest: number): SequenceWindow {
  return { highest, bitmap: MASK };
}
