import type { GroupStoreData } from '../group/groupStore.js';
import type { ReplayCache } from '../scramble/replayCache.js';
import type { MailboxEntry } from './mailboxStore.js';

/**
 * What the roles keep across restarts, as interfaces. Two implementations:
 *  - LMDB and files (src/node/lmdbStores.ts): the daemon's default; durable
 *    (see src/node/database.ts for what survives kill -9 and power loss);
 *  - memory (src/node/memoryStores.ts): for virtual time. lmdb-js commits on
 *    its own thread and resolves its promises at a real-time moment the
 *    virtual clock knows nothing about, so a run on LMDB could not be
 *    deterministic. The memory stores resolve at once (next microtask), and
 *    a testnet keeps them across a node's restart, which models a durable
 *    store; crash durability itself is tested on LMDB.
 * Both pass the same contract tests (test/node/stores.test.ts).
 */

/** CS mailboxes: at-least-once delivery, entries removed only by an ack naming them, or by TTL. */
export interface MailboxStorage {
  /**
   * Stores `body` for `mailbox` and hands out its id at once; `durable`
   * resolves when the entry would survive a crash. Throws MailboxQuotaExceeded
   * synchronously when the mailbox is full.
   */
  store(mailbox: Uint8Array, body: Uint8Array, nowMs: number): { id: number; durable: Promise<number> };
  /** Up to `limit` stored entries of `mailbox`, oldest first. */
  pending(mailbox: Uint8Array, limit: number): MailboxEntry[];
  /** Deletes the named entries of `mailbox` (others' ids are ignored); resolves with how many existed. */
  ack(mailbox: Uint8Array, ids: readonly number[]): Promise<number>;
  /** Deletes every entry older than the TTL at `nowMs`; resolves with how many. */
  expire(nowMs: number): Promise<number>;
  /** Entries held (including writes in flight). */
  count(): number;
  /** Entries that would survive a crash now. */
  durableCount(): number;
  countFor(mailbox: Uint8Array): number;
}

/** CS accounts: which mailboxes belong to a registered source. */
export interface AccountStore {
  has(mailbox: Uint8Array): boolean;
  /** Records the account; resolves once it is committed (CS answers "registered" only then). */
  add(mailbox: Uint8Array, identityKey: Uint8Array): Promise<void>;
}

/** A source's groups and pending invites (src/group/groupStore.ts is the file implementation). */
export interface GroupStorage {
  load(): Promise<GroupStoreData>;
  save(data: GroupStoreData): Promise<void>;
}

/** Everything one node stores, whatever its role uses of it. */
export interface NodeStores {
  replay: ReplayCache;
  mailboxes: MailboxStorage;
  accounts: AccountStore;
  groups: GroupStorage;
  /** Resolves once everything written so far is durable; rejects if a write failed. */
  flush(): Promise<void>;
  /** Flushes and releases the store (a memory store stays readable: it models the disk). */
  close(): Promise<void>;
}
