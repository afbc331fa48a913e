import { InvalidArgument } from '../scramble/errors.js';
import type { NodeDatabase } from './database.js';
import type { MailboxStorage } from './stores.js';

/**
 * Messages the CS holds for an offline source until the source acknowledges
 * them. Delivery is at-least-once: an entry is removed only by an ack naming
 * it (or by TTL), so a lost delivery is simply repeated; sources dedupe by id.
 *
 * Durability: `put` resolves only after the entry is fsynced, so the CS may
 * tell the sender "stored" once it resolves and a kill -9 or power cut loses
 * nothing. `ack` and `expire` resolve on commit (kept across kill -9); a power
 * cut right after may resurrect acknowledged entries, which costs one
 * duplicate delivery and no loss.
 */
export const MAILBOX_ID_BYTES = 16;

export class MailboxQuotaExceeded extends Error {
  readonly mailbox: Uint8Array;
  readonly quota: number;
  constructor(mailbox: Uint8Array, quota: number) {
    super(`mailbox ${hexOf(mailbox)} already holds its quota of ${quota} entries`);
    this.name = 'MailboxQuotaExceeded';
    this.mailbox = mailbox;
    this.quota = quota;
  }
}

export interface MailboxEntry {
  /** Unique across the store and increasing across restarts (persisted counter). */
  id: number;
  body: Uint8Array;
  storedAt: number;
}

export interface MailboxStoreOptions {
  /** Entries older than this are dropped by `expire`, acknowledged or not. */
  ttlMs: number;
  /** Most entries one mailbox may hold: bounds the disk a flood to one target can fill. */
  quota: number;
}

const NEXT_ID_KEY = 'mailbox.nextId';
const ID_BYTES = 8;
/** Ids are JS numbers; 2^53 ids outlast any deployment, and this bound keeps them exact. */
const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Rows removed per transaction by `expire`: keeps each commit (and the event loop pause) short. */
const EXPIRE_CHUNK = 5000;

/** The LMDB mailbox store (the daemon's default; src/node/memoryStores.ts has the virtual-time one). */
export class MailboxStore implements MailboxStorage {
  private readonly ttlMs: number;
  private readonly quota: number;
  /** Entries per mailbox (hex key), including puts still in flight: the quota check must be synchronous. */
  private readonly counts = new Map<string, number>();
  private total = 0;
  /** Puts reserved but not yet fsynced. */
  private writing = 0;
  private nextId: number;

  constructor(
    private readonly db: NodeDatabase,
    options: MailboxStoreOptions,
  ) {
    checkMailboxOptions(options);
    this.ttlMs = options.ttlMs;
    this.quota = options.quota;
    const stored = db.meta.get(NEXT_ID_KEY);
    this.nextId = typeof stored === 'number' ? stored : 1;
    for (const key of db.mailboxes.getKeys()) {
      const mailbox = hexOf(key.subarray(0, MAILBOX_ID_BYTES));
      this.counts.set(mailbox, (this.counts.get(mailbox) ?? 0) + 1);
      this.total++;
    }
  }

  /**
   * Stores `body` for `mailbox`; resolves with the entry id once it is fsynced.
   * Rejects with MailboxQuotaExceeded when the mailbox already holds `quota` entries.
   */
  async put(mailbox: Uint8Array, body: Uint8Array, nowMs: number): Promise<number> {
    return this.store(mailbox, body, nowMs).durable;
  }

  /**
   * Like `put`, but hands out the entry id at once, so an online recipient can
   * be served while the write is still on its way to disk (the entry stays
   * until acknowledged; a crash before the fsync can lose only an entry that
   * was already pushed to its recipient). Throws MailboxQuotaExceeded synchronously.
   */
  store(mailbox: Uint8Array, body: Uint8Array, nowMs: number): { id: number; durable: Promise<number> } {
    checkMailbox(mailbox);
    checkTime(nowMs);
    const key = hexOf(mailbox);
    const held = this.counts.get(key) ?? 0;
    if (held >= this.quota) throw new MailboxQuotaExceeded(mailbox, this.quota);
    if (this.nextId > MAX_ID) throw new InvalidArgument('mailbox entry ids exhausted');
    // Reserve before the first await so concurrent puts cannot overshoot the quota.
    const id = this.nextId++;
    this.counts.set(key, held + 1);
    this.total++;
    const owner = new Uint8Array(mailbox);
    this.writing++;
    const durable = (async () => {
      try {
        await this.db.root.transaction(() => {
          this.db.mailboxes.put(entryKey(owner, id), encodeEntry(nowMs, body));
          this.db.mailboxExpiry.put(expiryKey(nowMs, id), owner);
          // Same transaction as the entry: after any crash the counter is past every stored id.
          this.db.meta.put(NEXT_ID_KEY, this.nextId);
        });
        await this.db.flushed();
      } catch (err) {
        this.forget(key, 1);
        throw err;
      } finally {
        this.writing--;
      }
      return id;
    })();
    return { id, durable };
  }

  /** Up to `limit` committed entries of `mailbox`, oldest (lowest id) first. */
  pending(mailbox: Uint8Array, limit: number): MailboxEntry[] {
    checkMailbox(mailbox);
    const out: MailboxEntry[] = [];
    if (limit <= 0) return out;
    const range = this.db.mailboxes.getRange({ start: entryKey(mailbox, 0), end: entryKey(mailbox, MAX_ID), limit });
    for (const { key, value } of range) {
      out.push({
        id: readU64(key, MAILBOX_ID_BYTES),
        storedAt: readU64(value, 0),
        body: new Uint8Array(value.subarray(ID_BYTES)),
      });
    }
    return out;
  }

  /**
   * Deletes the named entries of `mailbox`; returns how many existed. Ids that
   * are not entries of this mailbox are ignored: they come from the network, and
   * one source must never be able to delete another's mail.
   */
  async ack(mailbox: Uint8Array, ids: readonly number[]): Promise<number> {
    checkMailbox(mailbox);
    const owner = new Uint8Array(mailbox);
    const wanted = [...new Set(ids)].filter((id) => Number.isSafeInteger(id) && id > 0);
    if (wanted.length === 0) return 0;
    const removed = await this.db.root.transaction(() => {
      let n = 0;
      for (const id of wanted) {
        const key = entryKey(owner, id);
        const value = this.db.mailboxes.get(key);
        if (value === undefined) continue;
        this.db.mailboxes.remove(key);
        this.db.mailboxExpiry.remove(expiryKey(readU64(value, 0), id));
        n++;
      }
      return n;
    });
    this.forget(hexOf(owner), removed);
    return removed;
  }

  /** Deletes every entry stored more than ttlMs before `nowMs`; returns how many. */
  async expire(nowMs: number): Promise<number> {
    checkTime(nowMs);
    const cutoff = nowMs - this.ttlMs;
    if (cutoff <= 0) return 0;
    // Index keys are storedAt || id with id >= 1, so this end excludes storedAt >= cutoff.
    const end = expiryKey(cutoff, 0);
    let total = 0;
    for (;;) {
      const batch = await this.db.root.transaction(() => {
        // Copy out first: range buffers may be reused, and removing under a live cursor is unsafe.
        const rows = Array.from(this.db.mailboxExpiry.getRange({ end, limit: EXPIRE_CHUNK }), ({ key, value }) => ({
          key: new Uint8Array(key),
          mailbox: new Uint8Array(value),
        }));
        const removed: Uint8Array[] = [];
        for (const { key, mailbox } of rows) {
          this.db.mailboxExpiry.remove(key);
          this.db.mailboxes.remove(entryKey(mailbox, readU64(key, ID_BYTES)));
          removed.push(mailbox);
        }
        return removed;
      });
      for (const mailbox of batch) this.forget(hexOf(mailbox), 1);
      total += batch.length;
      if (batch.length < EXPIRE_CHUNK) return total;
    }
  }

  /** Entries held across all mailboxes (puts in flight included). */
  count(): number {
    return this.total;
  }

  /** Entries whose write has been fsynced: what survives a crash right now. */
  durableCount(): number {
    return this.total - this.writing;
  }

  countFor(mailbox: Uint8Array): number {
    checkMailbox(mailbox);
    return this.counts.get(hexOf(mailbox)) ?? 0;
  }

  private forget(key: string, n: number): void {
    if (n === 0) return;
    const left = (this.counts.get(key) ?? 0) - n;
    if (left > 0) this.counts.set(key, left);
    else this.counts.delete(key);
    this.total -= n;
  }
}

export function checkMailboxOptions(options: MailboxStoreOptions): void {
  if (!Number.isSafeInteger(options.ttlMs) || options.ttlMs <= 0) {
    throw new InvalidArgument(`ttlMs must be a positive integer, got ${options.ttlMs}`);
  }
  if (!Number.isSafeInteger(options.quota) || options.quota <= 0) {
    throw new InvalidArgument(`quota must be a positive integer, got ${options.quota}`);
  }
}

export function checkMailbox(mailbox: Uint8Array): void {
  if (!(mailbox instanceof Uint8Array) || mailbox.length !== MAILBOX_ID_BYTES) {
    throw new InvalidArgument(`mailbox id must be ${MAILBOX_ID_BYTES} bytes`);
  }
}

export function checkTime(nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) throw new InvalidArgument(`time must be integer ms, got ${nowMs}`);
}

function entryKey(mailbox: Uint8Array, id: number): Uint8Array {
  const key = new Uint8Array(MAILBOX_ID_BYTES + ID_BYTES);
  key.set(mailbox.subarray(0, MAILBOX_ID_BYTES), 0);
  writeU64(key, MAILBOX_ID_BYTES, id);
  return key;
}

function expiryKey(storedAt: number, id: number): Uint8Array {
  const key = new Uint8Array(2 * ID_BYTES);
  writeU64(key, 0, storedAt);
  writeU64(key, ID_BYTES, id);
  return key;
}

function encodeEntry(storedAt: number, body: Uint8Array): Uint8Array {
  const value = new Uint8Array(ID_BYTES + body.length);
  writeU64(value, 0, storedAt);
  value.set(body, ID_BYTES);
  return value;
}

function writeU64(buf: Uint8Array, offset: number, n: number): void {
  new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setBigUint64(offset, BigInt(n), false);
}

function readU64(buf: Uint8Array, offset: number): number {
  return Number(new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(offset, false));
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
