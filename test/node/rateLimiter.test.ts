/**
 * Per-previous-hop budgets (src/node/rateLimiter.ts, src/proxy/queueAdmission.ts, issue 10 F9):
 * token buckets refill at their rate up to the burst, the tracked-address table is bounded, and a
 * previous hop or long delays cannot take more than their share of a proxy's delay queue.
 */
import t from 'tap';
import { PeerRateLimiter, TokenBucket } from '../../src/node/rateLimiter.js';
import { QueueAdmission } from '../../src/proxy/queueAdmission.js';

t.test('a bucket allows its burst, then its rate', async (t) => {
  const b = new TokenBucket({ perSecond: 10, burst: 5 }, 0);
  let ok = 0;
  for (let i = 0; i < 20; i++) if (b.take(0)) ok++;
  t.equal(ok, 5, 'the burst at once');
  t.notOk(b.take(50), 'half a token after 50 ms');
  t.ok(b.take(100), 'one token after 100 ms');
  t.equal(Math.round(b.available(10_000)), 5, 'refills no higher than the burst');
  t.throws(() => new TokenBucket({ perSecond: 0, burst: 1 }, 0));
});

t.test('per-address buckets, one shared cap, a bounded table', async (t) => {
  const l = new PeerRateLimiter({ perSecond: 10, burst: 10 }, { perSecond: 100, burst: 25 }, 0, 4);
  let a = 0;
  for (let i = 0; i < 50; i++) if (l.allow('a', 0)) a++;
  t.equal(a, 10, 'one address gets its own burst');
  let others = 0;
  for (const p of ['b', 'c', 'd']) for (let i = 0; i < 10; i++) if (l.allow(p, 0)) others++;
  t.equal(others, 15, 'the shared cap (25) stops the crowd');
  t.equal(l.refused, 40 + 15);
  for (let i = 0; i < 100; i++) l.allow(`x${i}`, 1000);
  t.equal(l.tracked(), 4, 'never more addresses than the bound');
});

t.test('queue admission: a share per previous hop, a share for long delays', async (t) => {
  const q = new QueueAdmission(80);
  t.equal(q.perHopCap, 10);
  t.equal(q.longCap, 40);
  let admitted = 0;
  for (let i = 0; i < 20; i++) if (q.admit('hop', false) === null) admitted++;
  t.equal(admitted, 10, 'one hop holds at most 1/8 of the queue');
  t.equal(q.admit('hop', false), 'hop_queue_share');
  q.release('hop', false);
  t.equal(q.admit('hop', false), null, 'room again once one leaves');
  let long = 0;
  for (let h = 0; h < 10; h++) for (let i = 0; i < 10; i++) if (q.admit(`l${h}`, true) === null) long++;
  t.equal(long, 40, 'long delays together hold at most half');
  t.equal(q.admit('short', false), null, 'short ones still get in');
  t.ok(QueueAdmission.isLong(5000, 200), '5 s at a 200 ms mean is long');
  t.notOk(QueueAdmission.isLong(1000, 200), '1 s at a 200 ms mean is not');
  t.notOk(QueueAdmission.isLong(0, 0), 'no delay is never long');
});
