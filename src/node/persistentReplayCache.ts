import { InvalidArgument } from '../scramble/errors.js';
import type { ReplayCache } from '../scramble/replayCache.js';
import type { NodeDatabase } from './database.js';
import { DEFAULT_REPLAY_CAPACITY_PER_EPOCH, REPLAY_FALSE_POSITIVE_RATE, REPLAY_PERSIST_FACTOR } from './limits.js';
import { BloomFilter, type BloomGeometry, bloomGeometry } from './replayFilter.js';

/**
 * Replay cache that survives a restart inside a key epoch and whose memory is
 * bounded whatever arrives (issue 10, F9). Without persistence an adversary
 * could crash or wait out a restart of a mix and then replay its captured
 * packets to trace them through the second traversal; without a bound, valid
 * packets at 5,000/s would take ~1.3 GiB an hour.
 *
 * In memory: one Bloom filter per key epoch (src/node/replayFilter.ts), sized
 * for `capacityPerEpoch` tags at REPLAY_FALSE_POSITIVE_RATE (7.2 MB for the
 * default 2,000,000 tags at 1e-6), allocated when the epoch's first tag
 * arrives and dropped with the epoch's key.
 *
 * On disk (LMDB `replay`): the tags themselves, appended in one row per event
 * turn, key `epoch u32 || batch u32`, value `(length u8 || tag)*`; a restart
 * re-inserts them into fresh filters. Rows of the older format (key `epoch ||
 * tag`, empty value) are read too. lmdb-js commits a write after the current
 * event turn, on its own thread, and a commit survives kill -9; so a kill -9
 * loses only the tags of the current turn and the commit in progress, about
 * 1 ms on an idle machine (the tests check 50 ms). Packets wait out their
 * mixing delay before they are sent, so their tags are committed before anyone
 * can observe them leave. Persisting stops at REPLAY_PERSIST_FACTOR × the
 * capacity per epoch, which bounds the disk too: tags past that point are
 * still refused as replays until a restart.
 */
export class ReplayCacheWriteFailed extends Error {
  constructor(cause: unknown) {
    super(`replay cache could not persist tags: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ReplayCacheWriteFailed';
  }
}

export interface ReplayCacheOptions {
  /** Tags per epoch the filter is sized for (default DEFAULT_REPLAY_CAPACITY_PER_EPOCH). */
  capacityPerEpoch?: number;
  falsePositiveRate?: number;
}

const EPOCH_BYTES = 4;
const BATCH_KEY_BYTES = 8;
/** Real tags are 32 bytes; a record's length is one byte. */
const MAX_TAG_BYTES = 255;
/** Keys removed per transaction when an epoch is dropped, so no commit stalls the loop for long. */
const DROP_CHUNK = 10_000;

interface EpochFilter {
  filter: BloomFilter;
  /** Distinct tags inserted (what size() reports; the filter cannot count). */
  count: number;
  /** Tags not yet written, and the next batch number on disk. */
  pending: Uint8Array[];
  nextBatch: number;
}

export class PersistentReplayCache implements ReplayCache {
  private readonly epochs = new Map<number, EpochFilter>();
  /** Dropped epochs: batches below this number are stale on disk (a re-created epoch writes above it). */
  private readonly retired = new Map<number, number>();
  private readonly geometry: BloomGeometry;
  private readonly persistLimit: number;
  private tags = 0;
  private flushScheduled = false;
  /** Disk deletions of dropped epochs run in the background, one after another. */
  private drops: Promise<void> = Promise.resolve();
  private writeError: unknown = undefined;

  constructor(
    private readonly db: NodeDatabase,
    options: ReplayCacheOptions = {},
  ) {
    const capacity = options.capacityPerEpoch ?? DEFAULT_REPLAY_CAPACITY_PER_EPOCH;
    this.geometry = bloomGeometry(capacity, options.falsePositiveRate ?? REPLAY_FALSE_POSITIVE_RATE);
    this.persistLimit = capacity * REPLAY_PERSIST_FACTOR;
    for (const { key, value } of db.replay.getRange()) {
      const epoch = readU32(key, 0);
      const e = this.epochFilter(epoch);
      if (key.length === BATCH_KEY_BYTES) {
        e.nextBatch = Math.max(e.nextBatch, readU32(key, EPOCH_BYTES) + 1);
        for (const tag of readRecords(value)) this.remember(e, tag);
      } else if (key.length > EPOCH_BYTES) {
        this.remember(e, key.subarray(EPOCH_BYTES));
      }
    }
  }

  checkAndInsert(epoch: number, tag: Uint8Array): boolean {
    checkEpoch(epoch);
    if (tag.length === 0 || tag.length > MAX_TAG_BYTES) {
      throw new InvalidArgument(`replay tag must be 1..${MAX_TAG_BYTES} bytes, got ${tag.length}`);
    }
    const e = this.epochFilter(epoch);
    if (!this.remember(e, tag)) return true;
    if (e.count <= this.persistLimit) {
      e.pending.push(tag.slice());
      this.scheduleWrite();
    }
    return false;
  }

  dropBefore(epoch: number): void {
    checkEpoch(epoch);
    const staleBelow = new Map<number, number>();
    // Keys of epochs older than the cut are erased: no packet for them can unwrap any more.
    for (const e of this.retired.keys()) if (e < epoch - 1) this.retired.delete(e);
    for (const [e, f] of this.epochs) {
      if (e < epoch) {
        this.tags -= f.count;
        this.epochs.delete(e);
        this.retired.set(e, f.nextBatch);
        staleBelow.set(e, f.nextBatch);
      }
    }
    this.drops = this.drops
      .then(() => this.deleteStoredBefore(epoch, staleBelow))
      .catch((err: unknown) => {
        this.writeError ??= err;
      });
  }

  /** Distinct tags held over all epochs. */
  size(): number {
    return this.tags;
  }

  /** Bytes of filter memory held now (bounded: one filter per held epoch). */
  memoryBytes(): number {
    let n = 0;
    for (const e of this.epochs.values()) n += e.filter.bytes;
    return n;
  }

  /** Resolves when every insert and drop so far is fsynced; rejects if any write failed. */
  async flush(): Promise<void> {
    this.writePending();
    await this.drops;
    await this.db.flushed();
    if (this.writeError !== undefined) throw new ReplayCacheWriteFailed(this.writeError);
  }

  private epochFilter(epoch: number): EpochFilter {
    let e = this.epochs.get(epoch);
    if (!e) {
      e = { filter: new BloomFilter(this.geometry), count: 0, pending: [], nextBatch: this.retired.get(epoch) ?? 0 };
      this.epochs.set(epoch, e);
    }
    return e;
  }

  /** Adds to the filter; false when the tag was (probably) there already. */
  private remember(e: EpochFilter, tag: Uint8Array): boolean {
    if (e.filter.add(tag)) return false;
    e.count++;
    this.tags++;
    return true;
  }

  private scheduleWrite(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One row per event turn: as prompt as a write per tag, at a fraction of the cost.
    setImmediate(() => this.writePending());
  }

  private writePending(): void {
    this.flushScheduled = false;
    // A write after close would throw inside lmdb, out of reach: the owner flushes before closing.
    if (this.db.closing) return;
    for (const [epoch, e] of this.epochs) {
      if (e.pending.length === 0) continue;
      const key = new Uint8Array(BATCH_KEY_BYTES);
      const view = new DataView(key.buffer);
      view.setUint32(0, epoch, false);
      view.setUint32(EPOCH_BYTES, e.nextBatch++, false);
      this.db.replay.put(key, writeRecords(e.pending)).catch((err: unknown) => {
        this.writeError ??= err;
      });
      e.pending = [];
    }
  }

  /**
   * Deletes the rows of epochs before `epoch` (keys sort by epoch first), except
   * batches an epoch re-created since the drop has written: those are numbered
   * from `staleBelow` up, so disk matches memory whichever commits first.
   */
  private async deleteStoredBefore(epoch: number, staleBelow: Map<number, number>): Promise<void> {
    const end = new Uint8Array(EPOCH_BYTES);
    new DataView(end.buffer).setUint32(0, epoch, false);
    let after: Uint8Array | undefined;
    for (;;) {
      const more = await this.db.replay.transaction(() => {
        const range = { start: after, exclusiveStart: after !== undefined, end, limit: DROP_CHUNK };
        const keys = Array.from(this.db.replay.getKeys(range), (k) => new Uint8Array(k));
        for (const key of keys) {
          const limit = staleBelow.get(readU32(key, 0));
          const fresh = limit !== undefined && key.length === BATCH_KEY_BYTES && readU32(key, EPOCH_BYTES) >= limit;
          if (!fresh) this.db.replay.remove(key);
        }
        after = keys[keys.length - 1];
        return keys.length === DROP_CHUNK;
      });
      if (!more) return;
    }
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new InvalidArgument(`epoch must be a u32, got ${epoch}`);
  }
}

function readU32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false);
}

function writeRecords(tags: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const t of tags) n += 1 + t.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const t of tags) {
    out[o++] = t.length;
    out.set(t, o);
    o += t.length;
  }
  return out;
}

/** Records of a batch row; a torn or foreign value ends the list rather than throwing (it is our own file). */
function* readRecords(value: Uint8Array): Generator<Uint8Array> {
  let o = 0;
  while (o < value.length) {
    const len = value[o] as number;
    if (len === 0 || o + 1 + len > value.length) return;
    yield value.subarray(o + 1, o + 1 + len);
    o += 1 + len;
  }
}
