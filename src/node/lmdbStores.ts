import { GroupStore } from '../group/groupStore.js';
import { type NodeDatabase, openDatabase } from './database.js';
import { hexOf, MailboxStore, type MailboxStoreOptions } from './mailboxStore.js';
import { PersistentReplayCache } from './persistentReplayCache.js';
import type { AccountStore, NodeStores } from './stores.js';

/** CS accounts in LMDB's meta database, one key `acct:<mailbox hex>` per account (value: identity key hex). */
export class LmdbAccountStore implements AccountStore {
  constructor(private readonly db: NodeDatabase) {}

  has(mailbox: Uint8Array): boolean {
    return this.db.meta.get(accountKey(mailbox)) !== undefined;
  }

  async add(mailbox: Uint8Array, identityKey: Uint8Array): Promise<void> {
    await this.db.meta.put(accountKey(mailbox), hexOf(identityKey));
  }
}

function accountKey(mailbox: Uint8Array): string {
  return `acct:${hexOf(mailbox)}`;
}

/**
 * The daemon's stores: one LMDB environment under `<dataDir>/db` (replay
 * tags, mailboxes, accounts) and `<dataDir>/groups.json` (a source's groups).
 */
export function openLmdbStores(dataDir: string, mailbox: MailboxStoreOptions): NodeStores {
  const db = openDatabase(dataDir);
  const replay = new PersistentReplayCache(db);
  const groupFile = new GroupStore(dataDir);
  // Saves are queued one after another (GroupStore): waiting for the last waits for all.
  let lastSave: Promise<void> = Promise.resolve();
  return {
    replay,
    mailboxes: new MailboxStore(db, mailbox),
    accounts: new LmdbAccountStore(db),
    groups: {
      load: () => groupFile.load(),
      save(data) {
        const saved = groupFile.save(data);
        lastSave = saved.catch(() => undefined);
        return saved;
      },
    },
    async flush() {
      await lastSave;
      await replay.flush();
    },
    async close() {
      await lastSave;
      await replay.flush();
      await db.close();
    },
  };
}
