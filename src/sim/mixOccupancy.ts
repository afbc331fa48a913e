/**
 * How full each mix was: the observed per-hop delay and the mean number of
 * packets inside each proxy (Little's law, L = λ·W), printed next to μ and
 * λ. Loopix treats about 2 packets per mix as the knee below which a Poisson
 * mix mixes little. Measured from link times, paired input → output by the
 * nodes' own observations (which input each output came from) when the
 * trace has them; otherwise from link events alone: W from the input/output
 * cross-correlogram (kernels.ts, calibrateDelay), L = λ_in · W. This is a
 * measurement of the run, not an adversary.
 */

import { calibrateDelay, hopWindowMs, kernelMean } from './adversaries/kernels.js';
import type { Endpoint, LinkEvent, NodeObservation } from './adversaries/observation.js';
import { getOrInsert } from './getOrInsert.js';

/** Loopix's knee: fewer packets than this in a mix on average mixes poorly. */
export const MIX_KNEE_PACKETS = 2;

export interface MixLoad {
  node: string;
  /** Packets processed per second. */
  inputsPerS: number;
  /** Mean time from a packet's arrival on the link to its successor leaving (ms), relay and fan-out outputs. */
  perHopDelayMs: number;
  /** Mean number of packets inside the node (Σ residence / observed time). */
  meanPackets: number;
  /** Outputs paired with their input (the sample behind the two means); 0 when estimated from link timing. */
  pairs: number;
  /** How W was measured: pairing by the node's own records, or link timing alone (then L = λ·W). */
  method: 'node-records' | 'link-timing';
}

export interface MixLoadSummary {
  proxies: MixLoad[];
  /** Outputs-weighted mean over proxies. */
  perHopDelayMs: number;
  /** Mean over proxies. */
  meanPackets: number;
  /** Proxies below MIX_KNEE_PACKETS. */
  belowKnee: number;
}

export function mixLoad(
  endpoints: Endpoint[],
  links: LinkEvent[],
  obs: NodeObservation[],
  startMs: number,
  endMs: number,
  muMs = 0,
): MixLoadSummary {
  const linkTime = new Map<string, number>();
  for (const e of links) if (!linkTime.has(e.hash)) linkTime.set(e.hash, e.t);
  const T = Math.max(1, endMs - startMs);
  const proxies: MixLoad[] = [];
  const byNode = new Map<string, NodeObservation[]>();
  for (const o of obs) {
    const a = getOrInsert(byNode, o.node, () => []);
    a.push(o);
  }
  for (const ep of endpoints) {
    if (ep.role !== 'proxy') continue;
    let inputs = 0;
    let pairs = 0;
    let delaySum = 0;
    let residence = 0;
    for (const o of byNode.get(ep.id) ?? []) {
      const tin = o.in === undefined ? undefined : linkTime.get(o.in);
      if (o.in !== undefined) inputs++;
      const from = tin ?? o.t;
      if (!o.out || o.out.length === 0) {
        if (tin !== undefined) residence += Math.max(0, o.t - tin);
        continue;
      }
      for (const x of o.out) {
        const tout = linkTime.get(x.hash);
        if (tout === undefined) continue;
        // Clip to the observed interval so packets straddling its ends count only inside it.
        residence += Math.max(0, Math.min(tout, endMs) - Math.max(from, startMs));
        if (tin !== undefined) {
          delaySum += tout - tin;
          pairs++;
        }
      }
    }
    if (pairs === 0) {
      proxies.push(fromLinkTiming(ep.id, links, startMs, endMs, muMs));
      continue;
    }
    proxies.push({
      node: ep.id,
      inputsPerS: (inputs * 1000) / T,
      perHopDelayMs: delaySum / pairs,
      meanPackets: residence / T,
      pairs,
      method: 'node-records',
    });
  }
  let w = 0;
  let d = 0;
  for (const p of proxies) {
    w += p.pairs;
    d += p.perHopDelayMs * p.pairs;
  }
  return {
    proxies,
    perHopDelayMs: w ? d / w : 0,
    meanPackets: proxies.length ? proxies.reduce((s, p) => s + p.meanPackets, 0) / proxies.length : 0,
    belowKnee: proxies.filter((p) => p.meanPackets < MIX_KNEE_PACKETS).length,
  };
}

/** W from the node's input/output timing alone, L = λ_in · W (Little's law). */
function fromLinkTiming(node: string, links: LinkEvent[], startMs: number, endMs: number, muMs: number): MixLoad {
  const ins: number[] = [];
  const outs: number[] = [];
  for (const e of links) {
    if (e.t < startMs || e.t > endMs) continue;
    if (e.to === node) ins.push(e.t);
    else if (e.from === node) outs.push(e.t);
  }
  const c = calibrateDelay(Float64Array.from(ins).sort(), Float64Array.from(outs).sort(), muMs, hopWindowMs(muMs));
  const w = kernelMean(c.kernel);
  const rate = ins.length / Math.max(1, endMs - startMs);
  return {
    node,
    inputsPerS: rate * 1000,
    perHopDelayMs: w,
    meanPackets: rate * w,
    pairs: 0,
    method: 'link-timing',
  };
}
