/**
 * Replay tags seen per key epoch. A tag is only meaningful under the key that
 * produced it, so the whole set for an epoch is dropped when that key is erased.
 * The daemon backs this with LMDB (src/node) so a restart inside the epoch
 * still rejects replays; this in-memory one serves tests and clients.
 */
export interface ReplayCache {
  /** Records the tag; returns true when it was already present for this epoch. */
  checkAndInsert(epoch: number, tag: Uint8Array): boolean;
  /** Forgets every tag of epochs older than `epoch`. */
  dropBefore(epoch: number): void;
  size(): number;
}

export class MemoryReplayCache implements ReplayCache {
  private readonly epochs = new Map<number, Set<string>>();

  checkAndInsert(epoch: number, tag: Uint8Array): boolean {
    let set = this.epochs.get(epoch);
    if (!set) {
      set = new Set();
      this.epochs.set(epoch, set);
    }
    const key = Buffer.from(tag.buffer, tag.byteOffset, tag.byteLength).toString('base64');
    if (set.has(key)) return true;
    set.add(key);
    return false;
  }

  dropBefore(epoch: number): void {
    for (const e of this.epochs.keys()) if (e < epoch) this.epochs.delete(e);
  }

  size(): number {
    let n = 0;
    for (const s of this.epochs.values()) n += s.size;
    return n;
  }
}
