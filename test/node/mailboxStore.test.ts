import t from 'tap';
import { openDatabase } from '../../src/node/database.js';
import { MailboxQuotaExceeded, MailboxStore } from '../../src/node/mailboxStore.js';
import { spawnFixture } from './fixtures/childProcess.js';
import { tempDir } from './fixtures/tempDir.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const A = new Uint8Array(16).fill(0xa1);
const B = new Uint8Array(16).fill(0xb2);
const HOUR = 3_600_000;

function openStore(dir: string, options = { ttlMs: HOUR, quota: 100 }) {
  const db = openDatabase(dir);
  return { db, store: new MailboxStore(db, options) };
}

t.test('put, pending in insertion order, ack removes only the named entries', async (t) => {
  const { db, store } = openStore(tempDir(t, 'mailbox'));
  t.teardown(() => db.close());
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) ids.push(await store.put(A, enc.encode(`a${i}`), 1000 + i));
  const other = await store.put(B, enc.encode('b0'), 2000);
  t.ok(
    ids.every((id, i) => i === 0 || id > ids[i - 1]),
    'ids increase',
  );
  t.equal(store.count(), 6);
  t.equal(store.countFor(A), 5);
  t.equal(store.countFor(B), 1);

  const pending = store.pending(A, 10);
  t.same(
    pending.map((e) => dec.decode(e.body)),
    ['a0', 'a1', 'a2', 'a3', 'a4'],
  );
  t.same(
    pending.map((e) => e.id),
    ids,
  );
  t.same(
    pending.map((e) => e.storedAt),
    [1000, 1001, 1002, 1003, 1004],
  );
  t.same(
    store.pending(A, 2).map((e) => e.id),
    ids.slice(0, 2),
    'limit',
  );
  t.same(store.pending(A, 0), []);

  t.equal(
    await store.ack(A, [ids[1], ids[3], ids[3], 999_999, -1, 1.5]),
    2,
    'unknown, duplicate and bogus ids ignored',
  );
  t.equal(await store.ack(A, [other]), 0, "a mailbox cannot ack another mailbox's entry");
  t.equal(await store.ack(A, [ids[1]]), 0, 'acking twice removes nothing more');
  t.same(
    store.pending(A, 10).map((e) => dec.decode(e.body)),
    ['a0', 'a2', 'a4'],
  );
  t.same(
    store.pending(B, 10).map((e) => dec.decode(e.body)),
    ['b0'],
  );
  t.equal(store.count(), 4);
  t.equal(store.countFor(A), 3);
});

t.test('quota: the (quota+1)th entry is refused with a typed error, ack makes room', async (t) => {
  const { db, store } = openStore(tempDir(t, 'mailbox'), { ttlMs: HOUR, quota: 3 });
  t.teardown(() => db.close());
  // Concurrent puts: the reservation must happen before any await.
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => store.put(A, enc.encode(`${i}`), 1000)));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  const refused = results.filter((r) => r.status === 'rejected');
  t.equal(refused.length, 2);
  t.ok(refused.every((r) => r.reason instanceof MailboxQuotaExceeded));
  t.equal(store.countFor(A), 3);
  t.equal(store.pending(A, 10).length, 3, 'refused puts left nothing on disk');
  await store.put(B, enc.encode('b'), 1000);
  t.pass('other mailboxes are unaffected');
  await store.ack(A, [store.pending(A, 1)[0].id]);
  await store.put(A, enc.encode('again'), 1000);
  await t.rejects(store.put(A, enc.encode('over'), 1000), MailboxQuotaExceeded);
});

t.test('expire deletes entries older than ttl, across mailboxes, and nothing else', async (t) => {
  const { db, store } = openStore(tempDir(t, 'mailbox'), { ttlMs: 1000, quota: 100 });
  t.teardown(() => db.close());
  await store.put(A, enc.encode('old-a'), 10_000);
  await store.put(B, enc.encode('old-b'), 10_500);
  await store.put(A, enc.encode('edge'), 11_000);
  await store.put(A, enc.encode('new'), 11_500);
  t.equal(await store.expire(5000), 0, 'before anything is due');
  t.equal(await store.expire(12_000), 2, 'entries aged more than ttl');
  t.same(
    store.pending(A, 10).map((e) => dec.decode(e.body)),
    ['edge', 'new'],
    'an entry aged exactly ttl stays',
  );
  t.same(store.pending(B, 10), []);
  t.equal(store.count(), 2);
  t.equal(store.countFor(B), 0);
  t.equal(await store.expire(12_001), 1);
  t.equal(await store.expire(100_000), 1);
  t.equal(store.count(), 0);
  t.equal(await store.expire(100_000), 0);
});

t.test('expire removes more than one chunk', async (t) => {
  const { db, store } = openStore(tempDir(t, 'mailbox'), { ttlMs: 1000, quota: 20_000 });
  t.teardown(() => db.close());
  await Promise.all(Array.from({ length: 12_000 }, (_, i) => store.put(A, new Uint8Array([i & 255]), 1 + (i % 50))));
  t.equal(store.count(), 12_000);
  t.equal(await store.expire(1_000_000), 12_000);
  t.equal(store.count(), 0);
  t.same(store.pending(A, 1), []);
});

t.test('restart: entries, counts and the id counter survive close and reopen', async (t) => {
  const dir = tempDir(t, 'mailbox');
  const first = openStore(dir);
  const ids: number[] = [];
  for (let i = 0; i < 20; i++) ids.push(await first.store.put(i % 2 ? A : B, enc.encode(`m${i}`), 5000 + i));
  await first.store.ack(B, [ids[18]]);
  const lastId = ids[19];
  await first.store.ack(A, [ids[19]]);
  await first.db.close();

  const second = openStore(dir);
  t.teardown(() => second.db.close());
  t.equal(second.store.count(), 18);
  t.equal(second.store.countFor(A), 9);
  t.same(
    second.store.pending(A, 100).map((e) => e.id),
    ids.filter((_, i) => i % 2 === 1 && i !== 19),
  );
  t.same(
    second.store.pending(B, 100).map((e) => dec.decode(e.body)),
    ids.map((_, i) => `m${i}`).filter((_, i) => i % 2 === 0 && i !== 18),
  );
  const next = await second.store.put(A, enc.encode('after restart'), 9000);
  t.ok(next > lastId, `id after restart (${next}) exceeds every earlier id, even an acked one (${lastId})`);
});

t.test('crash: every id printed after its put resolved survives SIGKILL', async (t) => {
  const dir = tempDir(t, 'mailbox');
  const run = spawnFixture('mailboxCrashChild.ts', [dir]);
  const printed: Array<{ id: number; i: number }> = [];
  const exit = await run.lines((line) => {
    const [id, i] = line.split(' ').map(Number);
    printed.push({ id, i });
    // Kill while the next put is in flight, at a point that varies run to run.
    if (printed.length === 40) run.child.kill('SIGKILL');
  });
  t.equal(exit.signal, 'SIGKILL', `child was killed (stderr: ${run.stderr()})`);
  t.ok(printed.length >= 40, `child acknowledged ${printed.length} puts`);

  const { db, store } = openStore(dir, { ttlMs: HOUR, quota: 1_000_000 });
  t.teardown(() => db.close());
  const pending = new Map(store.pending(new Uint8Array(16).fill(0xab), 1_000_000).map((e) => [e.id, e]));
  const lost = printed.filter((p) => !pending.has(p.id));
  t.same(lost, [], 'no acknowledged entry lost');
  t.ok(
    printed.every((p) => dec.decode(pending.get(p.id)?.body) === `entry-${p.i}`),
    'bodies intact',
  );
  t.ok(pending.size >= printed.length, 'at most the in-flight put is extra');
  const next = await store.put(A, enc.encode('x'), 1);
  t.ok(next > Math.max(...pending.keys()), 'ids keep increasing after the crash');
});
