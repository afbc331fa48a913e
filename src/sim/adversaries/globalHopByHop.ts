/**
 * Global passive adversary, hop by hop (issue 8, item 5).
 *
 * Sees: every link event, nothing inside the nodes, the public parameters.
 * For EVERY CS→source delivery frame it traces the packet backwards through
 * each node it crossed: at a node, the output at time t came from one of
 * the node's inputs at s ≤ t with probability ∝ f(t − s), f that node's lag
 * model calibrated on the traffic (networkModel.ts). The route shape is
 * public (S → P1 → P2 ⇒ P3 → CS → T), so each backward step only considers
 * inputs from the right kind of node. Distributions are kept sparse: the
 * `beam` most likely ancestors per event, memoised per event.
 *
 * Joining copies at the fan-out: a fan-out turns one P1→P2 input into one
 * copy per member, so the deliveries of one message share their P2 input.
 * Tracing every delivery back to the P2 inputs gives each delivery a
 * likelihood over "bundle" events; an EM over bundle weights (a mixture
 * model where each bundle explains some number of deliveries) lets copies
 * that point at the same bundle reinforce each other, which is what joining
 * them buys. The sender posterior of a delivery is then
 * Σ_bundle r(bundle) · P(sender | bundle), the last factor from the bundle's
 * own backward trace to the S→P1 sends. Baseline: uniform over sources.
 */

import { getOrInsert } from '../getOrInsert.js';
import {
  type DelayKernel,
  guessFromWeights,
  kernelLogPdf,
  kernelSupport,
  lowerBound,
  sourceIds,
  subsampleByHash,
  upperBound,
} from './kernels.js';
import { calibrateNetwork, type NetworkModel, usefulLinks } from './networkModel.js';
import type { GlobalView, LinkEvent, Role, SenderGuess } from './observation.js';

export interface HopByHopOptions {
  /** Deliveries analysed at most (deterministic subsample by hash). Default 20 000. */
  maxEvents?: number;
  /** Ancestors kept per event and step (at most 63). Default 16. */
  beam?: number;
  /** EM iterations of the fan-out join. Default 12; 0 = no join (each copy on its own). */
  joinIterations?: number;
  /** Weight of "none of these inputs" relative to one well-placed input. Default 1e-3. */
  outlierWeight?: number;
}

export interface HopByHopResult {
  model: NetworkModel;
  candidates: string[];
  guesses: SenderGuess[];
  /** Deliveries whose most likely bundle was also the most likely bundle of another delivery. */
  joinedDeliveries: number;
}

/**
 * A sparse distribution over events, stored in the arena at [off, off + len), heaviest first,
 * encoded as one number (off · 64 + len; len ≤ MAX_BEAM) so that memo tables hold no objects.
 */
type Sparse = number;
const MAX_BEAM = 63;
const offOf = (s: Sparse) => Math.floor(s / 64);
const lenOf = (s: Sparse) => s % 64;

interface NodeInputs {
  times: Float64Array;
  /** Index into the event array. */
  index: Int32Array;
}

/** The k-th largest of a[0..n) (1-based k ≤ n), by quickselect; reorders a. */
function kthLargest(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return a[want];
  }
  return a[want];
}

export function globalHopByHop(view: GlobalView, options: HopByHopOptions = {}): HopByHopResult {
  const model = calibrateNetwork(view.public, view.links);
  const candidates = sourceIds(view.public.endpoints);
  const sourceIndex = new Map(candidates.map((s, i) => [s, i] as const));
  const beam = Math.min(MAX_BEAM, options.beam ?? 16);
  const eta = options.outlierWeight ?? 1e-3;
  const events = usefulLinks(view.links, view.public, model.roles);
  const byNode = new Map<string, number[]>();
  events.forEach((e, i) => {
    const a = getOrInsert(byNode, e.to, () => []);
    a.push(i);
  });
  const inputs = new Map<string, NodeInputs>();
  for (const [node, idx] of byNode) {
    idx.sort((a, b) => events[a].t - events[b].t);
    inputs.set(node, { times: Float64Array.from(idx, (i) => events[i].t), index: Int32Array.from(idx) });
  }
  const kernelOf = (node: string): DelayKernel | undefined =>
    node === model.central ? model.centralLag.kernel : model.proxies.get(node)?.kernel;

  const roleCode: Record<Role, number> = { central: 0, proxy: 1, source: 2 };
  const fromCode = Int8Array.from(events, (e) => {
    const r = model.roles.get(e.from);
    return r === undefined ? -1 : roleCode[r];
  });
  // Scratch accumulator over events (kept zero between uses), to merge sparse vectors without allocating maps.
  const scratch = new Float64Array(events.length);
  const touched: number[] = [];
  const add = (i: number, p: number) => {
    if (scratch[i] === 0) touched.push(i);
    scratch[i] += p;
  };
  // One arena for every sparse vector: small typed arrays per vector would keep the GC busy.
  let arenaIdx = new Int32Array(1 << 16);
  let arenaP = new Float64Array(1 << 16);
  let arenaLen = 0;
  const reserve = (k: number): number => {
    if (arenaLen + k > arenaIdx.length) {
      const size = Math.max(2 * arenaIdx.length, arenaLen + k);
      const idx = new Int32Array(size);
      idx.set(arenaIdx.subarray(0, arenaLen));
      const pp = new Float64Array(size);
      pp.set(arenaP.subarray(0, arenaLen));
      arenaIdx = idx;
      arenaP = pp;
    }
    const off = arenaLen;
    arenaLen += k;
    return off;
  };
  let values = new Float64Array(256);
  /** The `beam` heaviest touched entries, normalised by `z`; resets the scratch. */
  const collect = (z: number): Sparse => {
    if (touched.length > beam) {
      // Keep the heaviest `beam` without sorting everything: a threshold by selection, then a small sort.
      if (values.length < touched.length) values = new Float64Array(2 * touched.length);
      for (let i = 0; i < touched.length; i++) values[i] = scratch[touched[i]];
      const threshold = kthLargest(values, touched.length, beam);
      const kept: number[] = [];
      for (const i of touched) if (scratch[i] > threshold) kept.push(i);
      for (const i of touched) if (kept.length < beam && scratch[i] === threshold) kept.push(i);
      kept.sort((a, b) => scratch[b] - scratch[a]);
      for (const i of touched) if (!kept.includes(i)) scratch[i] = 0;
      touched.length = 0;
      touched.push(...kept);
    }
    const len = Math.min(beam, touched.length);
    const off = reserve(len);
    for (let i = 0; i < len; i++) {
      arenaIdx[off + i] = touched[i];
      arenaP[off + i] = scratch[touched[i]] / z;
    }
    for (const i of touched) scratch[i] = 0;
    touched.length = 0;
    return off * 64 + len;
  };

  /** One backward step: which input of e's sender caused e (inputs from `fromRole` only). */
  const parentMemo = new Map<number, Sparse>();
  const parents = (ei: number, want: number): Sparse => {
    const pkey = ei * 3 + want;
    const hit = parentMemo.get(pkey);
    if (hit) return hit;
    const e = events[ei];
    const k = kernelOf(e.from);
    const ins = inputs.get(e.from);
    let z = 1;
    if (k && ins) {
      const support = kernelSupport(k);
      z = eta / support;
      const lo = lowerBound(ins.times, e.t - support);
      let j = upperBound(ins.times, e.t) - 1;
      if (k.shape === 1) {
        // An exponential weighs inputs by recency: the `beam` most recent eligible inputs are the
        // heaviest, and the older ones add a tail ≈ ρ·e^{−(L − shift)/scale}, ρ the density of
        // eligible inputs seen so far, L the oldest lag taken.
        let taken = 0;
        let newest = Number.NaN;
        let oldest = Number.NaN;
        for (; j >= lo && taken < beam; j--) {
          const ci = ins.index[j];
          if (fromCode[ci] !== want) continue;
          const lag = e.t - ins.times[j];
          if (lag < k.shift) continue;
          const x = Math.exp(kernelLogPdf(k, lag));
          add(ci, x);
          z += x;
          taken++;
          if (Number.isNaN(newest)) newest = lag;
          oldest = lag;
        }
        if (taken === beam && j >= lo && oldest > newest) {
          z += ((taken - 1) / (oldest - newest)) * Math.exp(-(oldest - k.shift) / k.scale);
        }
      } else {
        for (; j >= lo; j--) {
          const ci = ins.index[j];
          if (fromCode[ci] !== want) continue;
          const x = Math.exp(kernelLogPdf(k, e.t - ins.times[j]));
          if (!(x > 0)) continue;
          add(ci, x);
          z += x;
        }
      }
    }
    const out = collect(z);
    parentMemo.set(pkey, out);
    return out;
  };

  /** Distribution over ancestors along `roles` from step `from` on, memoised per (chain, event, step). */
  const memo = new Map<number, Sparse>();
  const ancestors = (ei: number, roles: number[], from: number, chain: number): Sparse => {
    const key = (ei * 8 + from) * 2 + chain;
    const hit = memo.get(key);
    if (hit) return hit;
    if (from === roles.length) {
      add(ei, 1);
      const self = collect(1);
      memo.set(key, self);
      return self;
    }
    const par = parents(ei, roles[from]);
    // Children first (they use the scratch too), then merge.
    const parOff = offOf(par);
    const parLen = lenOf(par);
    const kids: Sparse[] = [];
    for (let a = 0; a < parLen; a++) kids.push(ancestors(arenaIdx[parOff + a], roles, from + 1, chain));
    for (let a = 0; a < parLen; a++) {
      const kidOff = offOf(kids[a]);
      const kidLen = lenOf(kids[a]);
      const pa = arenaP[parOff + a];
      for (let b = 0; b < kidLen; b++) add(arenaIdx[kidOff + b], pa * arenaP[kidOff + b]);
    }
    const kept = collect(1);
    memo.set(key, kept);
    return kept;
  };

  const { hops_after_fanout: after, hops_to_fanout: before } = view.public.network;
  // delivery ← CS input ← … ← P2's input (the bundle), then bundle ← … ← the S→P1 send.
  const P = roleCode.proxy;
  const S = roleCode.source;
  const toBundle: number[] = [...Array(after).fill(P), before >= 2 ? P : S];
  const bundleToSend: number[] = before >= 2 ? [...Array(before - 2).fill(P), S] : [];
  const senderMemo = new Map<number, Float64Array>();
  const senderOf = (bi: number): Float64Array => {
    const hit = senderMemo.get(bi);
    if (hit) return hit;
    const v = new Float64Array(candidates.length);
    const a = ancestors(bi, bundleToSend, 0, 1);
    for (let i = offOf(a); i < offOf(a) + lenOf(a); i++) {
      const who = sourceIndex.get(events[arenaIdx[i]].from);
      if (who !== undefined) v[who] += arenaP[i];
    }
    senderMemo.set(bi, v);
    return v;
  };

  const deliveries: Array<{ e: LinkEvent; i: number }> = [];
  events.forEach((e, i) => {
    if (e.from === model.central && model.roles.get(e.to) === 'source') deliveries.push({ e, i });
  });
  const wanted = new Set(
    subsampleByHash(
      deliveries.map((d) => d.e),
      options.maxEvents ?? 20_000,
    ).map((e) => e.hash),
  );
  const chosen = deliveries.filter((d) => wanted.has(d.e.hash));
  // Copy each delivery's bundle likelihood out of the arena (it may move as it grows).
  const likelihood = chosen.map((d) => {
    const a = ancestors(d.i, toBundle, 0, 0);
    return { idx: arenaIdx.slice(offOf(a), offOf(a) + lenOf(a)), p: arenaP.slice(offOf(a), offOf(a) + lenOf(a)) };
  });

  // EM over bundle weights: responsibilities r(d, b) ∝ L(d, b) · w(b); w(b) = Σ_d r(d, b).
  const weight = new Float64Array(events.length);
  for (const l of likelihood) for (const b of l.idx) weight[b] = 1;
  const iterations = options.joinIterations ?? 12;
  const resp = likelihood.map((l) => Float64Array.from(l.p));
  for (let it = 0; it < iterations; it++) {
    likelihood.forEach((l, d) => {
      let z = 0;
      let mass = 0;
      for (let i = 0; i < l.idx.length; i++) {
        z += l.p[i] * weight[l.idx[i]];
        mass += l.p[i];
      }
      // Mass the trace lost (pruned, or no parent) stays lost; the rest is redistributed.
      for (let i = 0; i < l.idx.length; i++) resp[d][i] = z > 0 ? (mass * l.p[i] * weight[l.idx[i]]) / z : 0;
    });
    for (const l of likelihood) for (const b of l.idx) weight[b] = 1e-9;
    likelihood.forEach((l, d) => {
      for (let i = 0; i < l.idx.length; i++) weight[l.idx[i]] += resp[d][i];
    });
  }

  const best = likelihood.map((l, d) => {
    let arg = -1;
    let max = 0;
    for (let i = 0; i < l.idx.length; i++) if (resp[d][i] > max) [arg, max] = [l.idx[i], resp[d][i]];
    return arg;
  });
  const bestCount = new Map<number, number>();
  for (const b of best) if (b >= 0) bestCount.set(b, (bestCount.get(b) ?? 0) + 1);
  const joinedDeliveries = best.filter((b) => b >= 0 && (bestCount.get(b) ?? 0) > 1).length;

  const guesses: SenderGuess[] = [];
  const w = new Float64Array(candidates.length);
  chosen.forEach((d, k) => {
    w.fill(1e-12);
    const l = likelihood[k];
    for (let j = 0; j < l.idx.length; j++) {
      const s = senderOf(l.idx[j]);
      for (let i = 0; i < s.length; i++) w[i] += resp[k][j] * s[i];
    }
    guesses.push(guessFromWeights(d.e.hash, candidates, w));
  });
  return { model, candidates, guesses, joinedDeliveries };
}
