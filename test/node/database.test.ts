import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../src/node/database.js';
import { tempDir } from './fixtures/tempDir.js';

t.test('creates dir/db owner-only and round-trips binary keys through a restart', async (t) => {
  const dir = tempDir(t, 'database');
  const db = openDatabase(dir);
  t.equal(fs.statSync(path.join(dir, 'db')).mode & 0o777, 0o700);
  const key = new Uint8Array([0, 1, 2, 255]);
  await db.replay.put(key, new Uint8Array([9]));
  await db.mailboxes.put(key, new Uint8Array([7, 7]));
  await db.meta.put('counter', 42);
  await db.close();
  await db.close(); // idempotent

  const again = openDatabase(dir);
  t.same([...again.replay.get(key)!], [9]);
  t.same([...again.mailboxes.get(key)!], [7, 7]);
  t.equal(again.meta.get('counter'), 42);
  t.equal(again.mailboxExpiry.get(key), undefined, 'sub-databases are separate');
  await again.close();
});

t.test('tightens an existing group-readable db folder', async (t) => {
  const dir = tempDir(t, 'database');
  fs.mkdirSync(path.join(dir, 'db'), { mode: 0o755 });
  fs.chmodSync(path.join(dir, 'db'), 0o755);
  const db = openDatabase(dir);
  t.equal(fs.statSync(path.join(dir, 'db')).mode & 0o777, 0o700);
  await db.close();
});
