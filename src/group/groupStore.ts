import { constants } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';

/** Create a new file for writing; fail if anything exists at the path (and never follow a symlink). */
const EXCLUSIVE_CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

import { join } from 'node:path';
import { InvalidGroupState } from './errors.js';
import { type GroupJson, type GroupState, groupFromJson, groupToJson, hexField, intField } from './groupState.js';
import { INVITE_ALG_ARGON2ID_SECRETBOX, type PendingInvite } from './invite.js';
import { hexKey } from './keys.js';

/**
 * Persistence of one source's groups and pending invites in
 * `<dir>/groups.json`. The file holds group secrets: it is written 0600, and
 * atomically (temp file, fsync, rename, fsync of the directory), so a crash
 * leaves either the old or the new file, never a torn one that would lose
 * every group. Pending invites are kept so that a wrong passphrase, or a
 * restart before the user types one, does not lose the invite.
 */
export const GROUPS_FILE = 'groups.json';

export interface GroupStoreData {
  readonly groups: readonly GroupState[];
  readonly pendingInvites: readonly PendingInvite[];
  /** When each group (hex id) this source administers was last rekeyed: the rotation clock survives restarts. */
  readonly rotatedAt?: Readonly<Record<string, number>>;
  /** Groups we left (hex id -> epoch at the time): an invite not newer is a replay and is refused (no rollback). */
  readonly left?: Readonly<Record<string, number>>;
}

/** Left-group records kept (the oldest go first): a bound on the file, not a security limit. */
export const MAX_LEFT_GROUPS = 256;

interface StoreJson {
  version: 1;
  groups: GroupJson[];
  pendingInvites: Array<Record<string, string | number>>;
  rotatedAt: Record<string, number>;
  left: Record<string, number>;
}

export function pendingInviteToJson(p: PendingInvite): Record<string, string | number> {
  return {
    recipientKey: hexKey(p.recipientKey),
    alg: p.alg,
    opsLimit: p.opsLimit,
    memLimitBytes: p.memLimitBytes,
    salt: hexKey(p.salt),
    nonce: hexKey(p.nonce),
    ciphertext: hexKey(p.ciphertext),
  };
}

export function pendingInviteFromJson(v: unknown): PendingInvite {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidGroupState('stored pending invite is not an object');
  }
  const o = v as Record<string, unknown>;
  const alg = intField(o.alg, 'invite alg', 255);
  if (alg !== INVITE_ALG_ARGON2ID_SECRETBOX) throw new InvalidGroupState(`stored invite has unknown algorithm ${alg}`);
  const ciphertext = hexField(o.ciphertext, 'invite ciphertext');
  if (ciphertext.length < 16) throw new InvalidGroupState('stored invite ciphertext is too short');
  return {
    recipientKey: hexField(o.recipientKey, 'invite recipientKey', 32),
    alg,
    opsLimit: intField(o.opsLimit, 'invite opsLimit', 0xffffffff),
    memLimitBytes: intField(o.memLimitBytes, 'invite memLimitBytes', 0xffffffff),
    salt: hexField(o.salt, 'invite salt', 16),
    nonce: hexField(o.nonce, 'invite nonce', 24),
    ciphertext,
  };
}

export function storeToJson(data: GroupStoreData): string {
  const json: StoreJson = {
    version: 1,
    groups: data.groups.map(groupToJson),
    pendingInvites: data.pendingInvites.map(pendingInviteToJson),
    rotatedAt: { ...(data.rotatedAt ?? {}) },
    left: Object.fromEntries(Object.entries(data.left ?? {}).slice(-MAX_LEFT_GROUPS)),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Parses the file content. Every failure is InvalidGroupState (never silently dropping a group). */
export function storeFromJson(text: string): GroupStoreData {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidGroupState(`${GROUPS_FILE} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidGroupState(`${GROUPS_FILE} is not an object`);
  }
  const o = json as Record<string, unknown>;
  if (o.version !== 1) throw new InvalidGroupState(`${GROUPS_FILE} has unknown version ${JSON.stringify(o.version)}`);
  if (!Array.isArray(o.groups) || !Array.isArray(o.pendingInvites)) {
    throw new InvalidGroupState(`${GROUPS_FILE} lacks groups or pendingInvites arrays`);
  }
  const rotatedAt: Record<string, number> = {};
  if (o.rotatedAt !== undefined) {
    if (typeof o.rotatedAt !== 'object' || o.rotatedAt === null || Array.isArray(o.rotatedAt)) {
      throw new InvalidGroupState(`${GROUPS_FILE}: rotatedAt is not an object`);
    }
    for (const [k, v] of Object.entries(o.rotatedAt)) {
      if (!/^[0-9a-f]{32}$/.test(k) || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new InvalidGroupState(`${GROUPS_FILE}: rotatedAt entry ${k} is not a group id and a time`);
      }
      rotatedAt[k] = v;
    }
  }
  const left: Record<string, number> = {};
  if (o.left !== undefined) {
    if (typeof o.left !== 'object' || o.left === null || Array.isArray(o.left)) {
      throw new InvalidGroupState(`${GROUPS_FILE}: left is not an object`);
    }
    for (const [k, v] of Object.entries(o.left)) {
      if (!/^[0-9a-f]{32}$/.test(k) || typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new InvalidGroupState(`${GROUPS_FILE}: left entry ${k} is not a group id and an epoch`);
      }
      left[k] = v;
    }
  }
  return {
    groups: o.groups.map(groupFromJson),
    pendingInvites: o.pendingInvites.map(pendingInviteFromJson),
    rotatedAt,
    left,
  };
}

export class GroupStore {
  readonly path: string;
  private readonly tmpPath: string;
  /** Saves run one after another so two writers never interleave on the temp file. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.path = join(dir, GROUPS_FILE);
    this.tmpPath = join(dir, `${GROUPS_FILE}.tmp-${process.pid}`);
  }

  /** Empty when the file does not exist yet; InvalidGroupState when it is corrupt. */
  async load(): Promise<GroupStoreData> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { groups: [], pendingInvites: [] };
      throw err;
    }
    return storeFromJson(text);
  }

  save(data: GroupStoreData): Promise<void> {
    const text = storeToJson(data);
    const run = this.queue.then(() => this.write(text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(text: string): Promise<void> {
    // A fresh file, never one that is there (issue 10, F14): O_EXCL refuses an existing path, a
    // symlink included, so nobody who can write the folder can point the group keys elsewhere.
    // A temp file left by a crash (or planted) is removed first; unlink removes a link, not its target.
    await unlink(this.tmpPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    const fh = await open(this.tmpPath, EXCLUSIVE_CREATE, 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(this.tmpPath, this.path);
    } catch (err) {
      await unlink(this.tmpPath).catch(() => undefined);
      throw err;
    }
    // Make the rename itself durable.
    const dirHandle = await open(this.dir, 'r');
    try {
      await dirHandle.sync();
    } catch {
      // Some filesystems refuse fsync on directories; the rename is still atomic.
    } finally {
      await dirHandle.close();
    }
  }
}
