import { InvalidArgument } from '../scramble/errors.js';
import type { ReplayCache } from '../scramble/replayCache.js';
import type { NodeDatabase } from './database.js';

/**
 * Replay cache that survives a restart inside a key epoch: without it, an
 * adversary could crash or wait out a restart of a mix and then replay its
 * captured packets to trace them through the second traversal.
 *
 * The check runs on the hot path, so it is answered from memory; each new tag
 * is also written to LMDB (key epoch u32 BE || tag) without waiting. lmdb-js
 * commits that write after the current event turn, on its own thread; a commit
 * survives kill -9. So a kill -9 loses only the tags inserted in the current
 * turn and the commit in progress: about 1 ms on an idle machine (0 of 500
 * tags kept when killed in the same turn, all kept 1 ms later; the tests check
 * 50 ms). Packets normally wait out their mixing delay before they are sent,
 * so their tags are committed before anyone can observe them leave. Power loss
 * can lose more: `flush()` waits until everything so far is fsynced, for a
 * clean shutdown or for callers that want the guarantee.
 */
export class ReplayCacheWriteFailed extends Error {
  constructor(cause: unknown) {
    super(`replay cache could not persist tags: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ReplayCacheWriteFailed';
  }
}

const EPOCH_BYTES = 4;
/** LMDB's default key limit is 1978 bytes; real tags are 32. */
const MAX_TAG_BYTES = 1024;
/** Keys removed per transaction when an epoch is dropped, so no commit stalls the loop for long. */
const DROP_CHUNK = 10_000;
const EMPTY = new Uint8Array(0);

export class PersistentReplayCache implements ReplayCache {
  private readonly epochs = new Map<number, Set<string>>();
  private tags = 0;
  /** Disk deletions of dropped epochs run in the background, one after another. */
  private drops: Promise<void> = Promise.resolve();
  private writeError: unknown = undefined;

  constructor(private readonly db: NodeDatabase) {
    for (const key of db.replay.getKeys()) {
      const epoch = readEpoch(key);
      this.remember(epoch, tagString(key.subarray(EPOCH_BYTES)));
    }
  }

  checkAndInsert(epoch: number, tag: Uint8Array): boolean {
    checkEpoch(epoch);
    if (tag.length === 0 || tag.length > MAX_TAG_BYTES) {
      throw new InvalidArgument(`replay tag must be 1..${MAX_TAG_BYTES} bytes, got ${tag.length}`);
    }
    if (!this.remember(epoch, tagString(tag))) return true;
    this.db.replay.put(replayKey(epoch, tag), EMPTY).catch((err: unknown) => {
      this.writeError ??= err;
    });
    return false;
  }

  dropBefore(epoch: number): void {
    checkEpoch(epoch);
    for (const [e, set] of this.epochs) {
      if (e < epoch) {
        this.tags -= set.size;
        this.epochs.delete(e);
      }
    }
    this.drops = this.drops
      .then(() => this.deleteStoredBefore(epoch))
      .catch((err: unknown) => {
        this.writeError ??= err;
      });
  }

  size(): number {
    return this.tags;
  }

  /** Resolves when every insert and drop so far is fsynced; rejects if any write failed. */
  async flush(): Promise<void> {
    await this.drops;
    await this.db.flushed();
    if (this.writeError !== undefined) throw new ReplayCacheWriteFailed(this.writeError);
  }

  /** Adds to memory; false when the tag was already there. */
  private remember(epoch: number, tag: string): boolean {
    let set = this.epochs.get(epoch);
    if (!set) {
      set = new Set();
      this.epochs.set(epoch, set);
    }
    if (set.has(tag)) return false;
    set.add(tag);
    this.tags++;
    return true;
  }

  private async deleteStoredBefore(epoch: number): Promise<void> {
    const end = epochPrefix(epoch);
    let after: Uint8Array | undefined;
    for (;;) {
      // Read and delete inside one write transaction, and spare tags that are in
      // memory again (re-inserted since the drop): disk then matches memory
      // whichever of the re-insert and this deletion commits first.
      const more = await this.db.replay.transaction(() => {
        const range = { start: after, exclusiveStart: after !== undefined, end, limit: DROP_CHUNK };
        const keys = Array.from(this.db.replay.getKeys(range), (k) => new Uint8Array(k));
        for (const key of keys) if (!this.holds(key)) this.db.replay.remove(key);
        after = keys[keys.length - 1];
        return keys.length === DROP_CHUNK;
      });
      if (!more) return;
    }
  }

  private holds(key: Uint8Array): boolean {
    return this.epochs.get(readEpoch(key))?.has(tagString(key.subarray(EPOCH_BYTES))) ?? false;
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new InvalidArgument(`epoch must be a u32, got ${epoch}`);
  }
}

/** One char per byte: the cheapest exact string form for a Set key. */
function tagString(tag: Uint8Array): string {
  return Buffer.from(tag.buffer, tag.byteOffset, tag.byteLength).toString('latin1');
}

function epochPrefix(epoch: number): Uint8Array {
  const key = new Uint8Array(EPOCH_BYTES);
  new DataView(key.buffer).setUint32(0, epoch, false);
  return key;
}

function replayKey(epoch: number, tag: Uint8Array): Uint8Array {
  const key = new Uint8Array(EPOCH_BYTES + tag.length);
  new DataView(key.buffer).setUint32(0, epoch, false);
  key.set(tag, EPOCH_BYTES);
  return key;
}

function readEpoch(key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0, false);
}
