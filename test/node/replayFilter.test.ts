/**
 * The Bloom filter behind the replay cache (src/node/replayFilter.ts): sizing
 * formulas, no false negatives, and a measured false-positive rate that matches
 * the designed one at capacity.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { DEFAULT_REPLAY_CAPACITY_PER_EPOCH, REPLAY_FALSE_POSITIVE_RATE } from '../../src/node/limits.js';
import { BloomFilter, bloomGeometry, falsePositiveRate } from '../../src/node/replayFilter.js';

/** Deterministic 32-byte keys, like replay tags (uniform bytes). */
function key(i: number, salt = 'k'): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`${salt}-${i}`).digest());
}

t.test('geometry: the textbook sizes, and the default costs 3.6 bytes per tag', async (t) => {
  const g = bloomGeometry(1_000_000, 1e-6);
  t.equal(g.hashes, 20);
  t.equal(g.bits, Math.ceil((1_000_000 * Math.log(1e6)) / Math.LN2 ** 2));
  t.ok(Math.abs(falsePositiveRate(g, 1_000_000) - 1e-6) < 1e-7, 'designed rate at capacity');
  t.ok(falsePositiveRate(g, 2_000_000) < 5e-3, 'degrades gracefully at twice the capacity');
  const d = bloomGeometry(DEFAULT_REPLAY_CAPACITY_PER_EPOCH, REPLAY_FALSE_POSITIVE_RATE);
  t.ok(d.bits / 8 / DEFAULT_REPLAY_CAPACITY_PER_EPOCH < 3.7, `default filter is ${(d.bits / 8 / 1e6).toFixed(1)} MB`);
  t.throws(() => bloomGeometry(0, 1e-6));
  t.throws(() => bloomGeometry(10, 0));
  t.throws(() => bloomGeometry(10, 1));
  t.throws(() => new BloomFilter({ bits: 0, hashes: 3 }));
  t.throws(() => new BloomFilter({ bits: 100, hashes: 0 }));
});

t.test('no false negatives; add reports what was there', async (t) => {
  const f = new BloomFilter(bloomGeometry(5000, 1e-4));
  let present = 0;
  for (let i = 0; i < 5000; i++) if (f.add(key(i))) present++;
  t.ok(present < 5, `${present} of 5000 fresh keys looked present (false positives at p = 1e-4)`);
  let missing = 0;
  for (let i = 0; i < 5000; i++) if (!f.has(key(i)) || !f.add(key(i))) missing++;
  t.equal(missing, 0, 'every inserted key is reported present');
  t.throws(() => f.add(new Uint8Array(0)));
});

t.test('measured false-positive rate at capacity matches the design (p = 1e-3, 200,000 probes)', async (t) => {
  const n = 20_000;
  const p = 1e-3;
  const f = new BloomFilter(bloomGeometry(n, p));
  for (let i = 0; i < n; i++) f.add(key(i));
  const probes = 200_000;
  let hits = 0;
  for (let i = 0; i < probes; i++) if (f.has(key(i, 'fresh'))) hits++;
  // Expected 200 (binomial sd ≈ 14): the bounds are more than 5 sd away, so this never flakes
  // unless the hashing is wrong (correlated positions give several times more).
  t.ok(hits > 120 && hits < 290, `${hits} false positives in ${probes} (expected ${probes * p})`);
});
