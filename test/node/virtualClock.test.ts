import t from 'tap';
import { sleep, TimeLimitExceeded } from '../../src/node/clock.js';
import { ClockBusy, VIRTUAL_START_MS, VirtualClock } from '../../src/node/virtualClock.js';

t.test('events run in (due time, scheduling order) and time jumps to each', async (t) => {
  const clock = new VirtualClock();
  t.equal(clock.now(), VIRTUAL_START_MS, 'a fixed start: the same key epochs in every run');
  const log: string[] = [];
  const at = (name: string) => () => log.push(`${name}@${clock.now() - VIRTUAL_START_MS}`);
  clock.setTimeout(at('c'), 30);
  clock.setTimeout(at('a'), 10);
  clock.setTimeout(at('b1'), 20);
  clock.setTimeout(at('b2'), 20);
  clock.setTimeout(at('zero'), 0);
  t.equal(clock.pending, 5);
  t.equal(clock.nextDueMs(), VIRTUAL_START_MS);
  await clock.advance(25);
  t.same(log, ['zero@0', 'a@10', 'b1@20', 'b2@20'], 'same due time: first scheduled first');
  t.equal(clock.now(), VIRTUAL_START_MS + 25, 'advance ends at now + ms');
  await clock.advance(100);
  t.same(log.at(-1), 'c@30');
  t.equal(clock.pending, 0);
  t.equal(await clock.step(), false, 'nothing left to step');
});

t.test('a zero-delay timer set by an event runs after it, at the same time', async (t) => {
  const clock = new VirtualClock();
  const log: string[] = [];
  clock.setTimeout(() => {
    log.push('first');
    clock.setTimeout(() => log.push('then zero'), 0);
  }, 5);
  clock.setTimeout(() => log.push('second at 5'), 5);
  await clock.advance(5);
  t.same(log, ['first', 'second at 5', 'then zero']);
});

t.test('intervals keep their cadence; clearing (even from inside) stops them', async (t) => {
  const clock = new VirtualClock();
  const times: number[] = [];
  const h = clock.setInterval(() => {
    times.push(clock.now() - VIRTUAL_START_MS);
    if (times.length === 4) clock.clearInterval(h);
  }, 250);
  await clock.advance(10_000);
  t.same(times, [250, 500, 750, 1000]);
  const one = clock.setTimeout(() => times.push(-1), 1);
  clock.clearTimeout(one);
  clock.clearTimeout(one);
  await clock.advance(10);
  t.equal(times.length, 4, 'a cleared timer never runs');
  t.equal(clock.pending, 0, 'and is not counted as pending');
  const other = new VirtualClock();
  const foreign = other.setTimeout(() => times.push(-2), 1);
  clock.clearTimeout(foreign);
  await other.advance(5);
  t.equal(times.at(-1), -2, 'a clock cannot cancel another clock’s timer');
});

t.test('promise chains started by an event finish before the next event', async (t) => {
  const clock = new VirtualClock();
  const log: string[] = [];
  clock.setTimeout(() => {
    void (async () => {
      await Promise.resolve();
      await null;
      log.push('chain of the first event');
    })();
  }, 10);
  clock.setTimeout(() => log.push('second event'), 10);
  await clock.advance(10);
  t.same(log, ['chain of the first event', 'second event']);
  const woke: number[] = [];
  void sleep(clock, 40).then(() => woke.push(clock.now() - VIRTUAL_START_MS));
  await clock.advance(100);
  t.same(woke, [50], 'sleep on a virtual clock resolves at its virtual time');
});

t.test('runUntil: stops as soon as the condition holds; a limit in virtual time', async (t) => {
  const clock = new VirtualClock();
  let n = 0;
  clock.setInterval(() => n++, 100);
  const took = await clock.runUntil(() => n === 7, { limitMs: 10_000 });
  t.equal(took, 700);
  t.equal(n, 7);
  const err = await clock.runUntil(() => n < 0, { limitMs: 1000, what: 'the impossible' }).catch((e: unknown) => e);
  t.ok(err instanceof TimeLimitExceeded);
  t.match((err as Error).message, /1000 ms waiting for the impossible/);
  t.equal(clock.now() - VIRTUAL_START_MS, 1700, 'time stops at the limit');
  const idle = new VirtualClock();
  const none = await idle.runUntil(() => false, { limitMs: 50 }).catch((e: unknown) => e);
  t.ok(none instanceof TimeLimitExceeded, 'with nothing scheduled it fails at once');
  await idle.until(async () => true, { limitMs: 0 });
  t.pass('an async condition that holds at once resolves without running anything');
});

t.test('one driver at a time; a throw in a raw (unguarded) event rejects the driver', async (t) => {
  const clock = new VirtualClock();
  clock.setTimeout(() => {}, 10);
  const first = clock.advance(10);
  await t.rejects(clock.advance(1), ClockBusy);
  await first;
  clock.setTimeout(() => {
    throw new Error('test-code bug');
  }, 1);
  await t.rejects(clock.advance(5), /test-code bug/);
  await clock.advance(5);
  t.pass('the clock is usable again');
});

t.test('the same schedule gives the same trace, run after run', async (t) => {
  const run = async () => {
    const clock = new VirtualClock();
    const trace: string[] = [];
    let x = 1;
    const rnd = () => {
      x = (x * 48271) % 2147483647;
      return x / 2147483647;
    };
    const spawn = (id: number, depth: number) => {
      clock.setTimeout(
        () => {
          trace.push(`${id}@${clock.preciseNow() - VIRTUAL_START_MS}`);
          if (depth < 6) for (let k = 0; k < 2; k++) spawn(id * 2 + k, depth + 1);
        },
        Math.floor(rnd() * 50),
      );
    };
    spawn(1, 0);
    await clock.advance(10_000);
    return trace;
  };
  const a = await run();
  t.equal(a.length, 127);
  t.same(await run(), a);
});
