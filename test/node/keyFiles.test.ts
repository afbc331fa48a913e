import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  InsecureKeyFile,
  MalformedKeyFile,
  readPublicFile,
  readSecretFile,
  writePublicFile,
  writeSecretFile,
} from '../../src/node/keyFiles.js';
import { tempDir } from './fixtures/tempDir.js';

const KEY = new Uint8Array(Array.from({ length: 32 }, (_, i) => i * 7));
const mode = (p: string) => fs.statSync(p).mode & 0o777;

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('secret file: 0600 in a new 0700 folder, hex with a newline, round-trips', async (t) => {
  const dir = tempDir(t, 'keys');
  const file = path.join(dir, 'nested', 'identity.key');
  const oldUmask = process.umask(0o000);
  t.teardown(() => process.umask(oldUmask));
  writeSecretFile(file, KEY);
  t.equal(mode(path.join(dir, 'nested')), 0o700, 'folder is owner-only even with umask 000');
  t.equal(mode(file), 0o600);
  t.equal(fs.readFileSync(file, 'utf8'), `${Buffer.from(KEY).toString('hex')}\n`);
  t.same(readSecretFile(file), KEY);
  t.same(fs.readdirSync(path.join(dir, 'nested')), ['identity.key'], 'no temp file left behind');
});

t.test('rewrite replaces atomically and keeps 0600', async (t) => {
  const file = path.join(tempDir(t, 'keys'), 'k');
  writeSecretFile(file, KEY);
  const next = new Uint8Array(32).fill(1);
  writeSecretFile(file, next);
  t.same(readSecretFile(file), next);
  t.equal(mode(file), 0o600);
});

t.test('readSecretFile refuses group/other-readable files, naming path and fix', async (t) => {
  const file = path.join(tempDir(t, 'keys'), 'loose.key');
  writeSecretFile(file, KEY);
  for (const loose of [0o640, 0o604, 0o644, 0o660]) {
    fs.chmodSync(file, loose);
    const err = catchError(() => readSecretFile(file));
    t.ok(err instanceof InsecureKeyFile, `mode ${loose.toString(8)} refused`);
    t.equal((err as InsecureKeyFile).path, file);
    t.match((err as Error).message, `chmod 600 ${file}`);
  }
  fs.chmodSync(file, 0o400);
  t.same(readSecretFile(file), KEY, 'read-only for the owner is fine');
});

t.test('public file: 0644, readable whatever its mode', async (t) => {
  const oldUmask = process.umask(0o077);
  t.teardown(() => process.umask(oldUmask));
  const file = path.join(tempDir(t, 'keys'), 'pub', 'identity.pub');
  writePublicFile(file, KEY);
  t.equal(mode(file), 0o644, 'world-readable even under a strict umask');
  t.same(readPublicFile(file), KEY);
});

t.test('malformed key files are typed errors', async (t) => {
  const dir = tempDir(t, 'keys');
  for (const [name, text] of [
    ['empty', ''],
    ['odd', 'abc\n'],
    ['nothex', 'zz\n'],
  ]) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    t.throws(() => readSecretFile(file), MalformedKeyFile, name);
  }
  t.throws(() => readSecretFile(path.join(dir, 'absent')), { code: 'ENOENT' });
});
