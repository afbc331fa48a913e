import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Key files on disk. Format: lowercase hex of the raw key bytes plus one
 * trailing newline; hex so an operator can `cat` a public key into a config
 * or a chat without a base64 flavour to get wrong, and so a truncated or
 * mangled file fails to parse instead of yielding a different key.
 *
 * Writes are atomic (temp file, fsync, rename, fsync of the folder): a crash
 * leaves the old key or the new one, never a half-written one.
 */
export class InsecureKeyFile extends Error {
  readonly path: string;
  readonly mode: number;
  constructor(filePath: string, mode: number) {
    super(
      `secret key file ${filePath} is readable by group or others (mode ${(mode & 0o777).toString(8)}); ` +
        `fix with: chmod 600 ${filePath}`,
    );
    this.name = 'InsecureKeyFile';
    this.path = filePath;
    this.mode = mode;
  }
}

export class MalformedKeyFile extends Error {
  readonly path: string;
  constructor(filePath: string, why: string) {
    super(`key file ${filePath}: ${why}; expected hex digits and a trailing newline`);
    this.name = 'MalformedKeyFile';
    this.path = filePath;
  }
}

/** Writes a secret key owner-only (0600), creating the folder owner-only (0700). */
export function writeSecretFile(filePath: string, bytes: Uint8Array): void {
  writeAtomic(filePath, bytes, 0o600);
}

/** Writes a public key world-readable (0644); a folder it must create is still 0700. */
export function writePublicFile(filePath: string, bytes: Uint8Array): void {
  writeAtomic(filePath, bytes, 0o644);
}

/**
 * Reads a secret key, refusing one that group or others could read: a key
 * another local user may have copied can no longer be trusted to be secret.
 */
export function readSecretFile(filePath: string): Uint8Array {
  const mode = fs.statSync(filePath).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) throw new InsecureKeyFile(filePath, mode);
  return readKeyFile(filePath);
}

export function readPublicFile(filePath: string): Uint8Array {
  return readKeyFile(filePath);
}

function readKeyFile(filePath: string): Uint8Array {
  const text = fs.readFileSync(filePath, 'utf8').trim();
  if (text.length === 0) throw new MalformedKeyFile(filePath, 'file is empty');
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) throw new MalformedKeyFile(filePath, 'not hex');
  return new Uint8Array(Buffer.from(text, 'hex'));
}

function writeAtomic(filePath: string, bytes: Uint8Array, mode: number): void {
  const dir = path.dirname(filePath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(filePath)}.${randomBytes(6).toString('hex')}.tmp`);
  const text = `${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}\n`;
  // 'wx': never follow or reuse a file someone planted at the temp name.
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    // The umask may have narrowed `mode`; set it exactly (0644 public, 0600 secret).
    fs.fchmodSync(fd, mode);
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, filePath);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

/** Makes the rename itself durable; some platforms cannot open a folder for fsync. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Best effort: the file content is already synced.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
