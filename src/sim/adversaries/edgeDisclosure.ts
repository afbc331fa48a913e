/**
 * Long-run statistical disclosure on the edge links (Danezis' SDA in
 * continuous time; issue 8, item 5).
 *
 * Sees: source→proxy sends and CS→source deliveries over the whole run, and
 * the public parameters; nothing in between. For every ordered pair (s, t)
 * it measures how much more often t receives something a transit time
 * after s sends than chance would give:
 *   S(s,t) = Σ_{sends i of s} Σ_{deliveries j to t} f(t_j − t_i),
 * f the transit density (public μ, shifted by the lag at which sends and
 * deliveries start to correlate). If s's sends followed the overall send
 * rate λ(t) (measured over ±2 s) independently of t's deliveries,
 * E[S] = (n_s / N) Σ_j λ(t_j − mean transit) and Var[S] ≈ E ∫f², so
 * z = (S − E) / √Var ranks contacts; cover and dummies only add variance,
 * which time averages away. Group
 * membership of {a, b} is scored z(a→b) + z(b→a).
 */

import {
  calibrateDelay,
  centralPriorLagMs,
  type DelayKernel,
  isDeliveryFrame,
  isMixPacket,
  kernelLogPdf,
  kernelMean,
  kernelSupport,
  localRate,
  lowerBound,
  publicHopKernel,
  RATE_BAND_MS,
  sourceIds,
  subsampleByHash,
  sumOfStages,
} from './kernels.js';
import type { EdgeView, PairScore } from './observation.js';

export interface EdgeDisclosureOptions {
  /** Deliveries used at most (deterministic subsample by hash). Default 100 000. */
  maxEvents?: number;
}

export interface EdgeDisclosureResult {
  transit: DelayKernel;
  /** Directed (sender → recipient) scores for every ordered pair of distinct sources. */
  contacts: PairScore[];
  /** Unordered membership scores for every pair of distinct sources. */
  membership: PairScore[];
}

/** ∫ f² of a kernel, numerically over its support. */
function integralOfSquare(k: DelayKernel): number {
  const support = kernelSupport(k);
  const steps = 2000;
  const h = (support - k.shift) / steps;
  let acc = 0;
  for (let i = 0; i < steps; i++) {
    const x = k.shift + (i + 0.5) * h;
    acc += Math.exp(2 * kernelLogPdf(k, x)) * h;
  }
  return acc;
}

export function edgeDisclosure(view: EdgeView, options: EdgeDisclosureOptions = {}): EdgeDisclosureResult {
  const net = view.public.network;
  const sources = sourceIds(view.public.endpoints);
  const index = new Map(sources.map((s, i) => [s, i] as const));
  const n = sources.length;
  const sends = view.sends.filter((e) => isMixPacket(e, net) && index.has(e.from));
  const deliveries = view.deliveries.filter((e) => isDeliveryFrame(e, net) && index.has(e.to));
  const sendTimes = Float64Array.from(sends, (e) => e.t);
  const sendWho = Int32Array.from(sends, (e) => index.get(e.from) as number);
  // The public transit model, shifted by the lag the edge traffic shows.
  const mixDelays = net.hops_to_fanout + net.hops_after_fanout - 1;
  const publicTransit = sumOfStages([
    ...Array(mixDelays).fill(publicHopKernel(net.mu_ms)),
    publicHopKernel(centralPriorLagMs(net)),
  ]);
  const cal = calibrateDelay(
    sendTimes,
    Float64Array.from(deliveries, (e) => e.t),
    publicTransit.shape * publicTransit.scale,
    kernelSupport(publicTransit),
  );
  const transit: DelayKernel = { ...publicTransit, shift: cal.calibrated ? cal.kernel.shift : 0 };
  const support = kernelSupport(transit);
  const used = subsampleByHash(deliveries, options.maxEvents ?? 100_000);
  const S = new Float64Array(n * n);
  const nSend = new Float64Array(n);
  // Σ over deliveries to t of the local density of all sends one mean transit earlier.
  const background = new Float64Array(n);
  const lag = kernelMean(transit);
  for (let j = 0; j < sendWho.length; j++) nSend[sendWho[j]]++;
  for (const d of used) {
    const t = index.get(d.to) as number;
    background[t] += localRate(sendTimes, d.t - lag, RATE_BAND_MS, view.public.startMs, view.public.endMs);
    const lo = lowerBound(sendTimes, d.t - support);
    for (let i = lo; i < sendTimes.length && sendTimes[i] <= d.t; i++) {
      const x = Math.exp(kernelLogPdf(transit, d.t - sendTimes[i]));
      if (x > 0) S[sendWho[i] * n + t] += x;
    }
  }
  const f2 = integralOfSquare(transit);
  const z = new Float64Array(n * n);
  const allSends = Math.max(1, sendTimes.length);
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < n; t++) {
      const e = (nSend[s] / allSends) * background[t];
      const v = e * f2;
      z[s * n + t] = v > 0 ? (S[s * n + t] - e) / Math.sqrt(v) : 0;
    }
  }
  const contacts: PairScore[] = [];
  const membership: PairScore[] = [];
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      if (a === b) continue;
      contacts.push({ a: sources[a], b: sources[b], score: z[a * n + b] });
      if (a < b) membership.push({ a: sources[a], b: sources[b], score: z[a * n + b] + z[b * n + a] });
    }
  }
  return { transit, contacts, membership };
}
