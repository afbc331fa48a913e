import { stat } from 'node:fs';
import t from 'tap';
import { GuardedClock, guarded, pollingDriver, SystemClock, sleep, TimeLimitExceeded } from '../../src/node/clock.js';
import { VirtualClock } from '../../src/node/virtualClock.js';

t.test('SystemClock: epoch milliseconds, timers, and a zero delay that skips the 1 ms timer floor', async (t) => {
  const clock = new SystemClock();
  const before = Date.now();
  const now = clock.now();
  t.ok(Number.isInteger(now) && now >= before && now <= Date.now(), 'now() is Date.now()');
  t.ok(Math.abs(clock.preciseNow() - Date.now()) < 50, 'preciseNow() is epoch ms too');

  // Scheduled from an I/O callback, where Node's order is defined: immediates before any timer.
  const order: string[] = [];
  await new Promise<void>((resolve) =>
    stat(import.meta.filename, () => {
      clock.setTimeout(() => {
        order.push('timeout 1 ms');
        resolve();
      }, 1);
      clock.setTimeout(() => order.push('zero'), 0);
    }),
  );
  t.same(order, ['zero', 'timeout 1 ms'], 'a zero delay runs in this turn, before a 1 ms timer');

  let ticks = 0;
  const every = clock.setInterval(() => ticks++, 1);
  await pollingDriver(clock, 1).until(() => ticks >= 3, { limitMs: 30_000, what: 'three interval ticks' });
  clock.clearInterval(every);
  const seen = ticks;
  const cancelled = clock.setTimeout(() => order.push('cancelled'), 1);
  const cancelledZero = clock.setTimeout(() => order.push('cancelled zero'), 0);
  clock.clearTimeout(cancelled);
  clock.clearTimeout(cancelledZero);
  // Not a wait for something to not happen: Node runs due timers in due order, so a live 1 ms
  // interval or timer, and any immediate, would run before this 5 ms timer fires.
  await new Promise<void>((resolve) => setTimeout(resolve, 5));
  t.equal(ticks, seen, 'a cleared interval stops');
  t.notOk(order.includes('cancelled') || order.includes('cancelled zero'), 'cleared timers never run');
  clock.clearTimeout(null);
  clock.clearInterval(undefined);
});

t.test('guarded: a throw or a rejection goes to the reporter, never into the event loop', async (t) => {
  const seen: Array<[string, string]> = [];
  const report = (err: unknown, where: string) => seen.push([(err as Error).message, where]);
  const f = guarded(
    (x: number) => {
      if (x === 1) throw new Error('sync bug');
      if (x === 2) return Promise.reject(new Error('async bug'));
      return x;
    },
    report,
    'timer',
  );
  f(0);
  f(1);
  f(2);
  await new Promise((r) => setImmediate(r));
  t.same(seen, [
    ['sync bug', 'timer'],
    ['async bug', 'timer'],
  ]);
});

t.test('GuardedClock: a timer that throws is reported and the clock keeps running', async (t) => {
  const inner = new VirtualClock();
  const errors: string[] = [];
  const clock = new GuardedClock(inner, (err, where) => errors.push(`${where}: ${(err as Error).message}`));
  let later = 0;
  let ticks = 0;
  clock.setTimeout(() => {
    throw new TypeError('a bug in a cover timer');
  }, 10);
  const every = clock.setInterval(() => {
    ticks++;
    if (ticks === 2) throw new Error('an interval bug');
  }, 5);
  clock.setTimeout(() => later++, 20);
  await inner.advance(30);
  t.same(errors, ['timer: a bug in a cover timer', 'timer: an interval bug']);
  t.equal(later, 1, 'later timers still run');
  t.equal(ticks, 6, 'the interval kept ticking after its throw');
  clock.clearInterval(every);
  t.equal(clock.now(), inner.now(), 'time is the inner clock’s');
  t.equal(clock.preciseNow(), inner.preciseNow());
});

t.test('pollingDriver: until resolves on the condition and fails after its limit', async (t) => {
  const clock = new SystemClock();
  const driver = pollingDriver(clock, 5);
  let n = 0;
  await driver.until(() => ++n >= 3, { limitMs: 5000 });
  t.equal(n, 3);
  const err = await driver.until(() => false, { limitMs: 30, what: 'nothing' }).catch((e: unknown) => e);
  t.ok(err instanceof TimeLimitExceeded, 'a typed error');
  t.match((err as Error).message, /30 ms waiting for nothing/);
  const start = Date.now();
  await sleep(clock, 10);
  t.ok(Date.now() - start >= 9, 'sleep waits on the clock');
});
