/**
 * Shared math of the adversaries: delay kernels, their calibration from
 * observed link events, and compact posteriors. Pure; sees no ground truth.
 */

import { getOrInsert } from '../getOrInsert.js';
import type { LinkEvent, PublicParams, SenderGuess } from './observation.js';

/** Narrowest per-stage delay scale a kernel uses (ms): even with μ = 0 time stamps jitter by link latency. */
export const MIN_SCALE_MS = 0.5;
/** Entries listed in a SenderGuess; the rest are summarised. */
export const GUESS_TOP_K = 10;
/** Outputs of a node used to calibrate its delay (evenly spread over the run). */
export const CALIBRATION_OUTPUTS = 4000;

export function lowerBound(a: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function upperBound(a: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; |error| < 1e-13 for the shapes used here). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let a = c[0];
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * A delay model: `shift` ms of fixed lag (latency, processing) plus a Gamma
 * of `shape` and `scale` (shape 1 = the exponential of a Poisson mix).
 */
export interface DelayKernel {
  shift: number;
  shape: number;
  scale: number;
}

export function kernelMean(k: DelayKernel): number {
  return k.shift + k.shape * k.scale;
}

/** An upper bound on the delay: mean + 8 standard deviations (+ 1 ms). */
export function kernelSupport(k: DelayKernel): number {
  return k.shift + k.shape * k.scale + 8 * Math.sqrt(k.shape) * k.scale + 1;
}

export function kernelLogPdf(k: DelayKernel, x: number): number {
  const y = x - k.shift;
  if (y < 0) return Number.NEGATIVE_INFINITY;
  if (k.shape === 1) return -Math.log(k.scale) - y / k.scale;
  // At y = 0 a shape below 1 diverges: evaluate a hair later so weights stay finite.
  const yy = Math.max(y, 1e-6 * k.scale);
  return -logGamma(k.shape) - k.shape * Math.log(k.scale) + (k.shape - 1) * Math.log(yy) - yy / k.scale;
}

/**
 * The sum of independent stages as one moment-matched shifted Gamma: the
 * shifts add, and the Gamma has the summed mean and variance of the
 * exponential parts wider than the floor (exact when all scales are equal).
 */
export function sumOfStages(stages: DelayKernel[]): DelayKernel {
  let shift = 0;
  // One floor-wide slack stage stands for every stage's jitter, so that a path of
  // zero-delay hops is not modelled as a Gamma that vanishes at its own shift.
  let m = MIN_SCALE_MS;
  let v = MIN_SCALE_MS * MIN_SCALE_MS;
  for (const s of stages) {
    shift += s.shift;
    if (s.scale <= MIN_SCALE_MS) continue;
    m += s.shape * s.scale;
    v += s.shape * s.scale * s.scale;
  }
  return { shift, shape: (m * m) / v, scale: v / m };
}

/** The public per-hop model: an exponential of mean μ (floored at MIN_SCALE_MS). */
export function publicHopKernel(muMs: number): DelayKernel {
  return { shift: 0, shape: 1, scale: Math.max(MIN_SCALE_MS, muMs) };
}

export interface Calibration {
  kernel: DelayKernel;
  /** Mean lag between an input and the output it caused, estimated from the traffic (NaN if the signal was too weak). */
  observedMeanMs: number;
  /** True when the estimate was used, false when the prior (public μ) was kept. */
  calibrated: boolean;
}

/**
 * Calibrates the lag of one node from its input and output times only.
 *
 * The cross-correlogram of output times against input times has a bump on
 * top of a background of unrelated pairs. The background is measured on the
 * other side (an input that comes *after* an output cannot have caused it),
 * so non-stationary traffic does not bias it:
 * excess(Δ) = #pairs(out − in = Δ) − #pairs(in − out = Δ).
 * A Poisson mix's excess is an exponential of mean μ starting at the fixed
 * lag (latency + processing), so it peaks where it starts; packets that
 * come back to the same node later (P1 = P3, fan-out) add a broad hump at
 * longer lags, which is why the peak is used and not the mean. The kernel
 * is then `shift` = the peak's lag plus an exponential of the public μ
 * (floored at the bin width, so the ablation's narrow lags get a narrow
 * kernel). When the excess is not 3 standard deviations above zero, the
 * public μ alone is kept.
 */
export function calibrateDelay(
  inputs: ArrayLike<number>,
  outputs: ArrayLike<number>,
  priorMeanMs: number,
  windowMs: number,
): Calibration {
  const prior = publicHopKernel(priorMeanMs);
  const nOut = outputs.length;
  if (inputs.length === 0 || nOut === 0) return { kernel: prior, observedMeanMs: Number.NaN, calibrated: false };
  const mu = Math.max(0, priorMeanMs);
  const bin = Math.max(0.25, mu / 10);
  const bins = Math.max(1, Math.ceil(windowMs / bin));
  const after = new Float64Array(bins);
  const before = new Float64Array(bins);
  const step = Math.max(1, Math.floor(nOut / CALIBRATION_OUTPUTS));
  let pairs = 0;
  for (let o = 0; o < nOut; o += step) {
    const t = outputs[o];
    const lo = lowerBound(inputs, t - windowMs);
    const hi = upperBound(inputs, t + windowMs);
    for (let i = lo; i < hi; i++) {
      const d = t - inputs[i];
      const k = Math.min(bins - 1, Math.floor(Math.abs(d) / bin));
      if (d >= 0) after[k]++;
      else before[k]++;
      pairs++;
    }
  }
  let excess = 0;
  const smooth = new Float64Array(bins);
  for (let k = 0; k < bins; k++) {
    excess += after[k] - before[k];
    let acc = 0;
    let n = 0;
    for (let j = Math.max(0, k - 1); j <= Math.min(bins - 1, k + 1); j++, n++) acc += after[j] - before[j];
    smooth[k] = acc / n;
  }
  let peak = 0;
  for (let k = 1; k < bins; k++) if (smooth[k] > smooth[peak]) peak = k;
  const significant =
    excess > 3 * Math.sqrt(Math.max(1, pairs)) &&
    smooth[peak] > 3 * Math.sqrt(Math.max(1, after[peak] + before[peak]) / 3);
  if (!significant) return { kernel: prior, observedMeanMs: Number.NaN, calibrated: false };
  // The onset: the first bin at half the peak. An exponential's peak is its first bin in expectation, but it
  // decays slowly (10 bins per μ), so the argmax alone wanders several bins late.
  let onset = 0;
  while (onset < peak && smooth[onset] < 0.5 * smooth[peak]) onset++;
  // Spread just after the onset: sets the kernel's width when μ is too small to (ablation, jitter).
  let w = 0;
  let lag = 0;
  for (let k = onset; k < Math.min(bins, onset + 20); k++) {
    const e = Math.max(0, after[k] - before[k]);
    w += e;
    lag += e * (k - onset + 0.5) * bin;
  }
  const spread = w > 0 ? lag / w : bin;
  const kernel: DelayKernel = { shift: onset * bin, shape: 1, scale: Math.max(MIN_SCALE_MS, mu, spread) };
  return { kernel, observedMeanMs: kernelMean(kernel), calibrated: true };
}

/** Input and output times of every node, from link events. */
export function nodeTimes(links: LinkEvent[]): Map<string, { inputs: Float64Array; outputs: Float64Array }> {
  const ins = new Map<string, number[]>();
  const outs = new Map<string, number[]>();
  for (const e of links) {
    const a = getOrInsert(ins, e.to, () => []);
    a.push(e.t);
    const b = getOrInsert(outs, e.from, () => []);
    b.push(e.t);
  }
  const res = new Map<string, { inputs: Float64Array; outputs: Float64Array }>();
  for (const node of new Set([...ins.keys(), ...outs.keys()])) {
    res.set(node, {
      inputs: Float64Array.from(ins.get(node) ?? []).sort(),
      outputs: Float64Array.from(outs.get(node) ?? []).sort(),
    });
  }
  return res;
}

/**
 * Density of X − Y for X, Y independent sums of `stages` exponentials of
 * mean `scale` (the gap between two copies of one message that diverged
 * `stages` delays before they were seen), tabulated once.
 */
export interface GapKernel {
  pdf(d: number): number;
  /** |d| beyond which the density is negligible. */
  supportMs: number;
  /** ∫ pdf² (for the variance of a kernel-weighted co-occurrence count). */
  integralOfSquare: number;
}

export function gapKernel(stages: number, scale: number): GapKernel {
  const k = Math.max(1, Math.round(stages));
  const s = Math.max(MIN_SCALE_MS, scale);
  const support = s * (k + 10 * Math.sqrt(k) + 4);
  const grid = 600;
  const h = support / grid;
  const f = new Float64Array(grid + 1);
  const gamma: DelayKernel = { shift: 0, shape: k, scale: s };
  for (let i = 0; i <= grid; i++) f[i] = i === 0 ? (k === 1 ? 1 / s : 0) : Math.exp(kernelLogPdf(gamma, i * h));
  const g = new Float64Array(grid + 1);
  for (let d = 0; d <= grid; d++) {
    let acc = 0;
    for (let x = 0; x + d <= grid; x++) acc += f[x] * f[x + d];
    g[d] = acc * h;
  }
  // Normalise the table so that ∫ g = 1 over (−support, support).
  let total = g[0] * h;
  for (let d = 1; d <= grid; d++) total += 2 * g[d] * h;
  for (let d = 0; d <= grid; d++) g[d] /= total;
  let sq = g[0] * g[0] * h;
  for (let d = 1; d <= grid; d++) sq += 2 * g[d] * g[d] * h;
  return {
    pdf(d: number): number {
      const x = Math.abs(d) / h;
      if (x >= grid) return 0;
      const i = Math.floor(x);
      const frac = x - i;
      return g[i] * (1 - frac) + g[i + 1] * frac;
    },
    supportMs: support,
    integralOfSquare: sq,
  };
}

/**
 * Turns non-negative weights over `candidates` into a compact SenderGuess:
 * normalised, the top GUESS_TOP_K listed, the rest summarised. All-zero
 * weights give the uniform posterior (no information).
 */
export function guessFromWeights(event: string, candidates: string[], weights: ArrayLike<number>): SenderGuess {
  const n = candidates.length;
  let z = 0;
  for (let i = 0; i < n; i++) z += Math.max(weights[i], 0);
  const p = new Float64Array(n);
  if (!(z > 0) || !Number.isFinite(z)) p.fill(n ? 1 / n : 0);
  else for (let i = 0; i < n; i++) p[i] = weights[i] > 0 ? weights[i] / z : 0;
  let h = 0;
  for (let i = 0; i < n; i++) if (p[i] > 0) h -= p[i] * Math.log2(p[i]);
  // Top-K by insertion: K is small, so this is linear in n.
  const top: number[] = [];
  for (let i = 0; i < n; i++) {
    if (top.length === GUESS_TOP_K && p[i] <= p[top[top.length - 1]]) continue;
    let j = top.length;
    while (j > 0 && p[top[j - 1]] < p[i]) j--;
    top.splice(j, 0, i);
    if (top.length > GUESS_TOP_K) top.pop();
  }
  let listed = 0;
  for (const i of top) listed += p[i];
  return {
    event,
    ranked: top.map((i) => [candidates[i], p[i]] as [string, number]),
    rest: { count: n - top.length, mass: Math.max(0, 1 - listed) },
    entropyBits: Math.max(0, h),
  };
}

/** Deterministic subsample of events by hash (independent of content and truth): at most `max` of them. */
export function subsampleByHash(events: LinkEvent[], max: number): LinkEvent[] {
  if (events.length <= max) return events;
  const keyed = events.map((e) => ({ e, k: hashKey(e.hash) }));
  keyed.sort((a, b) => a.k - b.k);
  return keyed
    .slice(0, max)
    .map((x) => x.e)
    .sort((a, b) => a.t - b.t);
}

/** FNV-1a of a string, for stable pseudo-random ordering. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Sources of a view, sorted (the candidate set of sender posteriors). */
export function sourceIds(endpoints: Array<{ id: string; role: string }>): string[] {
  return endpoints
    .filter((e) => e.role === 'source')
    .map((e) => e.id)
    .sort();
}

/** A Sphinx packet on a mix link (control messages have other sizes). */
export function isMixPacket(e: LinkEvent, params: PublicParams): boolean {
  return params.packet_bytes <= 0 || e.size === params.packet_bytes;
}

/** A CS→source delivery frame (when the frame size is public; else every CS→source datagram). */
export function isDeliveryFrame(e: LinkEvent, params: PublicParams): boolean {
  return params.delivery_bytes === undefined || e.size === params.delivery_bytes;
}

/** Look-back window for a per-hop delay of mean μ: far beyond any real delay. */
export function hopWindowMs(muMs: number): number {
  return 10 * Math.max(1, muMs) + 50;
}

/** CS's prior lag between storing an entry and sending it: half a delivery slot in steady mode, else none. */
export function centralPriorLagMs(params: PublicParams): number {
  return params.delivery_per_s > 0 ? 500 / params.delivery_per_s : 0;
}

export function centralWindowMs(params: PublicParams): number {
  return params.delivery_per_s > 0 ? 3000 / params.delivery_per_s + 50 : hopWindowMs(0);
}

/** Half-width of the window over which a background rate is measured (ms). */
export const RATE_BAND_MS = 2000;

/**
 * Density (events per ms) of the sorted `times` around `at`, over
 * [at − band, at + band] clipped to [lo, hi]. Co-occurrence tests compare
 * against this local background instead of the run's mean rate, so that
 * traffic whose rate changes over time (bursts, an attacker blocking
 * windows) does not look like correlation between any two users.
 */
export function localRate(times: ArrayLike<number>, at: number, band: number, lo: number, hi: number): number {
  const a = Math.max(lo, at - band);
  const b = Math.min(hi, at + band);
  if (!(b > a)) return 0;
  return (upperBound(times, b) - lowerBound(times, a)) / (b - a);
}
