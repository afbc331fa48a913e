/**
 * Analysis of an active attack on the edge links (n−1, hold-and-flush).
 *
 * Sees: source→proxy sends that entered the network (after the attacker's
 * drops; held packets at their release), CS→source deliveries, the public
 * parameters and the attacker's own action log. No truth.
 *
 * Each delivery gets pTarget = A / (A + B), where A and B are the transit
 * densities (public μ, shifted by the lag the edge traffic shows) summed
 * over the target's and everyone else's admitted sends. Outside the attack
 * this is the end-to-end observer's posterior; in an n−1 window B collapses
 * because everyone else was blocked, and after a flush A spikes. A
 * recipient's contact score is how far the pTarget of its deliveries sums
 * above what the average pTarget predicts (a z-score).
 */

import {
  calibrateDelay,
  centralPriorLagMs,
  type DelayKernel,
  isDeliveryFrame,
  isMixPacket,
  kernelLogPdf,
  kernelSupport,
  lowerBound,
  publicHopKernel,
  sourceIds,
  sumOfStages,
} from './kernels.js';
import type { ActiveView, AttributionGuess, PairScore } from './observation.js';

export interface ActiveResult {
  attack: string;
  target: string;
  transit: DelayKernel;
  attributions: AttributionGuess[];
  /** target → each other source. */
  contacts: PairScore[];
  /** Others' first-hop packets the attacker dropped, and their share of all others' first-hop packets. */
  othersDropped: number;
  othersDroppedShare: number;
  held: number;
  /** When the attack began (its first action). */
  startMs: number;
}

export function activeAnalysis(view: ActiveView): ActiveResult {
  const net = view.public.network;
  const sends = view.sends.filter((e) => isMixPacket(e, net));
  const deliveries = view.deliveries.filter((e) => isDeliveryFrame(e, net));
  const mixDelays = net.hops_to_fanout + net.hops_after_fanout - 1;
  const publicTransit = sumOfStages([
    ...Array(mixDelays).fill(publicHopKernel(net.mu_ms)),
    publicHopKernel(centralPriorLagMs(net)),
  ]);
  const sendTimes = Float64Array.from(sends, (e) => e.t);
  const cal = calibrateDelay(
    sendTimes,
    Float64Array.from(deliveries, (e) => e.t),
    publicTransit.shape * publicTransit.scale,
    kernelSupport(publicTransit),
  );
  const transit: DelayKernel = { ...publicTransit, shift: cal.calibrated ? cal.kernel.shift : 0 };
  const support = kernelSupport(transit);
  const floor = 1e-3 / support;
  const attributions: AttributionGuess[] = [];
  for (const d of deliveries) {
    let a = 0;
    let b = floor;
    for (let i = lowerBound(sendTimes, d.t - support); i < sends.length && sendTimes[i] <= d.t; i++) {
      const x = Math.exp(kernelLogPdf(transit, d.t - sendTimes[i]));
      if (sends[i].from === view.target) a += x;
      else b += x;
    }
    attributions.push({ event: d.hash, pTarget: a / (a + b) });
  }
  let mean = 0;
  for (const x of attributions) mean += x.pTarget;
  mean /= Math.max(1, attributions.length);
  const sum = new Map<string, { s: number; n: number }>();
  deliveries.forEach((d, i) => {
    const acc = sum.get(d.to) ?? { s: 0, n: 0 };
    acc.s += attributions[i].pTarget;
    acc.n++;
    sum.set(d.to, acc);
  });
  const contacts: PairScore[] = sourceIds(view.public.endpoints)
    .filter((s) => s !== view.target)
    .map((s) => {
      const acc = sum.get(s) ?? { s: 0, n: 0 };
      const v = acc.n * mean * (1 - mean);
      return { a: view.target, b: s, score: v > 0 ? (acc.s - acc.n * mean) / Math.sqrt(v) : 0 };
    });
  const othersDropped = view.actions.filter((a) => a.action === 'drop').length;
  const othersAdmitted = sends.filter((e) => e.from !== view.target).length;
  return {
    attack: view.attack,
    target: view.target,
    transit,
    attributions,
    contacts,
    othersDropped,
    othersDroppedShare: othersDropped / Math.max(1, othersDropped + othersAdmitted),
    held: view.actions.filter((a) => a.action === 'hold').length,
    startMs: view.actions.length ? view.actions[0].t : view.public.startMs,
  };
}
