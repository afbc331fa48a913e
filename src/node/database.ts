import fs from 'node:fs';
import path from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';

/**
 * The daemon's one LMDB environment, at `<dataDir>/db`.
 *
 * Durability (read before acknowledging anything to a peer): lmdb-js queues
 * every write and commits it in a batch on another thread, one event turn
 * later. A write's promise resolves when its transaction is *committed*
 * (visible, and kept by a SIGKILL of this process: lmdb-js reuses the last
 * committed transaction while the OS boot id is unchanged). It is *durable
 * against power loss or an OS crash* only once `flushed()` resolves (fsync).
 * Anything acknowledged to another party must wait for `flushed()`; a write
 * that was merely issued (promise not yet resolved) may vanish on kill -9.
 */
export interface NodeDatabase {
  /** The environment itself; holds no data. Use it for transactions spanning sub-databases. */
  readonly root: RootDatabase;
  /** Small named values (counters), string keys, msgpack values. */
  readonly meta: Database<unknown, string>;
  /** Mailbox entries: key mailbox(16) || id(u64 BE), value storedAt(u64 BE) || body. */
  readonly mailboxes: Database<Uint8Array, Uint8Array>;
  /** Expiry index of mailbox entries: key storedAt(u64 BE) || id(u64 BE), value mailbox(16). */
  readonly mailboxExpiry: Database<Uint8Array, Uint8Array>;
  /** Replay tags: key epoch(u32 BE) || tag, empty value. */
  readonly replay: Database<Uint8Array, Uint8Array>;
  /** Resolves once every write issued so far is committed and fsynced. */
  flushed(): Promise<void>;
  /** Flushes, then closes the environment; the handles above are dead afterwards. */
  close(): Promise<void>;
  /** True once close() was called: deferred writers must not write any more. */
  readonly closing: boolean;
}

const BINARY = { keyEncoding: 'binary', encoding: 'binary' } as const;

export function openDatabase(dir: string): NodeDatabase {
  const dbDir = path.join(dir, 'db');
  // The store holds queued mail and replay tags: other local users have no
  // business reading it, so the directory is owner-only even if it existed.
  fs.mkdirSync(dbDir, { recursive: true, mode: 0o700 });
  if ((fs.statSync(dbDir).mode & 0o077) !== 0) fs.chmodSync(dbDir, 0o700);

  const root = open({ path: dbDir, maxDbs: 8 });
  const meta = root.openDB<unknown, string>({ name: 'meta' });
  const mailboxes = root.openDB<Uint8Array, Uint8Array>({ name: 'mailboxes', ...BINARY });
  const mailboxExpiry = root.openDB<Uint8Array, Uint8Array>({ name: 'mailboxExpiry', ...BINARY });
  const replay = root.openDB<Uint8Array, Uint8Array>({ name: 'replay', ...BINARY });
  let closed: Promise<void> | undefined;

  return {
    root,
    meta,
    mailboxes,
    mailboxExpiry,
    replay,
    async flushed() {
      await root.flushed;
    },
    get closing() {
      return closed !== undefined;
    },
    close() {
      closed ??= (async () => {
        await root.flushed;
        await root.close();
      })();
      return closed;
    },
  };
}
