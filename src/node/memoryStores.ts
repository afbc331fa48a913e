import type { GroupStoreData } from '../group/groupStore.js';
import { MemoryReplayCache } from '../scramble/replayCache.js';
import {
  checkMailbox,
  checkMailboxOptions,
  checkTime,
  hexOf,
  type MailboxEntry,
  MailboxQuotaExceeded,
  type MailboxStoreOptions,
} from './mailboxStore.js';
import type { AccountStore, GroupStorage, MailboxStorage, NodeStores } from './stores.js';

/**
 * In-memory stores for virtual time (why: src/node/stores.ts). Same
 * contract as the LMDB ones, checked by the same tests; every promise
 * resolves on the next microtask, so a run is deterministic.
 */

interface Row {
  mailbox: string;
  entry: MailboxEntry;
}

export class MemoryMailboxStore implements MailboxStorage {
  /** Per mailbox (hex), entries in id order. */
  private readonly boxes = new Map<string, Row[]>();
  private total = 0;
  private nextId = 1;

  constructor(private readonly options: MailboxStoreOptions) {
    checkMailboxOptions(options);
  }

  store(mailbox: Uint8Array, body: Uint8Array, nowMs: number): { id: number; durable: Promise<number> } {
    checkMailbox(mailbox);
    checkTime(nowMs);
    const key = hexOf(mailbox);
    const rows = this.boxes.get(key) ?? [];
    if (rows.length >= this.options.quota) throw new MailboxQuotaExceeded(mailbox, this.options.quota);
    const id = this.nextId++;
    rows.push({ mailbox: key, entry: { id, body: new Uint8Array(body), storedAt: nowMs } });
    this.boxes.set(key, rows);
    this.total++;
    return { id, durable: Promise.resolve(id) };
  }

  pending(mailbox: Uint8Array, limit: number): MailboxEntry[] {
    checkMailbox(mailbox);
    if (limit <= 0) return [];
    return (this.boxes.get(hexOf(mailbox)) ?? []).slice(0, limit).map((r) => ({ ...r.entry }));
  }

  async ack(mailbox: Uint8Array, ids: readonly number[]): Promise<number> {
    checkMailbox(mailbox);
    const key = hexOf(mailbox);
    const rows = this.boxes.get(key);
    if (!rows) return 0;
    const wanted = new Set(ids.filter((id) => Number.isSafeInteger(id) && id > 0));
    const kept = rows.filter((r) => !wanted.has(r.entry.id));
    const removed = rows.length - kept.length;
    this.replace(key, kept);
    return removed;
  }

  async expire(nowMs: number): Promise<number> {
    checkTime(nowMs);
    const cutoff = nowMs - this.options.ttlMs;
    if (cutoff <= 0) return 0;
    let removed = 0;
    for (const [key, rows] of [...this.boxes]) {
      const kept = rows.filter((r) => r.entry.storedAt >= cutoff);
      removed += rows.length - kept.length;
      this.replace(key, kept);
    }
    return removed;
  }

  count(): number {
    return this.total;
  }

  durableCount(): number {
    return this.total;
  }

  countFor(mailbox: Uint8Array): number {
    checkMailbox(mailbox);
    return this.boxes.get(hexOf(mailbox))?.length ?? 0;
  }

  private replace(key: string, kept: Row[]): void {
    this.total -= (this.boxes.get(key)?.length ?? 0) - kept.length;
    if (kept.length > 0) this.boxes.set(key, kept);
    else this.boxes.delete(key);
  }
}

export class MemoryAccountStore implements AccountStore {
  private readonly accounts = new Map<string, string>();

  has(mailbox: Uint8Array): boolean {
    return this.accounts.has(hexOf(mailbox));
  }

  async add(mailbox: Uint8Array, identityKey: Uint8Array): Promise<void> {
    checkMailbox(mailbox);
    this.accounts.set(hexOf(mailbox), hexOf(identityKey));
  }
}

export class MemoryGroupStorage implements GroupStorage {
  // Group states are immutable values: keeping the saved object is keeping a copy.
  private data: GroupStoreData = { groups: [], pendingInvites: [] };

  async load(): Promise<GroupStoreData> {
    return this.data;
  }

  async save(data: GroupStoreData): Promise<void> {
    this.data = {
      groups: [...data.groups],
      pendingInvites: [...data.pendingInvites],
      rotatedAt: { ...data.rotatedAt },
      // Left groups guard against rolled-back invites (src/group/groupStore.ts): a store must keep them.
      left: { ...data.left },
    };
  }
}

/** A fresh set of memory stores for one node. */
export function memoryStores(mailbox: MailboxStoreOptions): NodeStores {
  return {
    replay: new MemoryReplayCache(),
    mailboxes: new MemoryMailboxStore(mailbox),
    accounts: new MemoryAccountStore(),
    groups: new MemoryGroupStorage(),
    flush: async () => {},
    close: async () => {},
  };
}
