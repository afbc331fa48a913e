/**
 * Randomness behind routing (src/node/routes.ts): exponential delays, uniform indices, proxy choice.
 * Loose statistical bounds: each would fail by chance far less than once in a million runs.
 */
import t from 'tap';
import { type Directory, indexDirectory, type NodeDescriptor } from '../../src/node/directory.js';
import {
  buildRoute,
  currentEpoch,
  exponentialDelayMs,
  exponentialSample,
  NoRoute,
  pickProxies,
  randomIndex,
} from '../../src/node/routes.js';
import { getCrypto } from '../../src/scramble/crypto/index.js';

const crypto = getCrypto('sodium');
const N = 20_000;

t.test('exponentialDelayMs: mean as asked, integer, capped at max', async (t) => {
  for (const mean of [5, 100, 2000]) {
    let sum = 0;
    let bad = 0;
    for (let i = 0; i < N; i++) {
      const d = exponentialDelayMs(crypto, mean, Number.MAX_SAFE_INTEGER);
      if (!Number.isInteger(d) || d < 0) bad++;
      sum += d;
    }
    t.equal(bad, 0, `mean ${mean}: non-negative integers`);
    t.ok(Math.abs(sum / N - mean) / mean < 0.05, `mean ${mean}: sample mean ${(sum / N).toFixed(2)} within 5%`);
  }
  // Capped: with max = mean/2, P(X > max) = e^-0.5 ≈ 0.61 of the samples sit exactly at the cap.
  let atCap = 0;
  let over = 0;
  for (let i = 0; i < N; i++) {
    const d = exponentialDelayMs(crypto, 100, 50);
    if (d > 50) over++;
    if (d === 50) atCap++;
  }
  t.equal(over, 0, 'never above max');
  t.ok(Math.abs(atCap / N - Math.exp(-0.5)) < 0.03, `${((100 * atCap) / N).toFixed(1)}% at the cap (expect ~60.7%)`);
  t.equal(exponentialDelayMs(crypto, 0, 1000), 0, 'mean 0: no delay');
  t.equal(exponentialDelayMs(crypto, -5, 1000), 0, 'negative mean: no delay');
  let tail = 0;
  for (let i = 0; i < N; i++) if (exponentialSample(crypto, 1) > 3) tail++;
  t.ok(Math.abs(tail / N - Math.exp(-3)) < 0.01, `P(X > 3·mean) ≈ e^-3 (${(tail / N).toFixed(4)})`);
});

t.test('randomIndex: in range and uniform-ish', async (t) => {
  t.equal(randomIndex(crypto, 1), 0);
  t.equal(randomIndex(crypto, 0), 0, 'n = 0 gives 0 (callers guard against empty pools)');
  for (const n of [2, 3, 7, 10, 1000, 2 ** 31 + 1, 3_000_000_000, 2 ** 32]) {
    let bad = 0;
    for (let i = 0; i < 2000; i++) {
      const v = randomIndex(crypto, n);
      if (!Number.isInteger(v) || v < 0 || v >= n) bad++;
    }
    t.equal(bad, 0, `n = ${n}: always an integer in [0, n)`);
  }
  for (const n of [3, 10, 17]) {
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < N; i++) counts[randomIndex(crypto, n)]++;
    const expected = N / n;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // df = n - 1 ≤ 16: the 1e-6 tail is below 60.
    t.ok(chi2 < 60, `n = ${n}: chi-square ${chi2.toFixed(1)} with ${n - 1} degrees of freedom`);
  }
  // 2^31 + 1 rejects almost half the draws; the top half of the range must still be reached.
  let high = 0;
  for (let i = 0; i < 2000; i++) if (randomIndex(crypto, 2 ** 31 + 1) >= 2 ** 30) high++;
  t.ok(high > 800 && high < 1200, `upper half of [0, 2^31 + 1) drawn ${high}/2000 times`);
});

const PARAMS = {
  packetSize: 2048,
  maxHops: 5,
  meanDelayMs: 20,
  maxDelayMs: 200,
  epochSeconds: 3600,
  graceSeconds: 60,
  lambdaPerSecond: 0,
  loopPerSecond: 0,
  mixLoopPerSecond: 0,
  deliveryPerSecond: 0,
};
function node(port: number, epochs: number[]): NodeDescriptor {
  return {
    identityKey: crypto.ed25519PublicKey(crypto.randomBytes(32)),
    address: `127.0.0.1:${port}`,
    mixKeys: epochs.map((epoch) => ({ epoch, publicKey: crypto.x25519Base(crypto.randomBytes(32)) })),
    timestampMs: 0,
  };
}
const EPOCH = 5;
function dirWith(proxies: NodeDescriptor[]) {
  const d: Directory = { issuedAtMs: 0, epoch: EPOCH, params: PARAMS, central: node(7000, [EPOCH]), proxies };
  return indexDirectory(crypto, d);
}

t.test('pickProxies: distinct while there are enough, only proxies with a key for the epoch', async (t) => {
  const good = [7001, 7002, 7003, 7004, 7005].map((p) => node(p, [EPOCH, EPOCH + 1]));
  const stale = [7010, 7011].map((p) => node(p, [EPOCH - 1]));
  const dir = dirWith([stale[0] as NodeDescriptor, ...good, stale[1] as NodeDescriptor]);
  for (let i = 0; i < 500; i++) {
    for (const count of [1, 3, 5]) {
      const picked = pickProxies(crypto, dir, count, EPOCH);
      if (picked.length !== count) t.fail(`asked ${count}, got ${picked.length}`);
      if (new Set(picked).size !== count) t.fail(`not distinct: ${picked.map((p) => p.address)}`);
      if (picked.some((p) => !good.includes(p))) t.fail('picked a proxy without a key for the epoch');
    }
    // More than there are: the first five distinct, then the pool refills.
    const seven = pickProxies(crypto, dir, 7, EPOCH);
    if (new Set(seven.slice(0, 5)).size !== 5 || new Set(seven.slice(5)).size !== 2) t.fail('refill order');
  }
  t.pass('2000 picks checked');
  const counts = new Map<NodeDescriptor, number>();
  for (let i = 0; i < 5000; i++) {
    const [p] = pickProxies(crypto, dir, 1, EPOCH);
    counts.set(p as NodeDescriptor, (counts.get(p as NodeDescriptor) ?? 0) + 1);
  }
  t.equal(counts.size, 5, 'every usable proxy gets picked');
  t.ok(
    [...counts.values()].every((c) => c > 800 && c < 1200),
    `about 1000 each: ${[...counts.values()].join(', ')}`,
  );
  t.throws(() => pickProxies(crypto, dirWith(stale), 1, EPOCH), NoRoute, 'no proxy with a key for the epoch');
  t.throws(() => pickProxies(crypto, dirWith([]), 1, EPOCH), NoRoute, 'no proxy at all');
  t.same(pickProxies(crypto, dir, 0, EPOCH), [], 'zero asked, zero given');
});

t.test('buildRoute and currentEpoch', async (t) => {
  const proxies = [7001, 7002, 7003].map((p) => node(p, [EPOCH]));
  const dir = dirWith(proxies);
  t.equal(currentEpoch(dir, EPOCH * 3600 * 1000 + 1), EPOCH);
  t.equal(currentEpoch(dir, (EPOCH + 1) * 3600 * 1000 - 1), EPOCH);
  const { route, firstHop, delays } = buildRoute(crypto, dir, proxies, dir.central, { kind: 'drop' }, EPOCH);
  t.equal(route.length, 4);
  t.equal(firstHop, proxies[0]);
  t.equal(delays.length, 3, 'a delay per relay, none at the final hop');
  t.ok(
    delays.every((d) => Number.isInteger(d) && d >= 0 && d <= PARAMS.maxDelayMs),
    'delays within 0..maxDelayMs',
  );
  t.same(
    route.map((h) => h.command.kind),
    ['relay', 'relay', 'relay', 'drop'],
  );
  t.throws(() => buildRoute(crypto, dir, proxies, dir.central, { kind: 'drop' }, EPOCH + 7), NoRoute, 'no key');
});
