import fc from 'fast-check';
import t from 'tap';
import { BoundedQueue, DelayQueue } from '../../src/node/boundedQueue.js';

t.test('BoundedQueue matches an array model and never exceeds capacity', async (t) => {
  type Op = { push: number } | { shift: true };
  const op = fc.oneof(
    fc.integer().map((n): Op => ({ push: n })),
    fc.constant<Op>({ shift: true }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
      const q = new BoundedQueue<number>(capacity);
      const model: number[] = [];
      for (const o of ops) {
        if ('push' in o) {
          const accepted = model.length < capacity;
          if (accepted) model.push(o.push);
          if (q.push(o.push) !== accepted) return false;
        } else if (q.shift() !== model.shift()) return false;
        if (q.length !== model.length || q.length > capacity) return false;
      }
      return true;
    }),
  );
  t.pass('property held');
});

t.test('BoundedQueue basics', async (t) => {
  const q = new BoundedQueue<string>(2);
  t.equal(q.capacity, 2);
  t.equal(q.shift(), undefined);
  t.ok(q.push('a'));
  t.ok(q.push('b'));
  t.notOk(q.push('c'), 'full: refused');
  t.equal(q.length, 2);
  t.equal(q.shift(), 'a');
  t.ok(q.push('d'), 'wraps around');
  t.same([q.shift(), q.shift(), q.shift()], ['b', 'd', undefined]);
  t.throws(() => new BoundedQueue(0));
  t.throws(() => new DelayQueue(1.5));
});

t.test('DelayQueue matches a sorted-list model; ties leave in insertion order', async (t) => {
  type Op = { push: number; due: number } | { pop: number };
  // Few distinct due times, so ties are common.
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ push: fc.integer(), due: fc.integer({ min: 0, max: 20 }) }),
    fc.record({ pop: fc.integer({ min: -1, max: 22 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
      const q = new DelayQueue<number>(capacity);
      // Model: entries kept in arrival order; due ones leave sorted by due time, stably.
      let model: Array<{ item: number; due: number }> = [];
      for (const o of ops) {
        if ('push' in o) {
          const accepted = model.length < capacity;
          if (accepted) model.push({ item: o.push, due: o.due });
          if (q.push(o.push, o.due) !== accepted) return false;
        } else {
          const due = model.filter((e) => e.due <= o.pop).sort((a, b) => a.due - b.due);
          model = model.filter((e) => e.due > o.pop);
          const got = q.popDue(o.pop);
          if (JSON.stringify(got) !== JSON.stringify(due.map((e) => e.item))) return false;
        }
        const next = model.length === 0 ? undefined : Math.min(...model.map((e) => e.due));
        if (q.length !== model.length || q.nextDueMs() !== next) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('property held');
});

t.test('DelayQueue basics', async (t) => {
  const q = new DelayQueue<string>(3);
  t.equal(q.nextDueMs(), undefined);
  t.same(q.popDue(1e12), []);
  t.ok(q.push('late', 300));
  t.ok(q.push('early', 100));
  t.ok(q.push('also-early', 100));
  t.notOk(q.push('no-room', 50), 'full: refused even if due sooner');
  t.equal(q.nextDueMs(), 100);
  t.same(q.popDue(99), []);
  t.same(q.popDue(100), ['early', 'also-early']);
  t.equal(q.length, 1);
  t.same(q.popDue(1000), ['late']);
  t.equal(q.length, 0);
});
