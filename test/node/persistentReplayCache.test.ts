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

t.test('dropBefore forgets old epochs in memory and on disk (batch rows and old per-tag rows)', async (t) => {
  const dir = tempDir(t, 'replay');
  const db = openDatabase(dir);
  // Epoch 3 as an older version stored it: one row per tag (key epoch || tag), more than one deletion chunk.
  await db.replay.transaction(() => {
    for (let i = 0; i < 12_000; i++) {
      const key = new Uint8Array(36);
      new DataView(key.buffer).setUint32(0, 3, false);
      key.set(replayTag(i), 4);
      db.replay.put(key, new Uint8Array(0));
    }
  });
  const cache = new PersistentReplayCache(db);
  t.equal(cache.size(), 12_000, 'old per-tag rows are read');
  t.equal(cache.checkAndInsert(3, replayTag(11_999)), true, 'and refused as replays');
  for (let i = 0; i < 10; i++) cache.checkAndInsert(4, replayTag(i));
  for (let i = 0; i < 10; i++) cache.checkAndInsert(5, replayTag(i));
  await cache.flush();
  t.same(storedEpochs(db), [3, 4, 5]);
  t.equal(db.replay.getKeysCount(), 12_002, 'new tags are written one row per event turn, not per tag');

  cache.dropBefore(5);
  t.equal(cache.size(), 10, 'memory drops at once');
  t.equal(cache.checkAndInsert(4, replayTag(0)), false, 'a dropped epoch no longer remembers');
  await cache.flush();
  t.same(storedEpochs(db), [4, 5], 'only the re-inserted epoch-4 batch is left of epoch 4');
  t.equal(db.replay.getKeysCount(), 2);
  await db.close();

  const db2 = openDatabase(dir);
  t.teardown(() => db2.close());
  const reopened = new PersistentReplayCache(db2);
  t.equal(reopened.size(), 11);
  t.equal(reopened.checkAndInsert(3, replayTag(0)), false, 'dropped tags stay gone after restart');
  t.equal(reopened.checkAndInsert(4, replayTag(1)), false, 'dropped epoch-4 tags stay gone, too');
  t.equal(reopened.checkAndInsert(4, replayTag(0)), true, 'the re-inserted one is still there');
  t.equal(reopened.checkAndInsert(5, replayTag(9)), true);
  await reopened.flush();
});

t.test('memory is fixed per epoch whatever the traffic; persisting stops at twice the capacity', async (t) => {
  const dir = tempDir(t, 'replay');
  const db = openDatabase(dir);
  const capacity = 1000;
  const cache = new PersistentReplayCache(db, { capacityPerEpoch: capacity });
  cache.checkAndInsert(1, replayTag(0));
  const bytes = cache.memoryBytes();
  t.ok(bytes > 0 && bytes < 5000, `filter for 1000 tags at 1e-6 is ${bytes} bytes (about 3.6 per tag)`);
  for (let i = 1; i < 5 * capacity; i++) cache.checkAndInsert(1, replayTag(i));
  t.equal(cache.memoryBytes(), bytes, 'five times the capacity later, not one byte more');
  await cache.flush();
  let stored = 0;
  for (const { key, value } of db.replay.getRange()) if (key.length === 8) stored += value.length / 33;
  t.equal(stored, 2 * capacity, 'only the first 2 × capacity tags are written');
  const size = cache.size();
  t.ok(
    size > 4 * capacity && size < 5 * capacity,
    `${size} of ${5 * capacity} counted fresh: far past the capacity, false positives grow as designed`,
  );
  await db.close();
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
