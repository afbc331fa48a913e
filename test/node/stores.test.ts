/**
 * One contract, two implementations (src/node/stores.ts): the LMDB/file stores a daemon runs on
 * and the memory stores of virtual time must behave alike, or a virtual-time test would prove
 * nothing about a daemon.
 */
import t, { type Test } from 'tap';
import { openLmdbStores } from '../../src/node/lmdbStores.js';
import { MailboxQuotaExceeded } from '../../src/node/mailboxStore.js';
import { memoryStores } from '../../src/node/memoryStores.js';
import type { NodeStores } from '../../src/node/stores.js';
import { InvalidArgument } from '../../src/scramble/errors.js';

const OPTIONS = { ttlMs: 60_000, quota: 3 };
const box = (n: number) => new Uint8Array(16).fill(n);
const body = (s: string) => new Uint8Array(Buffer.from(s));
const text = (b: Uint8Array) => Buffer.from(b).toString();
const T = 1_000_000;

const IMPLEMENTATIONS: Array<[string, (t: Test) => NodeStores]> = [
  [
    'lmdb',
    (t) => {
      const s = openLmdbStores(t.testdir(), OPTIONS);
      t.teardown(() => s.close());
      return s;
    },
  ],
  ['memory', () => memoryStores(OPTIONS)],
];

for (const [name, open] of IMPLEMENTATIONS) {
  t.test(`${name}: mailboxes`, async (t) => {
    const { mailboxes: m } = open(t);
    const a = m.store(box(1), body('a1'), T);
    const b = m.store(box(2), body('b1'), T + 1);
    const a2 = m.store(box(1), body('a2'), T + 2);
    t.ok(a.id > 0 && b.id > a.id && a2.id > b.id, 'ids increase across mailboxes');
    t.same(await Promise.all([a.durable, b.durable, a2.durable]), [a.id, b.id, a2.id], 'durable resolves with the id');
    t.equal(m.count(), 3);
    t.equal(m.durableCount(), 3);
    t.equal(m.countFor(box(1)), 2);
    t.same(
      m.pending(box(1), 10).map((e) => [e.id, text(e.body), e.storedAt]),
      [
        [a.id, 'a1', T],
        [a2.id, 'a2', T + 2],
      ],
      'oldest first, with body and time',
    );
    t.equal(m.pending(box(1), 1).length, 1, 'limit');
    t.same(m.pending(box(1), 0), []);
    t.same(m.pending(box(9), 10), [], 'an unknown mailbox is empty');

    await m.store(box(1), body('a3'), T + 3).durable;
    t.throws(() => m.store(box(1), body('a4'), T + 4), MailboxQuotaExceeded, 'quota, synchronously');
    t.equal(await m.ack(box(2), [a.id, a2.id]), 0, "another mailbox's ids are ignored");
    t.equal(await m.ack(box(1), [a.id, a.id, -1, 1.5, 999_999]), 1, 'only real entries count, each once');
    t.equal(m.countFor(box(1)), 2);
    await m.store(box(1), body('a4'), T + 4).durable;
    t.equal(m.countFor(box(1)), 3, 'room again after an ack');

    t.equal(await m.expire(T + 60_000), 0, 'nothing older than the TTL yet');
    t.equal(await m.expire(T + 60_003), 2, 'entries stored before now - TTL go (b1 at T, a2 at T+2)');
    t.same(
      m.pending(box(1), 10).map((e) => text(e.body)),
      ['a3', 'a4'],
    );
    t.equal(m.count(), 2);
    t.throws(() => m.store(new Uint8Array(15), body('x'), T), InvalidArgument);
    t.throws(() => m.store(box(1), body('x'), 1.5), InvalidArgument);
  });

  t.test(`${name}: accounts, groups, replay tags`, async (t) => {
    const s = open(t);
    t.notOk(s.accounts.has(box(5)));
    await s.accounts.add(box(5), new Uint8Array(32).fill(7));
    t.ok(s.accounts.has(box(5)), 'an added account is there once add resolves');
    t.notOk(s.accounts.has(box(6)));

    t.same(await s.groups.load(), { groups: [], pendingInvites: [] }, 'no groups at first');
    const data = { groups: [], pendingInvites: [], rotatedAt: { ['ab'.repeat(16)]: 1234 }, left: {} };
    await s.groups.save(data);
    t.same(await s.groups.load(), data, 'what was saved loads back');

    const tag = new Uint8Array(32).fill(3);
    t.equal(s.replay.checkAndInsert(7, tag), false, 'first sight');
    t.equal(s.replay.checkAndInsert(7, tag), true, 'replay');
    t.equal(s.replay.checkAndInsert(8, tag), false, 'another epoch');
    t.equal(s.replay.size(), 2);
    s.replay.dropBefore(8);
    t.equal(s.replay.size(), 1);
    t.equal(s.replay.checkAndInsert(7, tag), false, 'a dropped epoch forgets');
    await s.flush();
  });
}
