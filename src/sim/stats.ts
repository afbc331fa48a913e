/**
 * Statistics for the simulator's figures (docs/simulation.md, "Figures").
 *
 * Every figure the adversary suite reports is a `Figure`: the value, a 95%
 * interval, the baseline it must be compared with, and the sample size.
 * Proportions use the Wilson score interval; AUCs use DeLong's variance on
 * the logit scale; means use a seeded percentile bootstrap. Pure and
 * deterministic: randomness only from a seed passed in.
 */

/** Standard normal quantile for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

/** Nearest-rank percentile; 0 for an empty sample. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((x, y) => x - y);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx] as number;
}

/** Small deterministic PRNG (mulberry32), uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

/**
 * Wilson score interval for `successes` out of `n` (successes may be
 * fractional: a tie-aware top-1 score counts 1/#tied; the interval is then
 * the usual approximation). [0, 1] when n = 0.
 */
export function wilsonInterval(successes: number, n: number, z = Z95): [number, number] {
  if (n <= 0) return [0, 1];
  const p = Math.min(1, Math.max(0, successes / n));
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // Exact ends at 0 and n successes (the formula gives them up to rounding).
  return [successes <= 0 ? 0 : Math.max(0, centre - half), successes >= n ? 1 : Math.min(1, centre + half)];
}

/** Percentile-bootstrap 95% interval of the mean, from `resamples` seeded resamples. */
export function bootstrapMeanInterval(values: ArrayLike<number>, seed: number, resamples = 1000): [number, number] {
  const n = values.length;
  if (n === 0) return [0, 0];
  const rnd = mulberry32(seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rnd() * n)];
    means[b] = s / n;
  }
  means.sort();
  const lo = means[Math.floor(0.025 * (resamples - 1))];
  const hi = means[Math.ceil(0.975 * (resamples - 1))];
  return [lo, hi];
}

/** First index i with a[i] >= x (a sorted ascending). */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with a[i] > x (a sorted ascending). */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface AucEstimate {
  auc: number;
  /** DeLong variance of the AUC estimate. */
  variance: number;
  ci95: [number, number];
  positives: number;
  negatives: number;
}

/**
 * Area under the ROC curve of scores for positives against negatives
 * (Mann–Whitney, ties count 1/2) with DeLong's variance. The interval is
 * built on the logit scale so it stays inside (0, 1); when the AUC is 0 or
 * 1 (DeLong's variance is then 0) it falls back to the Wilson interval of
 * a proportion over min(positives, negatives) trials, a conservative
 * stand-in that still shrinks with the sample. NaN scores are refused.
 */
export function aucWithInterval(pos: ArrayLike<number>, neg: ArrayLike<number>): AucEstimate {
  const m = pos.length;
  const n = neg.length;
  if (m === 0 || n === 0) return { auc: 0.5, variance: 0, ci95: [0, 1], positives: m, negatives: n };
  const sortedNeg = Float64Array.from(neg).sort();
  const sortedPos = Float64Array.from(pos).sort();
  if (Number.isNaN(sortedNeg[n - 1]) || Number.isNaN(sortedPos[m - 1])) throw new RangeError('AUC of NaN scores');
  const v10 = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const x = pos[i];
    const below = lowerBound(sortedNeg, x);
    const equal = upperBound(sortedNeg, x) - below;
    v10[i] = (below + 0.5 * equal) / n;
  }
  const v01 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const y = neg[j];
    const above = m - upperBound(sortedPos, y);
    const equal = upperBound(sortedPos, y) - lowerBound(sortedPos, y);
    v01[j] = (above + 0.5 * equal) / m;
  }
  const auc = mean(v10);
  const s10 = sampleVariance(v10);
  const s01 = sampleVariance(v01);
  const variance = s10 / m + s01 / n;
  let ci95: [number, number];
  if (auc <= 0 || auc >= 1 || variance <= 0) {
    const k = Math.min(m, n);
    ci95 = wilsonInterval(auc * k, k);
  } else {
    const logit = Math.log(auc / (1 - auc));
    const se = Math.sqrt(variance) / (auc * (1 - auc));
    const inv = (x: number) => 1 / (1 + Math.exp(-x));
    ci95 = [inv(logit - Z95 * se), inv(logit + Z95 * se)];
  }
  return { auc, variance, ci95, positives: m, negatives: n };
}

function sampleVariance(xs: Float64Array): number {
  if (xs.length < 2) return 0;
  const mu = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - mu) ** 2;
  return s / (xs.length - 1);
}

/**
 * Pools AUCs measured on independent runs (seeds): the mean weighted by
 * positives × negatives, with the variance of that weighted mean (runs are
 * independent). Scores of different runs are never compared with each
 * other, so runs of different length or load can be pooled.
 */
export function pooledAuc(parts: AucEstimate[]): AucEstimate {
  const used = parts.filter((p) => p.positives > 0 && p.negatives > 0);
  if (used.length === 0) return { auc: 0.5, variance: 0, ci95: [0, 1], positives: 0, negatives: 0 };
  if (used.length === 1) return used[0];
  let wSum = 0;
  let a = 0;
  let v = 0;
  let positives = 0;
  let negatives = 0;
  for (const p of used) {
    const w = p.positives * p.negatives;
    wSum += w;
    a += w * p.auc;
    positives += p.positives;
    negatives += p.negatives;
  }
  a /= wSum;
  let allDegenerate = true;
  for (const p of used) {
    const w = p.positives * p.negatives;
    v += (w / wSum) ** 2 * p.variance;
    if (p.variance > 0) allDegenerate = false;
  }
  let ci95: [number, number];
  if (allDegenerate || a <= 0 || a >= 1) {
    const k = used.reduce((s, p) => s + Math.min(p.positives, p.negatives), 0);
    ci95 = wilsonInterval(a * k, k);
  } else {
    const se = Math.sqrt(v);
    ci95 = [Math.max(0, a - Z95 * se), Math.min(1, a + Z95 * se)];
  }
  return { auc: a, variance: v, ci95, positives, negatives };
}

/** One reported number: value, 95% interval, what it must be compared with, and how much data it rests on. */
export interface Figure {
  value: number;
  ci95: [number, number];
  baseline: number;
  /** What the baseline is (e.g. "uniform over 100 sources"). */
  baseline_is: string;
  /** Scored units (messages, pairs, deliveries). */
  n: number;
  unit: string;
  method: 'wilson' | 'delong' | 'pooled-delong' | 'bootstrap';
  /** AUC figures: how many of the n units are positives. */
  positives?: number;
}

/**
 * A proportion from per-unit scores in [0, 1] (1 = hit; a tie-aware guess may
 * score a fraction), with its Wilson interval over the units.
 */
export function proportionFigure(
  scores: ArrayLike<number>,
  baseline: number,
  baselineIs: string,
  unit: string,
): Figure {
  let s = 0;
  for (let i = 0; i < scores.length; i++) s += scores[i];
  const n = scores.length;
  return {
    value: n ? s / n : 0,
    ci95: wilsonInterval(s, n),
    baseline,
    baseline_is: baselineIs,
    n,
    unit,
    method: 'wilson',
  };
}

export function aucFigure(estimate: AucEstimate, unit: string, pooled = false): Figure {
  return {
    value: estimate.auc,
    ci95: estimate.ci95,
    baseline: 0.5,
    baseline_is: 'a score that ignores the traffic (AUC 0.5)',
    n: estimate.positives + estimate.negatives,
    positives: estimate.positives,
    unit,
    method: pooled ? 'pooled-delong' : 'delong',
  };
}

/** A mean with its seeded bootstrap interval. */
export function meanFigure(
  values: ArrayLike<number>,
  baseline: number,
  baselineIs: string,
  unit: string,
  seed: number,
): Figure {
  return {
    value: mean(values),
    ci95: bootstrapMeanInterval(values, seed),
    baseline,
    baseline_is: baselineIs,
    n: values.length,
    unit,
    method: 'bootstrap',
  };
}
