import fc from 'fast-check';
import t from 'tap';
import {
  aucWithInterval,
  bootstrapMeanInterval,
  mulberry32,
  percentile,
  pooledAuc,
  proportionFigure,
  wilsonInterval,
} from '../../src/sim/stats.js';

function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** Φ(x) by the Abramowitz–Stegun erf approximation (|error| < 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const k = 1 / (1 + 0.3275911 * z);
  const erf =
    1 -
    k *
      (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429)))) *
      Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

t.test('Wilson interval: known values and edge cases', async (t) => {
  // 8 of 10 successes: Wilson 95% = [0.490, 0.943] (textbook value).
  const [lo, hi] = wilsonInterval(8, 10);
  t.ok(Math.abs(lo - 0.4902) < 1e-3 && Math.abs(hi - 0.9433) < 1e-3, `[${lo}, ${hi}]`);
  t.same(wilsonInterval(0, 0), [0, 1]);
  const [lo0, hi0] = wilsonInterval(0, 50);
  t.equal(lo0, 0);
  t.ok(hi0 > 0.05 && hi0 < 0.1, 'zero successes still gives an upper bound above 0');
  const [lo1, hi1] = wilsonInterval(50, 50);
  t.equal(hi1, 1);
  t.ok(lo1 < 1 && lo1 > 0.9);
});

t.test('Wilson interval covers the true rate about 95% of the time', async (t) => {
  const rnd = mulberry32(11);
  for (const p of [0.05, 0.3, 0.7]) {
    let cover = 0;
    const reps = 400;
    for (let r = 0; r < reps; r++) {
      let k = 0;
      for (let i = 0; i < 200; i++) if (rnd() < p) k++;
      const [lo, hi] = wilsonInterval(k, 200);
      if (lo <= p && p <= hi) cover++;
    }
    t.ok(cover / reps > 0.91 && cover / reps < 0.99, `p=${p}: coverage ${cover / reps}`);
  }
});

t.test('bootstrap interval of the mean covers the true mean about 95% of the time', async (t) => {
  const rnd = mulberry32(12);
  let cover = 0;
  const reps = 150;
  for (let r = 0; r < reps; r++) {
    const xs = Array.from({ length: 120 }, () => -Math.log(1 - rnd()) * 3);
    const [lo, hi] = bootstrapMeanInterval(xs, r, 500);
    if (lo <= 3 && 3 <= hi) cover++;
  }
  t.ok(cover / reps > 0.88 && cover / reps < 0.99, `coverage ${cover / reps}`);
  t.same(bootstrapMeanInterval([1, 2, 3], 5), bootstrapMeanInterval([1, 2, 3], 5), 'seeded: reproducible');
});

t.test('AUC equals the brute-force Mann–Whitney statistic, ties counting 1/2', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 30 }),
      fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 30 }),
      (pos, neg) => {
        let s = 0;
        for (const x of pos) for (const y of neg) s += x > y ? 1 : x === y ? 0.5 : 0;
        const brute = s / (pos.length * neg.length);
        const a = aucWithInterval(pos, neg);
        return Math.abs(a.auc - brute) < 1e-12 && a.ci95[0] <= a.auc + 1e-12 && a.auc <= a.ci95[1] + 1e-12;
      },
    ),
  );
  t.equal(aucWithInterval([], [1]).auc, 0.5, 'no positives: chance, interval [0, 1]');
  t.throws(() => aucWithInterval([Number.NaN], [1]), RangeError);
});

t.test('DeLong interval covers the true AUC about 95% of the time', async (t) => {
  const rnd = mulberry32(13);
  const shift = 1;
  const truth = phi(shift / Math.SQRT2);
  let cover = 0;
  const reps = 300;
  for (let r = 0; r < reps; r++) {
    const pos = Array.from({ length: 60 }, () => normal(rnd) + shift);
    const neg = Array.from({ length: 80 }, () => normal(rnd));
    const a = aucWithInterval(pos, neg);
    if (a.ci95[0] <= truth && truth <= a.ci95[1]) cover++;
  }
  t.ok(cover / reps > 0.9 && cover / reps < 0.99, `coverage ${cover / reps} of AUC ${truth.toFixed(3)}`);
});

t.test('perfect separation still gets an interval that shrinks with the sample', async (t) => {
  const small = aucWithInterval([2, 3], [0, 1]);
  const big = aucWithInterval(
    Array.from({ length: 200 }, (_, i) => 1000 + i),
    Array.from({ length: 200 }, (_, i) => i),
  );
  t.equal(small.auc, 1);
  t.equal(big.auc, 1);
  t.ok(small.ci95[0] < big.ci95[0], `${small.ci95[0]} < ${big.ci95[0]}`);
  t.ok(big.ci95[0] > 0.97);
});

t.test('pooled AUC over independent runs: weighted mean, narrower interval', async (t) => {
  const rnd = mulberry32(14);
  const parts = [0, 1, 2].map(() =>
    aucWithInterval(
      Array.from({ length: 50 }, () => normal(rnd) + 1),
      Array.from({ length: 50 }, () => normal(rnd)),
    ),
  );
  const pooled = pooledAuc(parts);
  const meanAuc = parts.reduce((s, p) => s + p.auc, 0) / 3;
  t.ok(Math.abs(pooled.auc - meanAuc) < 1e-12, 'equal weights: the plain mean');
  t.ok(pooled.ci95[1] - pooled.ci95[0] < parts[0].ci95[1] - parts[0].ci95[0], 'narrower than one run');
  t.equal(pooled.positives, 150);
});

t.test('proportion figure and percentile', async (t) => {
  const f = proportionFigure([1, 0, 0.5, 1], 0.25, 'uniform over 4', 'messages');
  t.equal(f.value, 0.625);
  t.equal(f.n, 4);
  t.equal(f.method, 'wilson');
  t.ok(f.ci95[0] < 0.625 && f.ci95[1] > 0.625);
  t.equal(percentile([5, 1, 3], 0.5), 3);
  t.equal(percentile([], 0.5), 0);
});
