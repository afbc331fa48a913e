import t from 'tap';
import { openDatabase } from '../../src/node/database.js';
import { PersistentReplayCache } from '../../src/node/persistentReplayCache.js';
import { spawnFixture } from './fixtures/childProcess.js';
import { replayTag } from './fixtures/replayTags.js';
import { tempDir } from './fixtures/tempDir.js';

function storedEpochs(db: ReturnType<typeof openDatabase>): number[] {
  const epochs = new Set<number>();
  for (const key of db.replay.getKeys()) epochs.add(Buffer.from(key).readUInt32BE(0));
  return [...epochs].sort((a, b) => a - b);
}

t.test('answers like the in-memory cache: per-epoch replay detection', async (t) => {
  const db = openDatabase(tempDir(t, 'replay'));
  t.teardown(() => db.close());
  const cache = new PersistentReplayCache(db);
  t.equal(cache.checkAndInsert(1, replayTag(0)), false);
  t.equal(cache.checkAndInsert(1, replayTag(0)), true, 'same tag, same epoch: replay');
  t.equal(cache.checkAndInsert(2, replayTag(0)), false, 'same tag under another epoch key is new');
  t.equal(cache.checkAndInsert(1, replayTag(0).subarray(0, 31)), false, 'a prefix is a different tag');
  t.equal(cache.size(), 3);
  t.throws(() => cache.checkAndInsert(-1, replayTag(1)));
  t.throws(() => cache.checkAndInsert(1, new Uint8Array(0)));
  await cache.flush();
});

t.test('restart: tags flushed before close are still replays after reopen', async (t) => {
  const dir = tempDir(t, 'replay');
  const db = openDatabase(dir);
  const cache = new PersistentReplayCache(db);
  for (let i = 0; i < 1000; i++) cache.checkAndInsert(10 + (i % 3), replayTag(i));
  await cache.flush();
  await db.close();

  const db2 = openDatabase(dir);
  t.teardown(() => db2.close());
  const again = new PersistentReplayCache(db2);
  t.equal(again.size(), 1000);
  let replays = 0;
  for (let i = 0; i < 1000; i++) if (again.checkAndInsert(10 + (i % 3), replayTag(i))) replays++;
  t.equal(replays, 1000, 'every tag reported as replay');
  t.equal(again.checkAndInsert(11, replayTag(0)), false, 'tag 0 was stored under epoch 10 only');
});

t.test('dropBefore forgets old epochs in memory and on disk', async (t) => {
  const dir = tempDir(t, 'replay');
  const db = openDatabase(dir);
  const cache = new PersistentReplayCache(db);
  // More than one deletion chunk in epoch 3.
  for (let i = 0; i < 12_000; i++) cache.checkAndInsert(3, replayTag(i));
  for (let i = 0; i < 10; i++) cache.checkAndInsert(4, replayTag(i));
  for (let i = 0; i < 10; i++) cache.checkAndInsert(5, replayTag(i));
  await cache.flush();
  t.same(storedEpochs(db), [3, 4, 5]);

  cache.dropBefore(5);
  t.equal(cache.size(), 10, 'memory drops at once');
  t.equal(cache.checkAndInsert(4, replayTag(0)), false, 'a dropped epoch no longer remembers');
  await cache.flush();
  t.same(storedEpochs(db), [4, 5], 'the re-inserted tag is the only epoch-4 key left');
  t.equal(db.replay.getKeysCount(), 11);
  await db.close();

  const db2 = openDatabase(dir);
  t.teardown(() => db2.close());
  const reopened = new PersistentReplayCache(db2);
  t.equal(reopened.size(), 11);
  t.equal(reopened.checkAndInsert(3, replayTag(0)), false, 'dropped tags stay gone after restart');
  t.equal(reopened.checkAndInsert(5, replayTag(9)), true);
});

t.test('crash: tags inserted ~50 ms before SIGKILL (never flushed) survive', async (t) => {
  const dir = tempDir(t, 'replay');
  const count = 500;
  const run = spawnFixture('replayCrashChild.ts', [dir, String(count)]);
  const exit = await run.lines((line) => {
    if (line === 'inserted') setTimeout(() => run.child.kill('SIGKILL'), 50);
  });
  t.equal(exit.signal, 'SIGKILL', `child was killed (stderr: ${run.stderr()})`);

  const db = openDatabase(dir);
  t.teardown(() => db.close());
  const cache = new PersistentReplayCache(db);
  t.equal(cache.size(), count);
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!cache.checkAndInsert(7 + (i % 2), replayTag(i))) missing.push(i);
  t.same(missing, [], 'every tag is a replay after the crash');
});
