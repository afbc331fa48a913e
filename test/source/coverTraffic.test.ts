/**
 * Loopix-style sending (src/source/coverTraffic.ts), driven by a virtual clock and a recording `send`
 * (the unit under test is CoverTraffic itself; `send`, `makeDrop` and `makeLoop` are its inputs).
 * Virtual time makes the statistics exact in time and cheap to run long; the randomness is the
 * seeded DRBG, so every run sees the same stream and a bound that holds holds every time.
 */
import t, { type Test } from 'tap';
import { poissonGapMs } from '../../src/node/routes.js';
import type { Peer } from '../../src/node/transport.js';
import { VirtualClock } from '../../src/node/virtualClock.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';
import { seededCrypto } from '../../src/sim/seededCrypto.js';
import { type CoverOptions, CoverTraffic } from '../../src/source/coverTraffic.js';

const crypto = seededCrypto(getCrypto('sodium'), 'cover traffic test');
const P1: Peer = { host: '127.0.0.1', port: 7001 };
const P2: Peer = { host: '127.0.0.1', port: 7002 };

const REAL = 1;
const DROP = 2;
const LOOP = 3;
const packet = (kind: number, n: number) => new Uint8Array([kind, n >> 8, n & 0xff]);
const numberOf = (p: Uint8Array) => ((p[1] as number) << 8) | (p[2] as number);

interface Harness {
  clock: VirtualClock;
  cover: CoverTraffic;
  sent: Array<{ packet: Uint8Array; to: Peer; queuedAtSend: number; at: number }>;
  queueFull: number;
}

function harness(t: Test, opts: Partial<CoverOptions>): Harness {
  let drops = 0;
  let loops = 0;
  const clock = new VirtualClock();
  const h: Harness = { clock, cover: undefined as unknown as CoverTraffic, sent: [], queueFull: 0 };
  h.cover = new CoverTraffic(crypto, clock, {
    lambdaPerSecond: 0,
    loopPerSecond: 0,
    queueCapacity: 100,
    makeDrop: () => ({ packet: packet(DROP, drops++), to: P2 }),
    makeLoop: () => ({ packet: packet(LOOP, loops++), to: P2 }),
    send: (p, to) => h.sent.push({ packet: p, to, queuedAtSend: h.cover.queued(), at: clock.preciseNow() }),
    onQueueFull: () => h.queueFull++,
    ...opts,
  });
  t.teardown(() => h.cover.stop());
  return h;
}

/** Runs virtual time until `cond` holds; false if it does not within `limitMs`. */
async function within(h: Harness, cond: () => boolean, limitMs: number): Promise<boolean> {
  try {
    await h.clock.runUntil(cond, { limitMs });
    return true;
  } catch {
    return false;
  }
}

const kinds = (h: Harness) => h.sent.map((s) => s.packet[0]);

t.test('lambda 0: cover is off and enqueue sends at once', async (t) => {
  const h = harness(t, { lambdaPerSecond: 0, queueCapacity: 0 });
  t.notOk(h.cover.active);
  h.cover.start();
  const p = packet(REAL, 1);
  t.equal(h.cover.enqueue(p, P1), true);
  t.equal(h.sent.length, 1, 'sent synchronously, even with a zero-capacity queue');
  t.equal(h.sent[0]?.packet, p);
  t.same(h.sent[0]?.to, P1);
  t.equal(h.cover.queued(), 0);
  await h.clock.advance(100);
  t.equal(h.sent.length, 1, 'no drops or loops when both rates are 0');
  t.same(h.cover.stats, { real: 1, drop: 0, loop: 0, queueFull: 0 });
  t.equal(h.queueFull, 0);
});

t.test('lambda > 0: real packets leave only at Poisson events, before any drop', async (t) => {
  const h = harness(t, { lambdaPerSecond: 100 });
  t.ok(h.cover.active);
  for (let i = 0; i < 3; i++) t.equal(h.cover.enqueue(packet(REAL, i), P1), true);
  t.equal(h.sent.length, 0, 'nothing sent synchronously');
  t.equal(h.cover.queued(), 3);
  await h.clock.advance(60);
  t.equal(h.sent.length, 0, 'nothing leaves before start()');
  h.cover.start();
  t.equal(h.sent.length, 0, 'start() only schedules');
  t.ok(await within(h, () => h.sent.length >= 6, 3000), 'events happen');
  h.cover.stop();
  t.same(kinds(h).slice(0, 3), [REAL, REAL, REAL], 'the queued real packets go first');
  t.same(
    h.sent.slice(0, 3).map((s) => numberOf(s.packet)),
    [0, 1, 2],
    'in FIFO order',
  );
  t.same(
    h.sent.slice(0, 3).map((s) => s.to),
    [P1, P1, P1],
    'to their own first hop',
  );
  t.ok(
    kinds(h)
      .slice(3)
      .every((k) => k === DROP),
    'then drops, once the queue is empty',
  );
  t.equal(h.cover.stats.real, 3);
  t.equal(h.cover.stats.drop, h.sent.length - 3);
});

t.test('queue capacity is enforced', async (t) => {
  const h = harness(t, { lambdaPerSecond: 50, queueCapacity: 2 });
  t.equal(h.cover.enqueue(packet(REAL, 0), P1), true);
  t.equal(h.cover.enqueue(packet(REAL, 1), P1), true);
  t.equal(h.cover.enqueue(packet(REAL, 2), P1), false, 'third packet refused');
  t.equal(h.cover.enqueue(packet(REAL, 3), P1), false, 'fourth too');
  t.equal(h.queueFull, 2, 'onQueueFull called for each refusal');
  t.equal(h.cover.stats.queueFull, 2);
  t.equal(h.cover.queued(), 2);
  h.cover.start();
  t.ok(await within(h, () => h.sent.length >= 1, 3000));
  t.equal(h.cover.enqueue(packet(REAL, 4), P1), true, 'room again after an event');
  t.ok(await within(h, () => h.cover.stats.real >= 3, 3000));
  h.cover.stop();
  t.same(
    h.sent.filter((s) => s.packet[0] === REAL).map((s) => numberOf(s.packet)),
    [0, 1, 4],
    'refused packets never leave',
  );
});

t.test('stop() stops drops and loops; enqueued packets then wait', async (t) => {
  const h = harness(t, { lambdaPerSecond: 200, loopPerSecond: 200 });
  h.cover.start();
  t.ok(await within(h, () => h.cover.stats.drop >= 3 && h.cover.stats.loop >= 3, 3000), 'drops and loops flow');
  h.cover.stop();
  const n = h.sent.length;
  t.equal(h.cover.enqueue(packet(REAL, 9), P1), true);
  await h.clock.advance(150);
  t.equal(h.sent.length, n, 'nothing sent after stop()');
  t.equal(h.cover.queued(), 1, 'the real packet waits');
  h.cover.start();
  t.ok(await within(h, () => h.cover.stats.real === 1, 3000), 'start() again resumes');
  h.cover.stop();
});

t.test('no drop packet available: the event passes silently', async (t) => {
  const h = harness(t, { lambdaPerSecond: 200, makeDrop: () => null, makeLoop: () => null, loopPerSecond: 200 });
  h.cover.start();
  await h.clock.advance(150);
  t.equal(h.sent.length, 0, 'no drops, no loops');
  h.cover.enqueue(packet(REAL, 5), P1);
  t.ok(await within(h, () => h.sent.length === 1, 3000), 'a real packet still leaves');
  h.cover.stop();
  t.same(h.cover.stats, { real: 1, drop: 0, loop: 0, queueFull: 0 });
});

t.test('over 200 virtual seconds at lambda 50/s: a Poisson stream with the real packets in it', async (t) => {
  const h = harness(t, { lambdaPerSecond: 50, loopPerSecond: 25, queueCapacity: 1000 });
  const queuedNumbers: number[] = [];
  let next = 0;
  let beat = 0;
  h.cover.start();
  const feeder = h.clock.setInterval(() => {
    // Bursts of 0, 1, 2 real packets every 40 ms, 25/s on average: below lambda, so the queue drains.
    const burst = beat++ % 3;
    for (let i = 0; i < burst; i++) {
      const n = next++;
      if (h.cover.enqueue(packet(REAL, n), P1)) queuedNumbers.push(n);
    }
  }, 40);
  const seconds = 200;
  await h.clock.advance(seconds * 1000);
  h.clock.clearInterval(feeder);
  h.cover.stop();
  const stream = h.sent.filter((s) => s.packet[0] !== LOOP);
  const events = stream.length;
  const loops = h.sent.length - events;
  // Poisson counts: 10 000 ± 100 (1 sd) and 5000 ± 71.
  t.ok(
    Math.abs(events - 50 * seconds) < 0.05 * 50 * seconds,
    `${events} real+drop packets in ${seconds} s (expect 10000)`,
  );
  t.ok(Math.abs(loops - 25 * seconds) < 0.06 * 25 * seconds, `${loops} loops (expect 5000)`);
  // Exponential gaps: mean 20 ms and standard deviation equal to the mean (what an observer of S→P1 sees).
  const gaps = stream.slice(1).map((s, i) => s.at - (stream[i] as Harness['sent'][0]).at);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / gaps.length);
  t.ok(Math.abs(mean - 20) < 1, `mean gap ${mean.toFixed(2)} ms (expect 20)`);
  t.ok(Math.abs(sd / mean - 1) < 0.05, `gap sd/mean ${(sd / mean).toFixed(3)} (exponential: 1)`);
  const reals = h.sent.filter((s) => s.packet[0] === REAL).map((s) => numberOf(s.packet));
  t.equal(queuedNumbers.length, next, 'the queue never filled');
  t.same(reals, queuedNumbers.slice(0, reals.length), 'real packets leave in FIFO order, none lost or duplicated');
  t.equal(reals.length + h.cover.queued(), queuedNumbers.length, 'every real packet sent or still queued');
  t.ok(reals.length > 0.95 * next, `${reals.length} of ${next} real packets inside the stream`);
  t.ok(
    h.sent.filter((s) => s.packet[0] === DROP).every((s) => s.queuedAtSend === 0),
    'a drop only ever leaves when no real packet waits',
  );
  t.equal(h.cover.stats.real + h.cover.stats.drop, events);
  t.equal(h.cover.stats.loop, loops);
});

t.test('poissonGapMs: exponential gaps with mean 1000/rate', async (t) => {
  for (const rate of [50, 3, 0.5]) {
    const N = 20_000;
    let sum = 0;
    let sumSq = 0;
    let bad = 0;
    for (let i = 0; i < N; i++) {
      const g = poissonGapMs(crypto, rate);
      if (!(g >= 0) || !Number.isFinite(g)) bad++;
      sum += g;
      sumSq += g * g;
    }
    const mean = sum / N;
    const sd = Math.sqrt(sumSq / N - mean * mean);
    const want = 1000 / rate;
    t.equal(bad, 0, `rate ${rate}: every gap finite and non-negative`);
    t.ok(Math.abs(mean - want) / want < 0.05, `rate ${rate}: mean ${mean.toFixed(3)} ms within 5% of ${want}`);
    t.ok(Math.abs(sd - want) / want < 0.1, `rate ${rate}: sd ${sd.toFixed(3)} ≈ mean (exponential)`);
  }
});
